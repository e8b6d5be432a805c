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

The EM is written for candidates held in groups (:func:`run_em`): each group
computes its E-step and the M-step's sufficient statistics
(:class:`CellStatistics`, which add up), and the M-step (:func:`m_step`) runs
on their sum. One process has one group (:func:`fit_cell_model`); a Dask
cluster has one per partition (:mod:`cellconsensus.distributed`), with the same
arithmetic up to the order of the sums. Every
annotator's rates are shrunk toward the crowd's by a strength learnt like
Dawid-Skene's (:func:`~cellconsensus.labels.dawid_skene_em.learn_strength`), so
an annotator seen once is the crowd's annotator. When all annotators are
alike, the posterior depends only on how many of an image's annotators
clicked: the model is a support threshold, placed by the data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

from ._arrays import unique_codes
from .labels.dawid_skene_em import learn_strength

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
]

logger = logging.getLogger(__name__)

#: Rates are kept inside (EPS, 1 - EPS).
EPS = 1e-6
#: The crowd's chance to click a given place where there is no cell, at most. Stray clicks
#: land at random and rarely coincide; learnt freely, this rate lets the "no cell" class
#: take real cells most annotators missed (fitted rates of 0.5-0.7 on crowds without
#: spammers). Measured on 22 simulated crowds (LDC and synthetic, 3-10 annotators, eps
#: "auto"): mean cell F1 0.863 / 0.866 / 0.865 at 0.002 / 0.02 / 0.1, 0.831 unbounded,
#: 0.841 for the support threshold.
STRAY_LEVEL = 0.02


@dataclass
class CandidateCells:
    """Candidate cells and who clicked them.

    Attributes
    ----------
    image : ndarray of int (n_candidates,)
        Image code of every candidate.
    vote_candidate, vote_annotator : ndarray of int
        One entry per (candidate, annotator who clicked it), annotator codes
        ``0 .. n_annotators - 1``.
    pair_image, pair_annotator : ndarray of int
        One entry per (image, annotator who clicked on it).
    empty_runs : ndarray of int (n_images,)
        Runs without any click per image: anonymous annotators who clicked
        nothing, given the crowd's rates.
    n_annotators : int
        Number of annotator codes.
    """

    image: np.ndarray
    vote_candidate: np.ndarray
    vote_annotator: np.ndarray
    pair_image: np.ndarray
    pair_annotator: np.ndarray
    empty_runs: np.ndarray
    n_annotators: int


@dataclass
class CellFit:
    """The M-step's answer: the prior and every annotator's rates.

    Attributes
    ----------
    prior : float
        Share of real cells among candidates.
    detection, stray : ndarray (n_annotators,)
        Each annotator's chance to click a real cell, and a place without one.
    pooled : ndarray (2,)
        The crowd's detection and stray rates.
    strength : float
        Pseudo-candidates of the crowd's rates in every annotator's.
    """

    prior: float
    detection: np.ndarray
    stray: np.ndarray
    pooled: np.ndarray
    strength: float


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


@dataclass
class CellStatistics:
    """The M-step's sufficient statistics of a group of candidates at posteriors ``r``.

    Statistics of disjoint groups (whole images each) add up (:meth:`total`) to those
    of all candidates, with global annotator codes.

    Attributes
    ----------
    p_sum : float
        Sum of the posteriors.
    n : int
        Number of candidates.
    hits : ndarray (2, n_annotators)
        Each annotator's clicks on candidates, weighted by ``r`` and ``1 - r``.
    key_annotator, key_runs : ndarray of int
        (annotator, runs on the image) pairs of the group: the truncation correction
        of an annotator's chances depends on an image only through its number of runs.
    mass : ndarray (2, n_keys)
        Candidates, weighted by ``r`` and ``1 - r``, on the images of each pair.
    delta : float
        Largest change of a posterior in the E-step that gave ``r`` (0 at the start).
    """

    p_sum: float
    n: int
    hits: np.ndarray
    key_annotator: np.ndarray
    key_runs: np.ndarray
    mass: np.ndarray
    delta: float = 0.0

    @classmethod
    def total(cls, parts: list[CellStatistics]) -> CellStatistics:
        """The statistics of all groups together."""
        return cls(
            p_sum=float(sum(p.p_sum for p in parts)),
            n=int(sum(p.n for p in parts)),
            hits=np.sum([p.hits for p in parts], axis=0),
            key_annotator=np.concatenate([p.key_annotator for p in parts]),
            key_runs=np.concatenate([p.key_runs for p in parts]),
            mass=np.concatenate([p.mass for p in parts], axis=1),
            delta=float(max(p.delta for p in parts)),
        )


def cell_statistics(c: CandidateCells, r: np.ndarray, delta: float = 0.0) -> CellStatistics:
    """The M-step's sufficient statistics of candidates ``c`` at posteriors ``r``.

    Examples
    --------
    >>> c = CandidateCells(image=np.zeros(2, int), vote_candidate=np.array([0, 0, 1]),
    ...     vote_annotator=np.array([0, 1, 1]), pair_image=np.zeros(2, int),
    ...     pair_annotator=np.arange(2), empty_runs=np.zeros(1, int), n_annotators=2)
    >>> s = cell_statistics(c, np.array([1.0, 0.0]))
    >>> s.hits.tolist(), s.key_runs.tolist(), s.mass.tolist()
    ([[1.0, 1.0], [0.0, 1.0]], [2, 2], [[1.0, 1.0], [1.0, 1.0]])
    """
    weights = (r, 1.0 - r)
    n_images = len(c.empty_runs)
    runs = np.bincount(c.pair_image, minlength=n_images) + c.empty_runs
    width = int(runs.max(initial=0)) + 1
    keys, pair_key = np.unique(c.pair_annotator * width + runs[c.pair_image], return_inverse=True)
    mass = [np.bincount(c.image, w, minlength=n_images)[c.pair_image] for w in weights]
    return CellStatistics(
        p_sum=float(r.sum()),
        n=len(r),
        hits=np.stack(
            [np.bincount(c.vote_annotator, w[c.vote_candidate], c.n_annotators) for w in weights]
        ).astype("float64"),
        key_annotator=keys // width,
        key_runs=keys % width,
        mass=np.stack([np.bincount(pair_key, m, len(keys)) for m in mass]).astype("float64"),
        delta=delta,
    )


