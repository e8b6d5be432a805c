"""Cropping one image: the border policies, patch flags, and the empty-patch score."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal, get_args

import numpy as np
import pandas as pd

from ..errors import CellConsensusInputError

__all__ = [
    "BORDERS",
    "Border",
    "Patches",
    "PatchReport",
    "crop",
    "far_outside",
    "image_noise",
    "contrast_score",
    "MAX_SIZE",
]


Border = Literal["reflect", "constant", "shift", "drop"]
BORDERS: tuple[str, ...] = get_args(Border)


@dataclass
class PatchReport:
    """What happened to the cells on the way to patches.

    Attributes
    ----------
    n_cells : int
        Cells given.
    n_patches : int
        Patches made.
    n_padded, n_shifted : int
        Patches with pixels from outside the image, or moved to stay inside.
    n_dropped_border, n_dropped_contrast, n_dropped_error, n_dropped_outside : int
        Cells without a patch: window outside the image under ``drop``,
        contrast below ``min_contrast``, image unreadable under ``on_error="skip"``,
        or centre more than half a patch outside the image (:func:`far_outside`;
        under every border, logged as a warning).
    errors : list of str
        One line per unreadable image.
    """

    n_cells: int = 0
    n_patches: int = 0
    n_padded: int = 0
    n_shifted: int = 0
    n_dropped_border: int = 0
    n_dropped_contrast: int = 0
    n_dropped_error: int = 0
    n_dropped_outside: int = 0
    errors: list[str] = field(default_factory=list)

    #: The counting fields (every field but ``errors``).
    COUNTS: ClassVar[tuple[str, ...]] = (
        "n_cells",
        "n_patches",
        "n_padded",
        "n_shifted",
        "n_dropped_border",
        "n_dropped_contrast",
        "n_dropped_error",
        "n_dropped_outside",
    )

    def merge(self, other: PatchReport) -> None:
        """Add another report's counts to this one."""
        for name in self.COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)


@dataclass
class Patches:
    """Patches of one size and the cells they belong to.

    Attributes
    ----------
    pixels : ndarray
        ``(n, size, size, channels)`` ``uint8``.
    cells : DataFrame
        The cells that got a patch, in order, with ``padded``, ``shifted``,
        ``shift_x``, ``shift_y`` and ``contrast`` added.
    size : int
        Side of the patches.
    report : PatchReport
    """

    pixels: np.ndarray
    cells: pd.DataFrame
    size: int
    report: PatchReport


def _check_border(border: str) -> None:
    if border not in BORDERS:
        raise ValueError(f"border must be one of {BORDERS}, got {border!r}")


