"""Dawid-Skene EM across the partitions of a cluster.

The partitions' votes are first gathered into groups of consecutive partitions,
one per worker by default (each EM iteration costs a scheduler task per group,
so a few large groups beat many small ones). Each group keeps its cells' votes
(coded over the *global* annotator list) and posteriors on its worker. Per
iteration the workers run the E-step
and return the M-step's sufficient statistics (expected alive votes per
annotator and answer, with and without each vote's own evidence, the sum of posteriors, the number of cells, all over
the cells with two votes or more); the client adds them up and runs the
M-step of :mod:`cellconsensus.labels.dawid_skene` itself (pooled confusion,
learnt strength, annotator confusions). The arithmetic is
that of the single-machine aggregator; only the order of the sums differs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..labels import DawidSkeneAggregator, MeanAggregator
from ..labels.dawid_skene_em import MStep, e_step, m_step, statistics, vote_totals

__all__ = ["fit_dawid_skene"]

logger = logging.getLogger(__name__)


@dataclass
class _State:
    task: np.ndarray
    column: np.ndarray  # annotator * 3 + answer, per vote
    informative: np.ndarray  # cells with two votes or more: they teach the model
    total: np.ndarray  # all votes per (annotator, answer) on those cells: fixed, summed once
    p: np.ndarray
    n_workers: int
    delta: float = np.inf
    fit: MStep | None = None  # the model that gave ``p`` (None: the mean rule)

    def taught(self) -> tuple[np.ndarray, np.ndarray]:
        """``column`` and ``task`` of the votes on informative cells."""
        used = self.informative[self.task]
        return self.column[used], self.task[used]


def _init(votes: list[pd.DataFrame], n_cells: list[int], annotators: pd.Index) -> _State:
    """The state of a group of partitions: their votes in one table, tasks offset so that
    partition ``k``'s cells follow those of the partitions before it."""
    offsets = np.cumsum([0, *n_cells[:-1]]).astype(np.int64)
    task = np.concatenate(
        [v["task"].to_numpy(np.int64) + o for v, o in zip(votes, offsets, strict=True)]
    )
    ids = np.concatenate([v["annotator_id"].astype(str).to_numpy(object) for v in votes])
    worker = annotators.get_indexer(ids).astype(np.int64)
    label = np.concatenate([v["answer"].to_numpy(np.int64) for v in votes])
    n = int(sum(n_cells))
    p = MeanAggregator()._fit_arrays(task, worker, label, n)
    column = worker * 3 + label
    state = _State(task, column, np.bincount(task, minlength=n) >= 2, None, p, len(annotators))
    state.total = vote_totals(state.taught()[0], state.n_workers)
    return state


def _slice(state: _State, start: int, stop: int) -> np.ndarray:
    return state.p[start:stop]


def _step(state: _State, fit: MStep) -> _State:
    new = e_step(state.task, state.column, len(state.p), fit)
    delta = float(np.abs(new - state.p).max()) if len(new) else 0.0
    return replace(state, p=new, delta=delta, fit=fit)


def _statistics(state: _State) -> tuple[np.ndarray, np.ndarray, float, int, float]:
    column, task = state.taught()
    llr = None if state.fit is None else state.fit.llr_table
    alive, cavity, p_sum, n = statistics(
        column, task, state.p, state.informative, state.n_workers, llr
    )
    return alive, cavity, p_sum, n, state.delta


def _reduce(client, states) -> tuple[np.ndarray, np.ndarray, float, int, float]:
    parts = client.gather(client.map(_statistics, states, pure=False))
    alive, cavity, p_sum, n, delta = zip(*parts, strict=True)
    return (
        np.sum(alive, axis=0),
        np.sum(cavity, axis=0),
        float(sum(p_sum)),
        int(sum(n)),
        float(max(delta)),
    )


def fit_dawid_skene(
    client,
    votes: list,
    n_cells: list,
    annotators: pd.Index,
    aggregator: DawidSkeneAggregator,
    n_groups: int | None = None,
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
        Its parameters are used; ``priors_``, ``errors_``, ``n_iter_``,
        ``converged_`` and ``annotators_`` are set.
    n_groups : int, optional
        The EM runs on this many groups of consecutive partitions (default: one per
        worker): every iteration costs a task per group, so fewer, larger groups
        spend less in the scheduler; the sums are the same up to their order.

    Returns
    -------
    list of Future
        ``p_alive`` arrays aligned with each partition's cells.
    """
    aggregator._validate_params()
    if not votes:
        return []
    n_groups = n_groups or max(1, len(client.scheduler_info()["workers"]))
    groups = [g.tolist() for g in np.array_split(np.arange(len(votes)), min(n_groups, len(votes)))]
    states = [
        client.submit(_init, [votes[i] for i in g], [n_cells[i] for i in g], annotators, pure=False)
        for g in groups
    ]
    total = np.sum(client.gather(client.map(lambda s: s.total, states, pure=False)), axis=0)
    alive, cavity, p_sum, n_total, _ = _reduce(client, states)
    aggregator.n_iter_, aggregator.converged_ = 0, True
    fit = m_step(alive, cavity, total, p_sum, n_total, aggregator.shrinkage)
    if n_total:
        for _ in range(aggregator.max_iter):
            aggregator.n_iter_ += 1
            states = client.map(_step, states, fit=fit, pure=False)
            alive, cavity, p_sum, _, delta = _reduce(client, states)
            if delta <= aggregator.tol:
                break
            if aggregator.n_iter_ == aggregator.max_iter:
                aggregator.converged_ = False
                break
            fit = m_step(alive, cavity, total, p_sum, n_total, aggregator.shrinkage)
    logger.info(
        "distributed Dawid-Skene: %d iterations, converged: %s",
        aggregator.n_iter_,
        aggregator.converged_,
    )
    fit.store(aggregator)
    aggregator.annotators_ = annotators
    parts = []
    for group, state in zip(groups, states, strict=True):
        bounds = np.cumsum([0, *[n_cells[i] for i in group]]).tolist()
        parts += [
            client.submit(_slice, state, a, b, pure=False)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
    return parts
