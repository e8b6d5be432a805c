"""Cropping one image: the border policies, patch flags, and the empty-patch score."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal, get_args

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["BORDERS", "Border", "Patches", "PatchReport", "crop", "image_noise", "contrast_score"]


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
    n_dropped_border, n_dropped_contrast, n_dropped_error : int
        Cells without a patch: window outside the image under ``drop``,
        contrast below ``min_contrast``, or image unreadable under ``on_error="skip"``.
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
        Which points got a patch (all but those dropped under ``drop``).
    padded : ndarray of bool
        Per kept point: pixels from outside the image.
    shift : ndarray of int
        Per kept point: ``(shift_x, shift_y)`` the window moved under ``shift``.

    Examples
    --------
    >>> image = np.arange(36, dtype=np.uint8).reshape(6, 6, 1)
    >>> pixels, keep, padded, _ = crop(image, [2.5], [3.2], 3)
    >>> pixels[0, ..., 0].tolist(), bool(padded[0])
    ([[13, 14, 15], [19, 20, 21], [25, 26, 27]], False)
    """
    _check_border(border)
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    height, width = image.shape[:2]
    half = size // 2
    col = np.floor(np.asarray(x, dtype=float)).astype(np.int64) - half
    row = np.floor(np.asarray(y, dtype=float)).astype(np.int64) - half
    outside = (col < 0) | (row < 0) | (col + size > width) | (row + size > height)
    keep = np.ones(len(col), bool)
    shift = np.zeros((len(col), 2), np.int64)
    if border == "drop":
        keep = ~outside
        col, row = col[keep], row[keep]
        padded, shift = np.zeros(len(col), bool), shift[keep]
    elif border == "shift":
        new_col = (
            np.clip(col, 0, max(width - size, 0))
            if width >= size
            else col * 0 + (width - size) // 2
        )
        new_row = (
            np.clip(row, 0, max(height - size, 0))
            if height >= size
            else row * 0 + (height - size) // 2
        )
        shift = np.stack([new_col - col, new_row - row], axis=1)
        col, row = new_col, new_row
        padded = np.full(len(col), width < size or height < size)
    else:
        padded = outside
    if not len(col):
        return np.zeros((0, size, size, image.shape[2]), image.dtype), keep, padded, shift
    # Pad once so that every window lies inside, then gather all windows at once.
    reach = int(
        max(
            size, -col.min(), -row.min(), (col + size - width).max(), (row + size - height).max(), 0
        )
    )
    pad = ((reach, reach), (reach, reach), (0, 0))
    if border == "reflect" and min(height, width) > 1:
        canvas = np.pad(image, pad, mode="reflect")
    elif border == "reflect":
        canvas = np.pad(image, pad, mode="edge")
    else:
        canvas = np.pad(image, pad, mode="constant", constant_values=fill)
    windows = sliding_window_view(canvas, (size, size), axis=(0, 1))
    pixels = windows[row + reach, col + reach].transpose(0, 2, 3, 1)
    return np.ascontiguousarray(pixels), keep, padded, shift


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