def _log_likelihoods(c: CandidateCells, rates: np.ndarray, pooled: float) -> np.ndarray:
    """Zero-truncated log-likelihood of every candidate's clickers under per-annotator rates
    (runs without a click at the crowd's rate)."""
    rates = np.clip(rates, EPS, 1 - EPS)
    nobody = np.bincount(
        c.pair_image, weights=np.log1p(-rates[c.pair_annotator]), minlength=len(c.empty_runs)
    ) + c.empty_runs * np.log1p(-np.clip(pooled, EPS, 1 - EPS))
    nobody = nobody[c.image]
    odds = np.log(rates) - np.log1p(-rates)
    clicked = np.bincount(c.vote_candidate, weights=odds[c.vote_annotator], minlength=len(c.image))
    return clicked + nobody - np.log(-np.expm1(np.minimum(nobody, -1e-300)))


def _chances(stats: CellStatistics, kind: int, rate: float, n_annotators: int) -> np.ndarray:
    """Chances per annotator to click a candidate of ``kind`` (truncation-corrected) when
    every annotator clicks at ``rate``: each candidate stands for ``1 / (1 - q)`` of its
    kind, ``q`` the chance that none of its image's runs clicks."""
    nobody = stats.key_runs * np.log1p(-np.clip(rate, EPS, 1 - EPS))
    per_key = stats.mass[kind] / -np.expm1(np.minimum(nobody, -1e-300))
    return np.bincount(stats.key_annotator, per_key, minlength=n_annotators)


def m_step(stats: CellStatistics, n_annotators: int, shrinkage: float | str = "auto") -> CellFit:
    """The prior and the annotators' detection and stray rates, shrunk toward the crowd's.

    The crowd's rate of each kind is the fixed point (three passes from 0.5) of clicks
    over truncation-corrected chances; each annotator's chances use it.

    Examples
    --------
    >>> c = CandidateCells(image=np.zeros(2, int), vote_candidate=np.array([0, 0, 1]),
    ...     vote_annotator=np.array([0, 1, 1]), pair_image=np.zeros(2, int),
    ...     pair_annotator=np.arange(2), empty_runs=np.zeros(1, int), n_annotators=2)
    >>> fit = m_step(cell_statistics(c, np.array([1.0, 0.0])), 2)
    >>> fit.prior, bool(fit.pooled[0] > fit.pooled[1])
    (0.5, True)
    """
    prior = float(np.clip(stats.p_sum / stats.n, EPS, 1 - EPS)) if stats.n else 0.5
    counts = []
    pooled = np.empty(2)
    for kind in range(2):
        hits = stats.hits[kind]
        chances = np.maximum(_chances(stats, kind, 0.5, n_annotators), hits)
        for _ in range(3):
            pooled[kind] = hits.sum() / max(chances.sum(), EPS)
            chances = np.maximum(_chances(stats, kind, pooled[kind], n_annotators), hits)
        counts.append(np.stack([hits, chances - hits], axis=1))
    stacked = np.stack(counts, axis=1)  # (n_annotators, 2 kinds, clicked / not)
    rows = np.stack([[pooled[0], 1 - pooled[0]], [pooled[1], 1 - pooled[1]]])
    strength = learn_strength(stacked, rows) if shrinkage == "auto" else float(shrinkage)
    totals = stacked.sum(axis=2)
    detection = (stacked[:, 0, 0] + strength * pooled[0]) / (totals[:, 0] + strength)
    stray = (stacked[:, 1, 0] + strength * pooled[1]) / (totals[:, 1] + strength)
    # Only the annotators' relative stray propensities are learnt; their level is that of
    # stray clicks landing at random (see STRAY_LEVEL).
    if pooled[1] > STRAY_LEVEL:
        stray *= STRAY_LEVEL / pooled[1]
        pooled[1] = STRAY_LEVEL
    return CellFit(prior, detection, stray, pooled, strength)


def e_step(c: CandidateCells, fit: CellFit) -> np.ndarray:
    """Posterior that each candidate is real under ``fit``."""
    l1 = _log_likelihoods(c, fit.detection, fit.pooled[0])
    l0 = _log_likelihoods(c, fit.stray, fit.pooled[1])
    return expit(np.log(fit.prior) - np.log1p(-fit.prior) + l1 - l0)


def run_em(
    step: Callable[[CellFit | None], CellStatistics],
    n_annotators: int,
    *,
    shrinkage: float | str = "auto",
    max_iter: int = 100,
    tol: float = 1e-6,
) -> tuple[CellFit, int]:
    """EM over candidates held anywhere: ``step(fit)`` runs the E-step of every group under
    ``fit`` (``None``: keep the starting posteriors) and returns the groups' summed
    statistics. Stops when no posterior moves by more than ``tol``.

    Returns
    -------
    fit : CellFit
        The model of the last E-step.
    n_iter : int
        Iterations run.
    """
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    stats, n_iter = step(None), 0
    while True:
        n_iter += 1
        fit = m_step(stats, n_annotators, shrinkage)
        stats = step(fit)
        if stats.delta <= tol or n_iter == max_iter:
            return fit, n_iter


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
    candidate[lone] = n_clusters + np.arange(int(lone.sum()))
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
