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
``q`` the chance that every annotator of its image misses a cell). Every
annotator's rates are shrunk toward the crowd's by a strength learnt like
Dawid-Skene's (:func:`~cellconsensus.labels.dawid_skene_em.learn_strength`), so
an annotator seen once is the crowd's annotator. When all annotators are
alike, the posterior depends only on how many of an image's annotators
clicked: the model is a support threshold, placed by the data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from ._arrays import unique_codes
from .labels.dawid_skene_em import learn_strength

__all__ = ["CandidateCells", "CellModel", "fit_cell_model"]

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
class CellModel:
    """A fitted model: posteriors of the candidates and the annotators' rates.

    Attributes
    ----------
    p_real : ndarray (n_candidates,)
        Posterior that each candidate is a real cell.
    prior : float
        Share of real cells among candidates.
    detection, stray : ndarray (n_annotators,)
        Each annotator's chance to click a real cell, and a place without one.
    pooled : ndarray (2,)
        The crowd's detection and stray rates.
    strength : float
        Pseudo-candidates of the crowd's rates in every annotator's.
    n_iter : int
        EM iterations run.
    """

    p_real: np.ndarray
    prior: float
    detection: np.ndarray
    stray: np.ndarray
    pooled: np.ndarray
    strength: float
    n_iter: int


def _log_nobody(c: CandidateCells, rates: np.ndarray, pooled: float) -> np.ndarray:
    """Log-chance, per image, that none of its annotators clicks (empty runs at the crowd's
    rate)."""
    return np.bincount(
        c.pair_image, weights=np.log1p(-rates[c.pair_annotator]), minlength=len(c.empty_runs)
    ) + c.empty_runs * np.log1p(-np.clip(pooled, EPS, 1 - EPS))


def _log_likelihoods(c: CandidateCells, rates: np.ndarray, pooled: float) -> np.ndarray:
    """Zero-truncated log-likelihood of every candidate's clickers under per-annotator rates."""
    rates = np.clip(rates, EPS, 1 - EPS)
    nobody = _log_nobody(c, rates, pooled)[c.image]
    odds = np.log(rates) - np.log1p(-rates)
    clicked = np.bincount(c.vote_candidate, weights=odds[c.vote_annotator], minlength=len(c.image))
    return clicked + nobody - np.log(-np.expm1(np.minimum(nobody, -1e-300)))


def _chances(c: CandidateCells, mass: np.ndarray, rates: np.ndarray, pooled: float):
    """Chances per annotator to click a candidate (truncation-corrected), from the weighted
    candidates per image (``mass``)."""
    nobody = _log_nobody(c, np.clip(rates, EPS, 1 - EPS), pooled)
    # Each candidate stands for 1 / (1 - q) cells of its kind, q = the chance nobody clicks.
    per_image = mass / -np.expm1(np.minimum(nobody, -1e-300))
    return np.bincount(c.pair_annotator, per_image[c.pair_image], minlength=c.n_annotators)


def fit_cell_model(
    candidates: CandidateCells,
    start: np.ndarray,
    *,
    shrinkage: float | str = "auto",
    max_iter: int = 100,
    tol: float = 1e-6,
) -> CellModel:
    """Fit the detection / stray-click model by EM.

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
    c = candidates
    r = np.clip(np.asarray(start, dtype="float64"), 0.0, 1.0)
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        prior = float(np.clip(r.mean(), EPS, 1 - EPS)) if len(r) else 0.5
        detection, stray, pooled, strength = _m_step(c, r, shrinkage)
        l1 = _log_likelihoods(c, detection, pooled[0])
        l0 = _log_likelihoods(c, stray, pooled[1])
        new = expit(np.log(prior) - np.log1p(-prior) + l1 - l0)
        delta = float(np.abs(new - r).max()) if len(r) else 0.0
        r = new
        if delta <= tol:
            break
    return CellModel(r, prior, detection, stray, pooled, strength, n_iter)


def _m_step(c: CandidateCells, r: np.ndarray, shrinkage: float | str):
    """Annotators' detection and stray rates, shrunk toward the crowd's."""
    rates = np.full(c.n_annotators, 0.5)
    counts = []
    pooled = np.empty(2)
    # Two passes: the truncation correction needs rates; start from the crowd's plain rates.
    for kind, weight in enumerate((r, 1.0 - r)):
        # Clicks per annotator, weighted; the chances to click depend on the rates.
        hits = np.bincount(c.vote_annotator, weight[c.vote_candidate], minlength=c.n_annotators)
        mass = np.bincount(c.image, weight, minlength=len(c.empty_runs))
        chances = np.maximum(_chances(c, mass, rates, 0.5), hits)
        for _ in range(3):
            pooled[kind] = hits.sum() / max(chances.sum(), EPS)
            rates = np.full(c.n_annotators, pooled[kind])
            chances = np.maximum(_chances(c, mass, rates, pooled[kind]), hits)
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
    return detection, stray, pooled, strength


def support_posterior(
    img: np.ndarray,
    ann: np.ndarray,
    cid: np.ndarray,
    lone: np.ndarray,
    start: np.ndarray,
    empty_runs: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior that every cluster, and every lone click, is a real cell.

    Parameters
    ----------
    img, ann : ndarray of int (n_clicks,)
        Image and annotator code of every click.
    cid : ndarray of int (n_clicks,)
        Cluster of every click, -1 for none.
    lone : ndarray of bool (n_clicks,)
        Clicks in no cluster that are candidates of their own (not an
        annotator's second click on a cell).
    start : ndarray (n_clusters,)
        Initial posteriors of the clusters (lone clicks start at 0).
    empty_runs : ndarray of int (n_images,)
        Runs without any click per image.

    Returns
    -------
    candidate : ndarray of int (n_clicks,)
        ``cid``, with lone clicks numbered after the clusters.
    model : CellModel
        Its ``p_real`` covers the clusters, then the lone clicks.

    Examples
    --------
    >>> img = np.zeros(7, int)
    >>> ann = np.array([0, 1, 2, 0, 1, 2, 2])
    >>> cid = np.array([0, 0, 0, 1, 1, -1, -1])
    >>> candidate, model = support_posterior(img, ann, cid, cid < 0, np.ones(2), np.zeros(1, int))
    >>> candidate.tolist(), (model.p_real > 0.5).tolist()
    ([0, 0, 0, 1, 1, 2, 3], [True, True, False, False])
    """
    n_clusters = len(start)
    candidate = cid.copy()
    candidate[lone] = n_clusters + np.arange(int(lone.sum()))
    n_candidates = n_clusters + int(lone.sum())
    n_annotators = int(ann.max()) + 1 if len(ann) else 0
    member = candidate >= 0
    votes = unique_codes(candidate[member] * n_annotators + ann[member])
    pairs = unique_codes(img * n_annotators + ann)
    cand_img = np.zeros(n_candidates, np.int64)
    cand_img[candidate[member]] = img[member]
    candidates = CandidateCells(
        image=cand_img,
        vote_candidate=votes // max(n_annotators, 1),
        vote_annotator=votes % max(n_annotators, 1),
        pair_image=pairs // max(n_annotators, 1),
        pair_annotator=pairs % max(n_annotators, 1),
        empty_runs=np.asarray(empty_runs, dtype=np.int64),
        n_annotators=n_annotators,
    )
    initial = np.r_[np.asarray(start, dtype="float64"), np.zeros(n_candidates - n_clusters)]
    return candidate, fit_cell_model(candidates, initial)
