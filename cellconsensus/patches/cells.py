"""Patches of many cells: from a Cells table and its images, with their patch columns."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import CellConsensusInputError
from ..images import as_image_source
from ..images.read import Channels
from ..tables import split_by_image
from .crop import (
    Border,
    Patches,
    PatchReport,
    _check_border,
    contrast_score,
    crop,
    far_outside,
)

logger = logging.getLogger(__name__)

__all__ = ["extract_patches", "cell_patches", "patch_table", "CellPatches", "PATCH_COLUMNS"]


def extract_patches(
    cells: pd.DataFrame,
    images,
    size: int,
    *,
    border: Border = "reflect",
    channels: Channels = "auto",
    fill: int = 0,
    min_contrast: float | None = None,
    on_error: Literal["raise", "skip"] = "raise",
) -> Patches:
    """Crop a patch around every cell, in memory.

    For stores larger than memory, use :func:`~cellconsensus.store.write_patches`,
    which streams.

    Parameters
    ----------
    cells : DataFrame
        With ``image_id``, ``x``, ``y`` (a Cells or truth table).
    images : folder, mapping or ImageSource
        Where the pixels come from (see :func:`~cellconsensus.images.as_image_source`).
    size : int
        Side of the patches.
    border : {"reflect", "constant", "shift", "drop"}, default "reflect"
        See the module docstring.
    channels : {"auto", 1, 3}, default "auto"
        See :func:`~cellconsensus.images.read_image`; patches of different
        images must agree (use 1 or 3 to force it).
    fill : int, default 0
        Outside value for ``constant`` (and small images under ``shift``).
    min_contrast : float, optional
        Drop patches whose empty-patch score is below this.
    on_error : {"raise", "skip"}, default "raise"
        An unreadable image raises, or its cells are skipped and reported.

    Returns
    -------
    Patches

    Examples
    --------
    >>> from cellconsensus.synthetic import make_images
    >>> data = make_images(2, style="brightfield", seed=0)
    >>> patches = extract_patches(data.truth, data.images, 32)
    >>> patches.pixels.shape == (len(data.truth), 32, 32, 1)
    True
    """
    _check_border(border)
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    source = as_image_source(images)
    report = PatchReport()
    blocks, tables = [], []
    for image_id, rows in split_by_image(cells, list(pd.unique(cells["image_id"]))):
        try:
            image, _ = source.load(image_id, channels)
        except CellConsensusInputError as exc:
            if on_error == "raise":
                raise
            report.n_cells += len(rows)
            report.n_dropped_error += len(rows)
            report.errors.append(str(exc))
            continue
        pixels, table = patch_table(rows, image, size, border, fill, min_contrast, report)
        blocks.append(pixels)
        tables.append(table)
    _check_channels(blocks)
    n_channels = blocks[0].shape[3] if blocks else (3 if channels == 3 else 1)
    pixels = np.concatenate(blocks) if blocks else np.zeros((0, size, size, n_channels), np.uint8)
    table = pd.concat(tables, ignore_index=True) if tables else _empty_table(cells)
    return Patches(pixels=pixels, cells=table, size=size, report=report)


def _empty_table(cells: pd.DataFrame) -> pd.DataFrame:
    table = cells.iloc[:0].copy()
    for name, dtype in PATCH_COLUMNS.items():
        table[name] = pd.Series(dtype=dtype)
    return table


#: Columns added to the cells that get a patch, and their dtypes.
PATCH_COLUMNS = {
    "padded": bool,
    "shifted": bool,
    "shift_x": np.int16,
    "shift_y": np.int16,
    "contrast": np.float32,
}


def _check_channels(blocks: list[np.ndarray]) -> None:
    counts = {b.shape[3] for b in blocks}
    if len(counts) > 1:
        raise CellConsensusInputError(
            f"images mix grey and colour ({sorted(counts)} channels); pass channels=1 or 3",
            source="<images>",
        )


@dataclass
class CellPatches:
    """Patches of one image's cells, as arrays (the fast path of the store builder).

    Attributes
    ----------
    pixels : ndarray
        ``(k, size, size, C)``.
    rows : ndarray of int
        Which of the given cells each patch belongs to.
    padded, shifted : ndarray of bool
    shift : ndarray of int16
        ``(k, 2)``: ``shift_x``, ``shift_y``.
    contrast : ndarray of float32
    """

    pixels: np.ndarray
    rows: np.ndarray
    padded: np.ndarray
    shifted: np.ndarray
    shift: np.ndarray
    contrast: np.ndarray

    def columns(self) -> dict[str, np.ndarray]:
        """The patch columns (:data:`PATCH_COLUMNS`) as arrays."""
        return {
            "padded": self.padded,
            "shifted": self.shifted,
            "shift_x": self.shift[:, 0],
            "shift_y": self.shift[:, 1],
            "contrast": self.contrast,
        }


def cell_patches(
    image: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    size: int,
    border: Border,
    fill: int,
    min_contrast: float | None,
    report: PatchReport,
    noise: float | None = None,
) -> CellPatches:
    """Patches of one image's cells with their flags; counts go into ``report``.

    ``noise`` (see :func:`contrast_score`) may be given when the same image
    is cropped at several sizes.
    """
    pixels, keep, padded, shift = crop(image, x, y, size, border, fill)
    rows = np.flatnonzero(keep)
    far = int(far_outside(np.asarray(x), np.asarray(y), size, image.shape[1], image.shape[0]).sum())
    if far:
        logger.warning("%d cell(s) more than half a patch outside their image: no patch", far)
    report.n_cells += len(keep)
    report.n_dropped_outside += far
    report.n_dropped_border += len(keep) - len(rows) - far
    contrast = contrast_score(pixels, image, noise)
    if min_contrast is not None:
        enough = contrast >= min_contrast
        report.n_dropped_contrast += int((~enough).sum())
        pixels, rows, padded, shift, contrast = (
            a[enough] for a in (pixels, rows, padded, shift, contrast)
        )
    shifted = (shift != 0).any(axis=1)
    report.n_patches += len(rows)
    report.n_padded += int(padded.sum())
    report.n_shifted += int(shifted.sum())
    return CellPatches(pixels, rows, padded, shifted, shift.astype(np.int16), contrast)


def patch_table(
    rows: pd.DataFrame,
    image: np.ndarray,
    size: int,
    border: Border,
    fill: int,
    min_contrast: float | None,
    report: PatchReport,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Patches of one image's cells and their rows with the patch columns; counts into ``report``."""
    result = cell_patches(
        image, rows["x"].to_numpy(), rows["y"].to_numpy(), size, border, fill, min_contrast, report
    )
    table = rows.iloc[result.rows].copy()
    for name, values in result.columns().items():
        table[name] = values
    return result.pixels, table
