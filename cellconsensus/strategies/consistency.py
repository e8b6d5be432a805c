"""Choose the ``"auto"`` scale by the crowd's own rule: one click per annotator per cell.

The click noise (:mod:`~cellconsensus.strategies.scale`) says how far an
annotator's clicks stray from their cell, not how close neighbouring cells
are. Where clicks scatter over a good part of the distance between cells,
three times the noise chains neighbours into one cluster (synthetic crowd, 10
annotators, position noise 0.3 of the cell size: ``eps`` 60 px, cell F1 0.62;
``eps`` 24 px: 0.92). Every annotator clicks a cell once, so a cluster that
holds two clicks of one annotator has (most likely) merged two cells, and two
clusters whose annotators could be one cluster have split one. The
*consistency* of a clustering counts both, and the ``"auto"`` parameters take
the multiple of the noise (:data:`AUTO_FACTORS`) that maximises it on the
sampled images.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from .._arrays import unique_codes
from ._base import BaseStrategy
from .scale import SCALE_SAMPLE_CLICKS, scale_from_median

__all__ = [
    "AUTO_FACTORS",
    "CHOICE_SAMPLE_CLICKS",
    "crowd_consistency",
    "consistency_scores",
    "best_factor",
    "resolve_auto",
]

logger = logging.getLogger(__name__)

#: Multiples of the ``"auto"`` parameters' own factor (e.g. ``eps = 3 sigma``) that are tried.
AUTO_FACTORS = (0.4, 0.5, 0.6, 0.7, 0.85, 1.0, 1.2)
#: About how many clicks the choice looks at (images sampled by a hash of their id).
CHOICE_SAMPLE_CLICKS = 50_000
#: Cost of a surplus click (an annotator's second click in a cluster), per annotator on the
#: image: merging two cells of ``d`` annotators each gains no pair of distinct annotators and
#: adds ``d`` surplus clicks. Measured on simulated crowds (LDC and synthetic, 3-10
#: annotators, position noise 0.1-0.3 of the cell size): 0.5 picked the ``eps`` of the best
#: F1 or one within 0.006 of it on 8 crowds; 1.0 was up to 0.026 below.
SURPLUS_WEIGHT = 0.5


def crowd_consistency(labels: np.ndarray, image_index: np.ndarray, annotators: np.ndarray) -> float:
    """How well a clustering keeps the one-click-per-annotator-per-cell rule.

    Per cluster: the pairs of distinct annotators in it, ``d (d - 1) / 2``,
    less :data:`SURPLUS_WEIGHT` times the image's annotators for every surplus
    click (clicks beyond one per annotator). The sum over clusters is additive
    over images, so partitions of whole images add up to the whole table's
    value (exactly: every term is a multiple of one half).

    Parameters
    ----------
    labels : ndarray of int (n,)
        Cluster of every click (unique within its image), -1 for none.
    image_index, annotators : ndarray of int (n,)
        Image and annotator code of every click.

    Examples
    --------
    Two annotators on one image: two cells clicked by both, or the same
    clicks merged into one cluster.

    >>> img, ann = np.zeros(4, int), np.array([0, 1, 0, 1])
    >>> crowd_consistency(np.array([0, 0, 1, 1]), img, ann)
    2.0
    >>> crowd_consistency(np.array([0, 0, 0, 0]), img, ann)
    -1.0
    """
    labels = np.asarray(labels, dtype=np.int64)
    image_index = np.asarray(image_index, dtype=np.int64)
    annotators = np.asarray(annotators, dtype=np.int64)
    if len(labels) == 0:
        return 0.0
    n_ann = int(annotators.max()) + 1
    image_annotators = unique_codes(image_index * n_ann + annotators)
    per_image = np.bincount(image_annotators // n_ann, minlength=int(image_index.max()) + 1)
    member = labels >= 0
    width = int(labels.max()) + 1
    cluster_key = image_index[member] * width + labels[member]
    clusters = unique_codes(cluster_key)
    cluster = np.searchsorted(clusters, cluster_key)
    clicks = np.bincount(cluster, minlength=len(clusters))
    distinct = np.bincount(
        unique_codes(cluster * n_ann + annotators[member]) // n_ann, minlength=len(clusters)
    )
    image_of = clusters // width
    surplus = (clicks - distinct) * per_image[image_of]
    return float(np.sum(distinct * (distinct - 1) / 2 - SURPLUS_WEIGHT * surplus))


def consistency_scores(
    strategy: BaseStrategy,
    sigma: float,
    X: np.ndarray,
    image_index: np.ndarray,
    annotators: np.ndarray,
) -> np.ndarray:
    """:func:`crowd_consistency` of ``strategy.with_scale(sigma * f)`` for every ``f`` in
    :data:`AUTO_FACTORS`, on the given clicks (sorted by image).

    Examples
    --------
    >>> from cellconsensus.strategies import DBSCANStrategy
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [6.0, 0.0], [7.0, 0.0]])
    >>> ann, img = np.array([0, 1, 0, 1]), np.zeros(4, int)
    >>> consistency_scores(DBSCANStrategy(eps="auto"), 1.5, X, img, ann).tolist()
    [2.0, 2.0, 2.0, 2.0, 2.0, 2.0, -1.0]
    """
    sigmas = [sigma * f for f in AUTO_FACTORS]
    labels = strategy.fit_predict_scales(X, image_index, annotators, sigmas)
    return np.array([crowd_consistency(lab, image_index, annotators) for lab in labels])


def best_factor(scores: np.ndarray) -> float:
    """The factor with the highest consistency; among equals, the one nearest 1 (where the
    rule cannot tell, the plain multiple of the noise stays).

    Examples
    --------
    >>> best_factor(np.array([0.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]))
    1.0
    >>> best_factor(np.array([3.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]))
    0.4
    """
    scores = np.asarray(scores, dtype="float64")
    tied = np.flatnonzero(scores == scores.max())
    factors = np.asarray(AUTO_FACTORS)[tied]
    return float(factors[np.argmin(np.abs(np.log(factors)))])


def resolve_auto(
    strategy: BaseStrategy,
    n_clicks: int,
    noise: Callable[[int], tuple[float, int]],
    consistency: Callable[[float], np.ndarray],
) -> tuple[BaseStrategy, float | None]:
    """Replace ``"auto"`` parameters: the one stage every engine runs, each with its own
    reducers (one process, a cluster's partitions, one image).

    The click noise comes from the images :func:`~.scale.scale_image_sample` picks for a
    table of ``n_clicks`` clicks, or from every image when none of those has clicks of two
    annotators; the multiple of it is the most consistent of :data:`AUTO_FACTORS`.

    Parameters
    ----------
    strategy : BaseStrategy
        With parameters set to ``"auto"`` (others are returned as they are).
    n_clicks : int
        Clicks in the table (0: every image is sampled).
    noise : callable
        ``noise(n_clicks) -> (median, count)`` of :func:`~.scale.scale_samples` on the
        images sampled for ``n_clicks`` (:func:`~.scale.sample_median` in one process).
    consistency : callable
        ``consistency(sigma)``: :func:`consistency_scores` at noise ``sigma`` over the
        images of the choice sample (:data:`CHOICE_SAMPLE_CLICKS`), summed.

    Returns
    -------
    strategy : BaseStrategy
        Resolved; unchanged when no image has clicks of two annotators.
    sigma : float or None
        The estimated noise, None when there was nothing to estimate it from.

    Examples
    --------
    >>> from cellconsensus.strategies import DBSCANStrategy
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [6.0, 0.0], [7.0, 0.0]])
    >>> ann, img = np.array([0, 1, 0, 1]), np.zeros(4, int)
    >>> resolve_auto(DBSCANStrategy(eps="auto"), 0, lambda n: (2.25 * np.log(2.0), 20),
    ...              lambda s: consistency_scores(DBSCANStrategy(eps="auto"), s, X, img, ann))
    (DBSCANStrategy(eps=4.5), 1.5)
    """
    if not strategy.needs_scale:
        return strategy, None
    median, count = noise(n_clicks)
    if count == 0 and n_clicks // SCALE_SAMPLE_CLICKS > 1:
        median, count = noise(0)  # the sampled images had no two annotators: look at all
    if count == 0:
        logger.info("no image has clicks from two annotators: every click is its own cell")
        return strategy, None
    sigma = scale_from_median(median, count)
    resolved = strategy.with_scale(sigma * best_factor(consistency(sigma)))
    logger.info("estimated click noise %.2f px -> %r", sigma, resolved)
    return resolved, sigma
