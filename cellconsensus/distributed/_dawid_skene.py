"""Dawid-Skene EM across the partitions of a cluster.

Each partition keeps its cells' votes (a sparse task x (annotator, answer)
matrix over the *global* annotator list) and posteriors on its worker. Per
iteration the workers run the E-step and return the M-step's sufficient
statistics (expected alive votes per annotator and answer, the sum of
posteriors, the number of cells); the client adds them up and runs the
M-step of :mod:`cellconsensus.labels.dawid_skene` itself. The arithmetic is
that of the single-machine aggregator; only the order of the sums differs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from ..labels import DawidSkeneAggregator, MeanAggregator
from ..labels.dawid_skene import e_step, m_step, vote_matrix

__all__ = ["fit_dawid_skene"]

logger = logging.getLogger(__name__)


@dataclass
class _State:
    votes: csr_matrix
    votes_t: csr_matrix
    total: np.ndarray  # all votes per (annotator, answer): fixed, summed once
    p: np.ndarray
    delta: float = np.inf


def _init(votes: pd.DataFrame, n_cells: int, annotators: pd.Index) -> _State:
    task = votes["task"].to_numpy(np.int64)
    worker = annotators.get_indexer(votes["annotator_id"].astype(str))
    label = votes["answer"].to_numpy(np.int64)
    p = MeanAggregator()._fit_arrays(task, worker, label, n_cells)
    matrix = vote_matrix(task, worker, label, n_cells, len(annotators))
    return _State(matrix, matrix.T.tocsr(), np.asarray(matrix.sum(axis=0)).ravel(), p)


def _step(state: _State, prior: float, errors: np.ndarray) -> _State:
    new = e_step(state.votes, prior, errors) if len(state.p) else state.p
    delta = float(np.abs(new - state.p).max()) if len(new) else 0.0
    return _State(state.votes, state.votes_t, state.total, new, delta)


def _statistics(state: _State) -> tuple[np.ndarray, float, int, float]:
    return state.votes_t @ state.p, float(state.p.sum()), len(state.p), state.delta


def _reduce(client, states) -> tuple[np.ndarray, float, int, float]:
    parts = client.gather(client.map(_statistics, states, pure=False))
    return (
        np.sum([a for a, *_ in parts], axis=0),
        float(sum(s for _, s, _, _ in parts)),
        int(sum(n for *_, n, _ in parts)),
        float(max(d for *_, d in parts)),
    )


def fit_dawid_skene(
    client, votes: list, n_cells: list, annotators: pd.Index, aggregator: DawidSkeneAggregator
) -> list:
    """Run Dawid-Skene over votes held by the workers; return futures of ``p_alive`` per partition.

    Parameters
    ----------
    client : distributed.Client
        The cluster to run on.
    votes : list of Future
        Per partition, a DataFrame ``task`` (row of the partition's cells),
        ``annotator_id``, ``answer`` (0 alive, 1 dead, 2 unsure).
    n_cells : list of int
        Cells per partition.
    annotators : Index
        Every annotator id (str), sorted: rows of ``aggregator.errors_``.
    aggregator : DawidSkeneAggregator
        Its parameters are used; ``priors_``, ``errors_``, ``n_iter_`` and
        ``annotators_`` are set.

    Returns
    -------
    list of Future
        ``p_alive`` arrays aligned with each partition's cells.
    """
    aggregator._validate_params()
    states = [
        client.submit(_init, v, n, annotators, pure=False)
        for v, n in zip(votes, n_cells, strict=True)
    ]
    total = np.sum(client.gather(client.map(lambda s: s.total, states, pure=False)), axis=0)
    alive, p_sum, n_total, _ = _reduce(client, states)
    aggregator.n_iter_ = 0
    prior, errors = 0.5, np.zeros((len(annotators), 2, 3))
    if n_total:
        for _ in range(aggregator.max_iter):
            aggregator.n_iter_ += 1
            prior, errors = m_step(alive, total, p_sum, n_total, aggregator.smoothing)
            states = client.map(_step, states, prior=prior, errors=errors, pure=False)
            alive, p_sum, _, delta = _reduce(client, states)
            if delta <= aggregator.tol:
                break
    logger.info("distributed Dawid-Skene: %d iterations", aggregator.n_iter_)
    aggregator.priors_ = np.array([prior, 1 - prior])
    aggregator.errors_ = errors
    aggregator.annotators_ = annotators
    return client.map(lambda s: s.p, states, pure=False)
