"""A threshold of its own for the peaks near each side of an image.

Whoever marked the training cells may treat cells cut by an image's edge differently on
each side: the LDC expert boxes touch the left and top edges three to six times as often
as the right and bottom ones (cut cells were marked on two sides and mostly left out on
the others). The detector, trained on the square's eight symmetries, cannot tell one side
from another; a threshold per side, for the peaks within :data:`EDGE_BAND` cell sizes of
it and chosen on the validation images, can.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "SIDES",
    "EDGE_BAND",
    "side_distances",
    "peak_thresholds",
    "found_distances",
    "edge_kept",
    "tune_edges",
]

#: The sides of an image, in the order of :func:`side_distances`' columns.
SIDES: tuple[str, ...] = ("left", "top", "right", "bottom")
#: How near a side (in cell sizes) a peak takes that side's threshold. Measured with three
#: LDC detectors (seeds 0-2, cells about 20 px; thresholds chosen on the validation
#: images, test F1), bands of 4 / 6 / 8 / 10 px: 0.956 / 0.958 / 0.958 / 0.959, 0.950 /
#: 0.954 / 0.956 / 0.954 and 0.951 / 0.951 / 0.953 / 0.954, against 0.947, 0.946 and 0.942
#: with one threshold: 0.4 cell sizes, about 8 px.
EDGE_BAND = 0.4


def side_distances(x: np.ndarray, y: np.ndarray, shape: tuple) -> np.ndarray:
    """``(n, 4)`` distances in pixels of points to the left, top, right and bottom edges
    (``shape``: height and width, numbers or one of each per point).

    Examples
    --------
    >>> side_distances(np.array([2.0]), np.array([5.0]), (10, 20)).tolist()
    [[2.0, 5.0, 18.0, 5.0]]
    """
    height, width = shape[:2]
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return np.column_stack([x, y, width - x, height - y])


def _required(
    distance: np.ndarray, threshold: float, edges: Mapping[str, float] | None, band: float
) -> np.ndarray:
    """Each peak's threshold from its distances to the four sides (:func:`side_distances`)."""
    if not edges or not band > 0:
        return np.full(len(distance), float(threshold))
    per_side = np.array([float(edges[side]) for side in SIDES])
    near = distance.min(axis=1) < band
    return np.where(near, per_side[distance.argmin(axis=1)], float(threshold))


def peak_thresholds(
    x: np.ndarray,
    y: np.ndarray,
    shape: tuple[int, ...],
    threshold: float,
    edges: Mapping[str, float] | None,
    band: float,
) -> np.ndarray:
    """The threshold every peak of one image must reach: its nearest side's (``edges``)
    within ``band`` pixels of that side, ``threshold`` elsewhere (and everywhere without
    ``edges``).

    Examples
    --------
    >>> edges = {"left": 0.1, "top": 0.3, "right": 0.6, "bottom": 0.3}
    >>> peak_thresholds(np.array([2.0, 10.0, 18.0]), np.array([9.0] * 3), (20, 20), 0.3,
    ...                 edges, band=4).tolist()
    [0.1, 0.3, 0.6]
    """
    return _required(side_distances(x, y, shape), threshold, edges, band)


def found_distances(found: pd.DataFrame, shapes: Mapping[str, tuple[int, ...]]) -> np.ndarray:
    """:func:`side_distances` of every peak of a table of many images (``image_id, x, y``;
    ``shapes``: ``image_id -> (height, width)``)."""
    size = np.array([shapes[i][:2] for i in found["image_id"].astype(str)], dtype=float)
    size = size.reshape(-1, 2)
    return side_distances(found["x"], found["y"], (size[:, 0], size[:, 1]))


def edge_kept(
    found: pd.DataFrame,
    shapes: Mapping[str, tuple[int, ...]],
    threshold: float,
    edges: Mapping[str, float] | None,
    band: float,
) -> np.ndarray:
    """Which peaks of a table of many images (``image_id, x, y, score``) reach their
    threshold (:func:`peak_thresholds`)."""
    required = _required(found_distances(found, shapes), threshold, edges, band)
    return found["score"].to_numpy(float) >= required


def tune_edges(
    found: pd.DataFrame,
    shapes: Mapping[str, tuple[int, ...]],
    threshold: float,
    band: float,
    f1_of: Callable[[pd.DataFrame], float],
    candidates: Sequence[float],
    rounds: int = 2,
) -> dict[str, float]:
    """Each side's threshold with the best F1, one side at a time (``rounds`` passes).

    Parameters
    ----------
    found : DataFrame
        Peaks at the lowest candidate: ``image_id, x, y, score``.
    shapes : mapping
        ``image_id -> (height, width)``.
    threshold : float
        The threshold elsewhere (and every side's to start with).
    band : float
        Pixels from a side within which its threshold counts.
    f1_of : callable
        F1 of the peaks kept (a DataFrame like ``found``) against the truth.
    candidates : sequence of float
        Thresholds tried; of equal F1 the one nearest ``threshold`` (so a side where
        nothing differs keeps it).
    rounds : int, default 2
        Passes over the four sides.

    Returns
    -------
    dict
        ``{"left": ..., "top": ..., "right": ..., "bottom": ...}``.

    Examples
    --------
    A weak true peak near the left edge is kept, a weak false one near the right is not:

    >>> found = pd.DataFrame({"image_id": ["a"] * 3, "x": [2.0, 50.0, 98.0],
    ...                       "y": [50.0] * 3, "score": [0.2, 0.9, 0.25]})
    >>> def f1_of(kept):
    ...     tp = kept["x"].isin([2.0, 50.0]).sum()
    ...     return 2 * tp / (len(kept) + 2)
    >>> tune_edges(found, {"a": (100, 100)}, 0.5, 8, f1_of, [0.1, 0.3, 0.5, 0.7])
    {'left': 0.1, 'top': 0.5, 'right': 0.5, 'bottom': 0.5}
    """
    distance = found_distances(found, shapes)
    near = distance.min(axis=1) < band
    sides_near = set(distance.argmin(axis=1)[near].tolist())
    score = found["score"].to_numpy(float)
    edges = {side: float(threshold) for side in SIDES}
    for _ in range(rounds):
        for k in sorted(sides_near):
            tried = []
            for t in candidates:
                trial = {**edges, SIDES[k]: float(t)}
                kept = found[score >= _required(distance, threshold, trial, band)]
                tried.append((f1_of(kept), -abs(float(t) - threshold), float(t)))
            edges[SIDES[k]] = max(tried)[2]
    return edges
