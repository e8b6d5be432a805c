"""Dawid-Skene EM across the partitions of a cluster.

The partitions' votes are first gathered into groups of consecutive partitions,
one per worker by default (each EM iteration costs a scheduler task per group,
so a few large groups beat many small ones). Each group keeps its cells' votes
(coded over the *global* annotator list) on its worker; nothing else is kept
between iterations. Per iteration one task per group runs the E-step under the
client's model (and under the previous one, for the convergence test) and
returns the M-step's sufficient statistics (expected alive votes per annotator
and answer, with and without each vote's own evidence, the sum of posteriors,
the number of cells, all over the cells with two votes or more); the client
adds them up and runs the M-step of :mod:`cellconsensus.labels.dawid_skene`
itself (pooled confusion, learnt strength, annotator confusions). Every task is
a pure function of the votes and a model: a worker lost mid-way is recomputed
by Dask. The arithmetic is that of the single-machine aggregator; only the order
of the sums differs. For another label set than alive / dead the same loop runs the
K-class steps of :mod:`cellconsensus.labels.dawid_skene_classes` (posteriors are
rows of K probabilities, the statistics are per class).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..labels import DawidSkeneAggregator, MeanAggregator
from ..labels.dawid_skene_classes import (
    ClassMStep,
    class_e_step,
    class_m_step,
    class_statistics,
)
from ..labels.dawid_skene_em import MStep, e_step, m_step, statistics, vote_totals

__all__ = ["fit_dawid_skene", "posteriors"]

logger = logging.getLogger(__name__)


@dataclass
class _Votes:
    """A group's votes (fixed for the whole EM)."""

    task: np.ndarray
    column: np.ndarray  # annotator * (K + 1) + answer, per vote
    informative: np.ndarray  # cells with two votes or more: they teach the model
    total: np.ndarray  # all votes per (annotator, answer) on those cells (two classes)
    start: np.ndarray  # the posteriors EM starts from (the mean rule)
    n_workers: int
    n_classes: int | None  # None: alive / dead, the two-class steps

    def taught(self) -> tuple[np.ndarray, np.ndarray]:
        """``column`` and ``task`` of the votes on informative cells."""
        used = self.informative[self.task]
        return self.column[used], self.task[used]

    def p(self, fit: MStep | None) -> np.ndarray:
        """Posteriors under ``fit`` (None: the start)."""
        return self.start if fit is None else _e_step(self.task, self.column, len(self.start), fit)


def _e_step(task: np.ndarray, column: np.ndarray, n_tasks: int, fit: MStep) -> np.ndarray:
    step = class_e_step if isinstance(fit, ClassMStep) else e_step
    return step(task, column, n_tasks, fit)


def _init(
    votes: list, n_cells: list[int], annotators: pd.Index, n_classes: int | None = None
) -> _Votes:
    """The votes of a group of partitions in one table, tasks offset so that partition
    ``k``'s cells follow those of the partitions before it. ``votes`` are DataFrames, or
    partition results holding one as ``.votes``; ``n_classes`` (None: alive / dead) sets
    the answer codes ``0 .. K`` (K: unsure)."""
    votes = [getattr(v, "votes", v) for v in votes]
    offsets = np.cumsum([0, *n_cells[:-1]]).astype(np.int64)
    task = np.concatenate(
        [v["task"].to_numpy(np.int64) + o for v, o in zip(votes, offsets, strict=True)]
    )
    ids = np.concatenate([v["annotator_id"].astype(str).to_numpy(object) for v in votes])
    worker = annotators.get_indexer(ids).astype(np.int64)
    label = np.concatenate([v["answer"].to_numpy(np.int64) for v in votes])
    n = int(sum(n_cells))
    informative = np.bincount(task, minlength=n) >= 2
    if n_classes is None:
        start = MeanAggregator().fit_arrays(task, worker, label, n)
        column = worker * 3 + label
    else:
        start = MeanAggregator()._fit_classes(task, worker, label, n, n_classes)
        column = worker * (n_classes + 1) + label
    group = _Votes(task, column, informative, np.zeros(0), start, len(annotators), n_classes)
    if n_classes is None:
        group.total = vote_totals(group.taught()[0], group.n_workers)
    return group


def posteriors(group: _Votes, fit: MStep | None, start: int, stop: int) -> np.ndarray:
    """``p_alive`` (for K classes: the ``(n, K)`` class probabilities) under ``fit`` of
    cells ``start:stop`` of a group (one partition's cells): the E-step of those cells'
    votes only, not of the whole group once per partition."""
    if fit is None:
        return group.start[start:stop]
    mine = (group.task >= start) & (group.task < stop)
    return _e_step(group.task[mine] - start, group.column[mine], stop - start, fit)


