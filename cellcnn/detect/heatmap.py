"""Training targets of the point detector: a cell-centre heatmap and class maps.

Every true (or consensus) cell puts a Gaussian bump of width ``sigma`` on the
centre map, peaking at exactly 1 on the pixel nearest its centre (the focal loss
of :mod:`cellcnn.detect.network` counts those pixels as the positives); where bumps
overlap the larger wins. Around each cell the class maps hold its class
probabilities (hard labels or the crowd's soft ones). Two weight maps go with
them: the centre weight (a cell's own weight, e.g. its posterior of being real,
over its bump; 1 elsewhere) and the class weight (the bump times the cell's class
weight, e.g. to balance rare classes; 0 for a cell without a class).

The target array of an image is ``(H, W, K + 3)``: centre, the K class
probabilities, centre weight, class weight (:data:`TARGET_EXTRA` channels beyond
the classes).
"""

from __future__ import annotations

import numpy as np

__all__ = ["render_targets", "TARGET_EXTRA"]

#: Channels of a target array beyond the K class probabilities.
TARGET_EXTRA = 3
#: A bump ends where it falls below this (3 sigma).
_REACH = 3.0


def render_targets(
    shape: tuple[int, int],
    x: np.ndarray,
    y: np.ndarray,
    proba: np.ndarray,
    *,
    sigma: float,
    weight: np.ndarray | None = None,
    class_weight: np.ndarray | None = None,
) -> np.ndarray:
    """The ``(H, W, K + 3)`` training target of one image (or crop).

    Parameters
    ----------
    shape : (H, W)
        Size of the image.
    x, y : array
        Cell centres in pixels (cells outside the image still reach in with their bump).
    proba : array, (n, K)
        Class probabilities of every cell.
    sigma : float
        Width of the centre bumps in pixels.
    weight : array, optional
        Weight of every cell's centre (default 1).
    class_weight : array, optional
        Weight of every cell's class maps (default 1; 0: a cell without a class, which
        teaches only the centre map).

    Examples
    --------
    >>> t = render_targets((9, 9), np.array([4.2]), np.array([3.9]), np.array([[0.8, 0.2]]),
    ...                    sigma=1.0)
    >>> t.shape, float(t[3, 4, 0]), t[3, 4, 1:3].round(2).tolist(), float(t[0, 0, 0])
    ((9, 9, 5), 1.0, [0.8, 0.2], 0.0)
    """
    height, width = int(shape[0]), int(shape[1])
    proba = np.asarray(proba, dtype=np.float32)
    if proba.ndim != 2:  # one class column given flat; (0, K) for an image without cells
        proba = proba.reshape(len(x), -1)
    k = proba.shape[1]
    weight = np.ones(len(x)) if weight is None else np.asarray(weight, dtype=float)
    class_weight = np.ones(len(x)) if class_weight is None else np.asarray(class_weight, float)
    out = np.zeros((height, width, k + TARGET_EXTRA), np.float32)
    out[..., k + 1] = 1.0
    reach = int(np.ceil(_REACH * sigma))
    for i in range(len(x)):
        if not (np.isfinite(x[i]) and np.isfinite(y[i])):
            continue
        cx, cy = int(np.floor(x[i])), int(np.floor(y[i]))  # the pixel holding the centre
        x0, x1 = max(cx - reach, 0), min(cx + reach + 1, width)
        y0, y1 = max(cy - reach, 0), min(cy + reach + 1, height)
        if x0 >= x1 or y0 >= y1:
            continue
        gy, gx = np.ogrid[y0:y1, x0:x1]
        bump = np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / (2 * sigma**2)).astype(np.float32)
        bump[bump < np.exp(-(_REACH**2) / 2)] = 0.0
        window = out[y0:y1, x0:x1]
        wins = bump > window[..., 0]
        window[..., 0] = np.where(wins, bump, window[..., 0])
        window[..., 1 : k + 1] = np.where(wins[..., None], proba[i], window[..., 1 : k + 1])
        window[..., k + 1] = np.where(bump > 0, np.where(wins, weight[i], window[..., k + 1]),
                                      window[..., k + 1])  # fmt: skip
        window[..., k + 2] = np.where(wins, bump * class_weight[i], window[..., k + 2])
    return out
