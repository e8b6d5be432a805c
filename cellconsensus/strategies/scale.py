"""Estimate the crowd's click noise from the clicks themselves (the ``"auto"`` scale)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from .._arrays import unique_codes
from ._geometry import separate_images

__all__ = [
    "estimate_scale",
    "scale_samples",
    "sample_median",
    "scale_from_median",
    "scale_image_sample",
    "SCALE_SAMPLE_CLICKS",
    "MIN_SCALE_SAMPLES",
    "FALLBACK_SCALE",
]

logger = logging.getLogger(__name__)

#: About how many clicks the ``"auto"`` scale looks at: on larger tables, images are
#: sampled by a hash of their id (the median of 200,000 values moves by well under 1 %).
SCALE_SAMPLE_CLICKS = 200_000


def scale_image_sample(
    image_ids, n_clicks: int, sample_clicks: int = SCALE_SAMPLE_CLICKS
) -> np.ndarray:
    """Which images the scale is estimated from: all, or 1 in ``n_clicks // sample_clicks``.

    The choice depends on an image's id and the table's size only (a hash,
    not the row order or a random draw), so one process and a cluster of any
    partitioning sample the same images.

    Examples
    --------
    >>> scale_image_sample(["a", "b", "c"], 1000).tolist()
    [True, True, True]
    >>> int(scale_image_sample([f"im{i}" for i in range(1000)], 20 * SCALE_SAMPLE_CLICKS).sum())
    45
    """
    ids = np.asarray(image_ids, dtype=object).astype(str).astype(object)
    step = max(1, int(n_clicks) // sample_clicks)
    if step == 1:
        return np.ones(len(ids), bool)
    return pd.util.hash_array(ids) % np.uint64(step) == 0


def estimate_scale(
    X: np.ndarray, image_index: np.ndarray, annotators: np.ndarray, *, k: int = 8
) -> float:
    """Estimate the per-axis standard deviation (pixels) of click positions around a cell.

    For every click, take the distance ``d`` to the nearest click of a
    *different* annotator on the same image. If clicks scatter around their
    cell with isotropic Gaussian noise ``sigma`` and ``m`` other annotators
    clicked the same cell, ``d**2`` is exponential with mean ``4 sigma**2 / m``.
    The estimate is ``sqrt(median(d**2 * m / 4) / ln 2)`` with ``m`` the number
    of other annotators on the image: the median makes it robust to missed
    cells, spurious clicks and spammers as long as most clicks have a partner.

    Parameters
    ----------
    X : ndarray (n, 2)
        Click positions.
    image_index : ndarray (n,)
        Image of each click, sorted.
    annotators : ndarray (n,)
        Integer annotator codes.
    k : int, default 8
        Neighbours examined per click to find one from another annotator.

    Returns
    -------
    float
        Estimated sigma in pixels.

    Raises
    ------
    ValueError
        When no image has clicks from two annotators.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> centres = rng.uniform(0, 500, (400, 2))
    >>> X = np.repeat(centres, 5, axis=0) + rng.normal(0, 3.0, (2000, 2))
    >>> ann = np.tile(np.arange(5), 400)
    >>> img = np.repeat(np.arange(40), 50)
    >>> round(estimate_scale(X, img, ann), 0)
    3.0
    """
    median, n = sample_median(X, image_index, annotators, k=k)
    if n == 0:
        raise ValueError("cannot estimate a scale: no image has clicks from two annotators")
    return scale_from_median(median, n)


def sample_median(
    X: np.ndarray, image_index: np.ndarray, annotators: np.ndarray, *, k: int = 8
) -> tuple[float, int]:
    """The median of :func:`scale_samples` and how many there are (NaN and 0 for none).

    Examples
    --------
    >>> sample_median(np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([0, 0]), np.array([0, 1]))
    (6.25, 2)
    """
    samples = scale_samples(X, image_index, annotators, k=k)
    return (float(np.median(samples)) if len(samples) else float("nan")), len(samples)


def scale_samples(
    X: np.ndarray, image_index: np.ndarray, annotators: np.ndarray, *, k: int = 8
) -> np.ndarray:
    """The per-click values ``d**2 * m / 4`` whose median :func:`estimate_scale` uses.

    Every value depends on one image only, so the values of a partition of whole
    images are exactly those the same images give in the full table; a cluster
    gets the global median from them (:mod:`cellconsensus.distributed`).

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [3.0, 4.0]])
    >>> scale_samples(X, np.array([0, 0]), np.array([0, 1])).tolist()
    [6.25, 6.25]
    """
    X = np.asarray(X, dtype="float64")
    if len(X) < 2:
        return np.zeros(0)
    # Images further apart than any two clicks of one image: a click's nearest neighbours
    # are always clicks of its own image, whatever other images share the table.
    gap = float(np.hypot(*(X.max(axis=0) - X.min(axis=0)))) + 1.0
    P = separate_images(X, image_index, gap=gap)
    k = min(k + 1, len(X))
    _, idx = cKDTree(P).query(P, k=k)
    valid = (annotators[idx] != annotators[:, None]) & (image_index[idx] == image_index[:, None])
    has = valid.any(axis=1)
    first = np.argmax(valid, axis=1)
    # Distances from the original coordinates (not the shifted ones the tree saw), so a
    # partition of whole images gives bit-identical values.
    partner = idx[np.arange(len(X)), first][has]
    d = np.hypot(*(X[has] - X[partner]).T)
    # Other annotators on each click's image.
    images = unique_codes(image_index)
    width = int(annotators.max()) + 1
    pairs = unique_codes(image_index.astype(np.int64) * width + annotators)
    n_ann = np.bincount(np.searchsorted(images, pairs // width))
    m = n_ann[np.searchsorted(images, image_index)] - 1
    return d**2 * m[has] / 4.0


#: The smallest scale ``"auto"`` gives (pixels): click positions are whole pixels in most
#: exports, so a crowd whose clicks coincide (a noise estimate near 0) is read as pixel-exact,
#: not as one whose cells are points (which would split a cell at the first stray pixel).
MIN_SCALE = 1.0


#: Fewest samples (clicks with a partner) the median is taken from: the median of ``n``
#: exponential values has a relative standard error of about ``1 / sqrt(n)``, so 20 give the
#: scale within about 12 %; fewer (a handful of clicks, where one coincidence decides) give
#: :data:`FALLBACK_SCALE`.
MIN_SCALE_SAMPLES = 20
#: The scale of too small a crowd: ``eps`` 10 px, the fixed default before ``"auto"``
#: (tuned on LDC crowds, cells of 20-60 px).
FALLBACK_SCALE = 10.0 / 3.0


def scale_from_median(median: float, n_samples: int = MIN_SCALE_SAMPLES) -> float:
    """Sigma from the median of ``n_samples`` values of :func:`scale_samples` (exponential
    median ``ln 2`` times its mean), at least :data:`MIN_SCALE`; :data:`FALLBACK_SCALE` from
    fewer than :data:`MIN_SCALE_SAMPLES` values.

    Examples
    --------
    >>> round(scale_from_median(4 * np.log(2.0)), 6)
    2.0
    >>> scale_from_median(0.0)
    1.0
    >>> round(scale_from_median(0.0, n_samples=3), 3)
    3.333
    """
    if n_samples < MIN_SCALE_SAMPLES:
        logger.info(
            "%d clicks have a partner from another annotator: too few to estimate the click "
            "noise, using %.2f px",
            n_samples,
            FALLBACK_SCALE,
        )
        return FALLBACK_SCALE
    return max(float(np.sqrt(median / np.log(2.0))), MIN_SCALE)
