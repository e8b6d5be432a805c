"""The annotator model (``support_rule="model"``) across the partitions of a cluster.

Each partition's candidates (clusters and lone clicks, annotators coded over the
crowd's sorted ids) stay on a worker, in groups of consecutive partitions, one
group per worker by default (every iteration costs a scheduler task per group);
nothing else is kept between iterations. Per iteration one task per group runs
the E-step under the client's model (and under the previous one, for the
convergence test) and returns the M-step's sufficient statistics
(:class:`~cellconsensus.cell_model_em.CellStatistics`), which the client adds up
and hands to the one EM of :func:`cellconsensus.cell_model_em.run_em`: the
arithmetic of one process, in another order of the sums. Every task is a pure
function of the candidates and a model: a worker lost mid-way is recomputed by
Dask.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..cell_model import (
    CandidateCells,
    CellFit,
    CellStatistics,
    cell_statistics,
    e_step,
    run_em,
)
from ..support import model_candidates

__all__ = ["ModelState", "fit_support_model", "posteriors_of"]

logger = logging.getLogger(__name__)


@dataclass
class ModelState:
    """A partition's candidates, where EM starts, and (once known) their posteriors."""

    candidate: np.ndarray  # per click: its candidate, -1 for none
    candidates: CandidateCells
    start: np.ndarray

    def r(self, fit: CellFit | None) -> np.ndarray:
        """Posteriors of being real under ``fit`` (None: the start)."""
        return self.start if fit is None else e_step(self.candidates, fit)


def _start(drafted: list, annotators: pd.Index) -> list[ModelState]:
    states = []
    for d in drafted:
        candidate, candidates, start = model_candidates(d.draft, d.clicks, d.keep, annotators)
        states.append(ModelState(candidate, candidates, start))
    return states


def _model_statistics(
    group: list[ModelState], fit: CellFit | None, previous: CellFit | None
) -> CellStatistics:
    parts = []
    for state in group:
        r = state.r(fit)
        moved = np.abs(r - state.r(previous)).max() if fit is not None and len(r) else 0.0
        parts.append(cell_statistics(state.candidates, r, float(moved)))
    return CellStatistics.total(parts)


def posteriors_of(
    group: list[ModelState], member: int, fit: CellFit
) -> tuple[np.ndarray, np.ndarray]:
    """Partition ``member`` of a group: each click's candidate, and every candidate's
    posterior of being real under ``fit``."""
    state = group[member]
    return state.candidate, state.r(fit)


def fit_support_model(
    client, drafted: list, annotators: pd.Index, n_groups: int | None = None
) -> list:
    """Fit the annotator model over the partitions' drafts.

    Parameters
    ----------
    client : distributed.Client
        The cluster to run on.
    drafted : list of Future
        Per partition, the engine's draft (``draft``, ``clicks``, ``keep``).
    annotators : Index
        Every annotator id (str), sorted.
    n_groups : int, optional
        Groups of consecutive partitions the EM runs on (default: one per worker); the
        sums are the same in any grouping up to their order.

    Returns
    -------
    list of tuple
        Per partition, the arguments of :func:`posteriors_of` (its group's future, its
        place in the group, the fitted model).
    """
    if not drafted:
        return []
    n_groups = n_groups or max(1, len(client.scheduler_info()["workers"]))
    groups = [
        g.tolist() for g in np.array_split(np.arange(len(drafted)), min(n_groups, len(drafted)))
    ]
    held = [client.submit(_start, [drafted[i] for i in g], annotators, pure=False) for g in groups]
    used: list[CellFit | None] = [None]

    def step(fit: CellFit | None) -> CellStatistics:
        stats = client.gather(
            client.map(_model_statistics, held, fit=fit, previous=used[0], pure=False)
        )
        used[0] = fit
        return CellStatistics.total(stats)

    fit, n_iter = run_em(step, len(annotators))
    logger.info("distributed annotator model: %d iterations", n_iter)
    return [(future, j, fit) for g, future in zip(groups, held, strict=True) for j in range(len(g))]