def crop(
    image: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    size: int,
    border: Border = "reflect",
    fill: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Crop square patches of one image around points, vectorised.

    Parameters
    ----------
    image : ndarray
        ``(H, W, C)``.
    x, y : array-like
        Points in pixels (origin top left).
    size : int
        Side of the patches (>= 1).
    border : {"reflect", "constant", "shift", "drop"}, default "reflect"
        See the module docstring.
    fill : int, default 0
        Value of pixels outside the image under ``constant`` (and ``shift``
        when the image is smaller than the patch).

    Returns
    -------
    pixels : ndarray
        ``(k, size, size, C)`` for the ``k`` kept points.
    keep : ndarray of bool
        Which points got a patch: all but those dropped under ``drop`` and those
        whose centre lies more than half a patch outside the image (under every
        border: such a patch would hold no pixel of the image).
    padded : ndarray of bool
        Per kept point: pixels from outside the image.
    shift : ndarray of int
        Per kept point: ``(shift_x, shift_y)`` the window moved under ``shift``.

    Raises
    ------
    CellConsensusInputError
        A NaN or infinite position, or an empty image.

    Examples
    --------
    >>> image = np.arange(36, dtype=np.uint8).reshape(6, 6, 1)
    >>> pixels, keep, padded, _ = crop(image, [2.5], [3.2], 3)
    >>> pixels[0, ..., 0].tolist(), bool(padded[0])
    ([[13, 14, 15], [19, 20, 21], [25, 26, 27]], False)

    A point far outside costs nothing and gets no patch:

    >>> crop(image, [2.5, 40_000.0], [3.2, 3.0], 3)[1].tolist()
    [True, False]
    """
    _check_border(border)
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    if size > MAX_SIZE:
        raise ValueError(f"size must be at most {MAX_SIZE}, got {size}")
    height, width = image.shape[:2]
    if height < 1 or width < 1:
        raise CellConsensusInputError(f"empty image ({height} x {width} pixels)")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        rows = np.flatnonzero(bad)
        raise CellConsensusInputError(
            f"{len(rows)} point(s) with a NaN or infinite position, e.g. point {rows[0]} "
            f"at ({x[rows[0]]}, {y[rows[0]]})",
        )
    half = size // 2
    # A centre more than half a patch outside the image gives a patch without one of its
    # pixels: never a patch (and never a crop whose cost grows with the distance).
    within = (
        (x >= -size / 2) & (y >= -size / 2) & (x <= width + size / 2) & (y <= height + size / 2)
    )
    col = np.floor(np.where(within, x, 0.0)).astype(np.int64) - half
    row = np.floor(np.where(within, y, 0.0)).astype(np.int64) - half
    outside = (col < 0) | (row < 0) | (col + size > width) | (row + size > height)
    keep = within.copy()
    shift = np.zeros((len(col), 2), np.int64)
    if border == "drop":
        keep &= ~outside
    elif border == "shift":
        new_col = np.clip(col, 0, width - size) if width >= size else col * 0 + (width - size) // 2
        new_row = (
            np.clip(row, 0, height - size) if height >= size else row * 0 + (height - size) // 2
        )
        shift = np.stack([new_col - col, new_row - row], axis=1)
        col, row = new_col, new_row
        outside = np.full(len(col), width < size or height < size)
    col, row, padded, shift = col[keep], row[keep], outside[keep], shift[keep]
    if not len(col):
        return np.zeros((0, size, size, image.shape[2]), image.dtype), keep, padded, shift
    # Every window's pixels by index, mapped inside the image by the border rule: memory in
    # proportion to the patches, whatever the position.
    rule = "edge" if border == "reflect" and min(height, width) < 2 else border
    rows, row_in = _window_index(row, size, height, rule)
    cols, col_in = _window_index(col, size, width, rule)
    pixels = image[rows[:, :, None], cols[:, None, :]]
    if rule in ("constant", "shift"):
        pixels[~(row_in[:, :, None] & col_in[:, None, :])] = fill
    return np.ascontiguousarray(pixels), keep, padded, shift


#: Largest patch side: shifts (at most two sides) stay within the store's int16.
MAX_SIZE = 16_383


def far_outside(x: np.ndarray, y: np.ndarray, size: int, width: int, height: int) -> np.ndarray:
    """Points whose centre lies more than half a patch outside the image: their patch would
    hold no pixel of it, so they get none (and never a crop whose cost grows with the
    distance).

    Examples
    --------
    >>> far_outside(np.array([-5.0, -20.0]), np.array([5.0, 5.0]), 32, 100, 100).tolist()
    [False, True]
    """
    return (x < -size / 2) | (y < -size / 2) | (x > width + size / 2) | (y > height + size / 2)


def _window_index(start: np.ndarray, size: int, n: int, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """Indices into an axis of ``n`` pixels of windows starting at ``start``, and which of
    them are inside: outside ones mirrored (``numpy.pad``'s "reflect", repeated), repeated
    from the edge, or clipped (then filled by the caller)."""
    index = start[:, None] + np.arange(size)
    inside = (index >= 0) & (index < n)
    if rule == "reflect":
        period = 2 * (n - 1)
        index = np.mod(index, period)
        index = np.where(index >= n, period - index, index)
    else:
        index = np.clip(index, 0, n - 1)
    return index, inside


def image_noise(image: np.ndarray) -> float:
    """Pixel noise of an image: robust standard deviation of neighbouring differences / sqrt 2.

    The median absolute difference of horizontally neighbouring grey values
    (channel mean), on every other row, times 1.4826 / sqrt 2; at least 0.5.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> image = rng.normal(100, 4, (200, 200, 3)).round().clip(0, 255).astype(np.uint8)
    >>> round(image_noise(image), 1)  # grey = mean of three sd-4 channels: about 4 / sqrt 3
    2.4
    """
    image = image[::2]  # every other row is plenty for a robust estimate
    if image.shape[1] < 2:
        return 1.0
    # Channel sums in integers: exact, and a histogram median instead of a sort.
    grey = image[..., 0].astype(np.int32)
    for c in range(1, image.shape[2]):
        grey += image[..., c]
    diff = np.abs(np.diff(grey, axis=1)).ravel()
    cumulative = np.cumsum(np.bincount(diff))
    n = len(diff)
    middle = np.searchsorted(cumulative, [(n - 1) // 2, n // 2], side="right")
    mad = middle.mean() / image.shape[2]
    return max(float(1.4826 * mad / np.sqrt(2)), 0.5)


def contrast_score(pixels: np.ndarray, image: np.ndarray, noise: float | None = None) -> np.ndarray:
    """Empty-patch score of patches cut from ``image`` (see the module docstring).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> image = rng.normal(100, 3, (60, 60, 1)).clip(0, 255).astype(np.uint8)
    >>> image[25:35, 25:35] = 200  # a bright "cell"
    >>> pixels, *_ = crop(image, [30.0, 10.0], [30.0, 10.0], 20)
    >>> score = contrast_score(pixels, image)
    >>> bool(score[0] > 10 > 2 > score[1])
    True
    """
    if not len(pixels):
        return np.zeros(0, np.float32)
    size = pixels.shape[1]
    q = size // 4
    # Every other pixel in each direction: the statistic is robust, the cost a quarter.
    grey = pixels[:, ::2, ::2].sum(axis=3, dtype=np.uint16).astype(np.float32) / pixels.shape[3]
    level = np.median(grey.reshape(len(pixels), -1), axis=1)
    h = (q + 1) // 2
    centre = grey[:, h : grey.shape[1] - h, h : grey.shape[2] - h].reshape(len(pixels), -1)
    centre = centre - level[:, None]
    return (np.sqrt(np.mean(centre**2, axis=1)) / (noise or image_noise(image))).astype(np.float32)
