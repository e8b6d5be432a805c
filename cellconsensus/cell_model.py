"""Which candidate cells are real: annotator detection and stray-click rates learnt by EM.

A candidate cell is a cluster of clicks (or a lone click) on an image worked
on by a set of annotators. The fixed support rule keeps a candidate when
enough of them clicked it; this model asks *who* clicked it. Each annotator
``w`` clicks a real cell with probability ``detection[w]`` and a place where
there is no cell with probability ``stray[w]``; a candidate is real with
prior ``prior``. A candidate exists only because somebody clicked it, so both
likelihoods are zero-truncated (divided by the chance that at least one of
the image's annotators clicks):

``P(clickers | real) = prod_{w in C} d_w prod_{w in A - C} (1 - d_w) / (1 - prod_{w in A} (1 - d_w))``

and the same with the stray rates for a candidate that is not a cell (whose
level is bounded by :data:`STRAY_LEVEL`: only who strays more is learnt). EM
alternates the posteriors of the candidates and the rates (the exact EM of a
zero-truncated model: each real candidate stands for ``1 / (1 - q)`` cells,
``q`` the chance that every annotator of its image misses a cell).

The EM itself, over statistics that add up across groups of candidates (one
process, or the partitions of a Dask cluster), is in
:mod:`cellconsensus.cell_model_em`. Every annotator's rates are shrunk toward the crowd's by a strength learnt like
Dawid-Skene's (:func:`~cellconsensus.labels.dawid_skene_em.learn_strength`), so
an annotator seen once is the crowd's annotator. When all annotators are
alike, the posterior depends only on how many of an image's annotators
clicked: the model is a support threshold, placed by the data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ._arrays import unique_codes
from .cell_model_em import (
    STRAY_LEVEL,
    CandidateCells,
    CellFit,
    CellStatistics,
    cell_statistics,
    e_step,
    m_step,
    run_em,
)

__all__ = [
    "CandidateCells",
    "CellFit",
    "CellModel",
    "CellStatistics",
    "candidate_cells",
    "cell_statistics",
    "e_step",
    "fit_cell_model",
    "m_step",
    "run_em",
    "STRAY_LEVEL",
]

logger = logging.getLogger(__name__)


@dataclass
class CellModel(CellFit):
    """A fitted model: the rates of :class:`CellFit`, the posteriors of the candidates and
    the iterations run.

    Attributes
    ----------
    p_real : ndarray (n_candidates,)
        Posterior that each candidate is a real cell.
    n_iter : int
        EM iterations run.
    """

    p_real: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n_iter: int = 0


def fit_cell_model(
    candidates: CandidateCells,
    start: np.ndarray,
    *,
    shrinkage: float | str = "auto",
    max_iter: int = 100,
    tol: float = 1e-6,
) -> CellModel:
    """Fit the detection / stray-click model by EM (one group: :func:`run_em`).

    Parameters
    ----------
    candidates : CandidateCells
        Candidates and who clicked them.
    start : ndarray (n_candidates,)
        Initial posteriors (e.g. 1 for candidates the support rule keeps).
    shrinkage : "auto" or float >= 0, default "auto"
        Pseudo-candidates of the crowd's rates in every annotator's; "auto"
        learns it (beta-binomial likelihood).
    max_iter, tol : int, float
        EM stops when no posterior moves by more than ``tol``.

    Returns
    -------
    CellModel

    Examples
    --------
    Four candidates on one image of three annotators: clicked by all three, by
    two, and two lone clicks of the third.

    >>> c = CandidateCells(image=np.zeros(4, int),
    ...     vote_candidate=np.array([0, 0, 0, 1, 1, 2, 3]),
    ...     vote_annotator=np.array([0, 1, 2, 0, 1, 2, 2]), pair_image=np.zeros(3, int),
    ...     pair_annotator=np.arange(3), empty_runs=np.zeros(1, int), n_annotators=3)
    >>> model = fit_cell_model(c, np.array([1.0, 1.0, 0.0, 0.0]))
    >>> (model.p_real > 0.5).tolist()
    [True, True, False, False]
    """
    r = np.clip(np.asarray(start, dtype="float64"), 0.0, 1.0)

    def step(fit: CellFit | None) -> CellStatistics:
        nonlocal r
        if fit is None:
            return cell_statistics(candidates, r)
        new = e_step(candidates, fit)
        delta = float(np.abs(new - r).max()) if len(r) else 0.0
        r = new
        return cell_statistics(candidates, r, delta)

    fit, n_iter = run_em(
        step, candidates.n_annotators, shrinkage=shrinkage, max_iter=max_iter, tol=tol
    )
    return CellModel(**vars(fit), p_real=r, n_iter=n_iter)


def candidate_cells(
    img: np.ndarray,
    ann: np.ndarray,
    cid: np.ndarray,
    lone: np.ndarray,
    empty_runs: np.ndarray,
    *,
    n_clusters: int | None = None,
    n_annotators: int | None = None,
    order: np.ndarray | None = None,
) -> tuple[np.ndarray, CandidateCells]:
    """Candidates of the annotator model: every cluster, and every lone click.

    Parameters
    ----------
    img, ann : ndarray of int (n_clicks,)
        Image and annotator code of every click.
    cid : ndarray of int (n_clicks,)
        Cluster of every click, -1 for none.
    lone : ndarray of bool (n_clicks,)
        Clicks in no cluster that are candidates of their own (not an
        annotator's second click on a cell).
    empty_runs : ndarray of int (n_images,)
        Runs without any click per image.
    n_clusters : int, optional
        Clusters (default ``cid.max() + 1``).
    n_annotators : int, optional
        Annotator codes (default ``ann.max() + 1``; a cluster passes the global count).
    order : ndarray of int, optional
        The order lone clicks are numbered in (default: as given); the engine passes the
        canonical order, so that results do not depend on the input's row order.

    Returns
    -------
    candidate : ndarray of int (n_clicks,)
        ``cid``, with lone clicks numbered after the clusters.
    candidates : CandidateCells
        The clusters, then the lone clicks.

    Examples
    --------
    >>> img = np.zeros(7, int)
    >>> ann = np.array([0, 1, 2, 0, 1, 2, 2])
    >>> cid = np.array([0, 0, 0, 1, 1, -1, -1])
    >>> candidate, c = candidate_cells(img, ann, cid, cid < 0, np.zeros(1, int))
    >>> candidate.tolist(), (fit_cell_model(c, [1, 1, 0, 0]).p_real > 0.5).tolist()
    ([0, 0, 0, 1, 1, 2, 3], [True, True, False, False])
    """
    if n_clusters is None:
        n_clusters = int(cid.max(initial=-1)) + 1
    candidate = cid.copy()
    # Lone clicks numbered in ``order`` (the canonical order): every later sum then runs in
    # the same order whatever the order of the input rows.
    walk = np.arange(len(cid)) if order is None else np.asarray(order)
    candidate[walk[lone[walk]]] = n_clusters + np.arange(int(lone.sum()))
    n_candidates = n_clusters + int(lone.sum())
    if n_annotators is None:
        n_annotators = int(ann.max()) + 1 if len(ann) else 0
    member = candidate >= 0
    votes = unique_codes(candidate[member] * n_annotators + ann[member])
    pairs = unique_codes(img * n_annotators + ann)
    cand_img = np.zeros(n_candidates, np.int64)
    cand_img[candidate[member]] = img[member]
    return candidate, CandidateCells(
        image=cand_img,
        vote_candidate=votes // max(n_annotators, 1),
        vote_annotator=votes % max(n_annotators, 1),
        pair_image=pairs // max(n_annotators, 1),
        pair_annotator=pairs % max(n_annotators, 1),
        empty_runs=np.asarray(empty_runs, dtype=np.int64),
        n_annotators=n_annotators,
    )
