"""Cell centres from a heatmap: local maxima above a threshold, at least a minimum
distance apart, refined to sub-pixel positions."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

__all__ = ["find_peaks"]


def _refine(heat: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel offsets from a parabola through each peak and its two neighbours per axis."""
    padded = np.pad(heat, 1, mode="edge")
    r, c = rows + 1, cols + 1
    centre = padded[r, c]

    def offset(before: np.ndarray, after: np.ndarray) -> np.ndarray:
        curvature = before - 2 * centre + after
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(curvature < 0, (before - after) / (2 * curvature), 0.0)
        return np.clip(np.nan_to_num(step), -0.5, 0.5)

    return offset(padded[r, c - 1], padded[r, c + 1]), offset(padded[r - 1, c], padded[r + 1, c])


def find_peaks(
    heat: np.ndarray, *, threshold: float, min_distance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Peaks of a 2-D heatmap: ``x, y`` (pixel centres at integer + 0.5, refined) and
    the height of each, highest first.

    A peak is a local maximum (over a square of side ``2 * min_distance + 1``) at
    least ``threshold`` high; of peaks closer than ``min_distance`` only the highest
    is kept (ties: the first in row-major order).

    Examples
    --------
    >>> heat = np.zeros((8, 8)); heat[2, 5] = 0.9; heat[6, 1] = 0.4; heat[6, 2] = 0.4
    >>> x, y, score = find_peaks(heat, threshold=0.3, min_distance=2)
    >>> x.tolist(), y.tolist(), score.tolist()  # the flat pair: one peak, between its pixels
    ([5.5, 2.0], [2.5, 6.5], [0.9, 0.4])
    """
    heat = np.asarray(heat, dtype=np.float64)
    if heat.ndim != 2:
        raise ValueError(f"heat must be 2-D, got shape {heat.shape}")
    if not min_distance >= 0:
        raise ValueError(f"min_distance must be >= 0, got {min_distance}")
    size = 2 * int(np.ceil(min_distance)) + 1
    local = heat == ndimage.maximum_filter(heat, size=size, mode="nearest")
    rows, cols = np.nonzero(local & (heat >= threshold) & np.isfinite(heat))
    scores = heat[rows, cols]
    order = np.lexsort((cols, rows, -scores))
    rows, cols, scores = rows[order], cols[order], scores[order]
    keep = np.ones(len(rows), bool)
    if len(rows) > 1 and min_distance > 0:
        tree = cKDTree(np.column_stack([cols, rows]))
        for i, j in sorted(tree.query_pairs(r=min_distance - 1e-9)):
            # i < j: i is the higher (earlier) one; suppress j when i itself survives.
            if keep[i]:
                keep[j] = False
    rows, cols, scores = rows[keep], cols[keep], scores[keep]
    dx, dy = _refine(heat, rows, cols)
    return cols + 0.5 + dx, rows + 0.5 + dy, scores