def _statistics(group: _Votes, fit: MStep | None, previous: MStep | None, first: bool):
    """The M-step's statistics at the posteriors under ``fit``, and how far they moved from
    those under ``previous`` (``first``: the start, with the fixed vote totals)."""
    p = group.p(fit)
    delta = 0.0 if first or not len(p) else float(np.abs(p - group.p(previous)).max())
    column, task = group.taught()
    if group.n_classes is not None:
        size = group.n_workers * (group.n_classes + 1)
        table = None if fit is None else fit.log_table
        counts, cavity, p_sum, n = class_statistics(column, task, p, group.informative, size, table)
        return counts, cavity, p_sum, n, delta, None
    llr = None if fit is None else fit.llr_table
    alive, cavity, p_sum, n = statistics(column, task, p, group.informative, group.n_workers, llr)
    return alive, cavity, p_sum, n, delta, group.total if first else None


def _reduce(client, groups, fit, previous, first=False):
    parts = client.gather(
        client.map(_statistics, groups, fit=fit, previous=previous, first=first, pure=False)
    )
    alive, cavity, p_sum, n, delta, total = zip(*parts, strict=True)
    return (
        np.sum(alive, axis=0),
        np.sum(cavity, axis=0),
        np.sum(p_sum, axis=0),  # a number for two classes, a vector (K,) for more
        int(sum(n)),
        float(max(delta)),
        np.sum(total, axis=0) if first and total[0] is not None else None,
    )


def fit_dawid_skene(
    client,
    votes: list,
    n_cells: list,
    annotators: pd.Index,
    aggregator: DawidSkeneAggregator,
    n_groups: int | None = None,
    n_classes: int | None = None,
) -> list:
    """Run Dawid-Skene over votes held by the workers.

    Parameters
    ----------
    client : distributed.Client
        The cluster to run on.
    votes : list of Future
        Per partition, a DataFrame ``task`` (row of the partition's cells),
        ``annotator_id``, ``answer`` (0 alive, 1 dead, 2 unsure; for K classes the
        class's index, K unsure), or a result
        holding one as ``.votes``.
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
    n_classes : int, optional
        K for another label set than alive / dead (answers ``0 .. K``, K unsure):
        the K-class steps run; None: alive / dead.

    Returns
    -------
    list of tuple
        Per partition, the arguments of :func:`posteriors` (its group's future, the
        fitted model, the rows of its cells there), so that ``p_alive`` is computed
        where it is needed, without a task of its own.
    """
    aggregator._validate_params()
    if not votes:
        return []
    n_groups = n_groups or max(1, len(client.scheduler_info()["workers"]))
    groups = [g.tolist() for g in np.array_split(np.arange(len(votes)), min(n_groups, len(votes)))]
    held = [
        client.submit(
            _init, [votes[i] for i in g], [n_cells[i] for i in g], annotators, n_classes, pure=False
        )  # fmt: skip
        for g in groups
    ]

    def refit(alive, cavity, p_sum, n_total) -> MStep:
        if n_classes is not None:
            return class_m_step(alive, cavity, p_sum, n_total, aggregator.shrinkage)
        return m_step(alive, cavity, total, float(p_sum), n_total, aggregator.shrinkage)

    alive, cavity, p_sum, n_total, _, total = _reduce(client, held, None, None, first=True)
    aggregator.n_iter_, aggregator.converged_ = 0, True
    fit = refit(alive, cavity, p_sum, n_total)
    used: MStep | None = None  # the model of the posteriors (None: the mean rule)
    if n_total:
        for _ in range(aggregator.max_iter):
            aggregator.n_iter_ += 1
            alive, cavity, p_sum, _, delta, _ = _reduce(client, held, fit, used)
            used = fit
            if delta <= aggregator.tol:
                break
            if aggregator.n_iter_ == aggregator.max_iter:
                aggregator.converged_ = False
                break
            fit = refit(alive, cavity, p_sum, n_total)
    logger.info(
        "distributed Dawid-Skene: %d iterations, converged: %s",
        aggregator.n_iter_,
        aggregator.converged_,
    )
    fit.store(aggregator)
    aggregator.annotators_ = annotators
    parts = []
    for group, future in zip(groups, held, strict=True):
        bounds = np.cumsum([0, *[n_cells[i] for i in group]]).tolist()
        parts += [(future, used, a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return parts
