"""Whole images of any size through a fully convolutional network, tile by tile.

An image is padded by ``margin`` pixels on every side (its edge pixels repeated, by
default) and cut into square tiles of side ``tile`` (a multiple of :data:`MULTIPLE`)
that overlap by ``2 * margin``; of each tile's output only the central part is kept,
so every output pixel saw at least ``margin`` pixels of context on every side and the
stitched map equals what the network would give on the whole image (up to its
receptive field). An image smaller than a tile is one tile, padded.

The padding matters at the image's edge. Mirrored (``"symmetric"``), a cell cut by the
edge becomes a whole cell centred on it: the detector then finds a cell *on* the edge
where an annotator either marked the cut cell's visible centre, a few pixels inside,
or nothing (on LDC, 40 of a detector's 48 extra cells on its test images lay on the
edge). With the edge pixels repeated (``"edge"``, :data:`PADDING`) it stays a cut cell.
Measured on LDC (look-alike-free split): a detector trained and tuned mirrored, its
tiles padded afterwards each way, detection F1 on the validation images at their best
threshold (the test images at that threshold in brackets): mirrored 0.920 (0.920),
edge 0.954 (0.945), the image's median grey 0.944 (0.944), zeros 0.789 (0.747).
Trained and tuned with edge padding, the default detector's test F1 is 0.947 and
0.946 on two seeds (``benchmarks/detection.py``; 0.924 mirrored).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["TileGrid", "tile_grid", "MARGIN", "MULTIPLE", "PADDING", "PADDINGS"]

#: Tile sides are multiples of this (the detector downsamples three times).
MULTIPLE = 8
#: Pixels of context every tile keeps around its central part (padded beyond the image's
#: edges); the detector's training crops reach as far beyond them.
MARGIN = 32
#: How images are padded beyond their edges (``numpy.pad`` modes), and the default.
PADDINGS = ("edge", "symmetric")
PADDING = "edge"


def _round_up(n: int, multiple: int = MULTIPLE) -> int:
    return -(-n // multiple) * multiple


@dataclass(frozen=True)
class TileGrid:
    """How one image is cut: ``tile`` side, ``margin``, and the tiles' origins.

    Attributes
    ----------
    shape : (H, W)
        The image's size.
    tile, margin : int
        Tile side and the context kept around each tile's central part.
    rows, cols : int
        Tiles down and across.
    padding : {"edge", "symmetric"}
        How the image is padded beyond its edges.
    """

    shape: tuple[int, int]
    tile: int
    margin: int
    rows: int
    cols: int
    padding: str = PADDING

    @property
    def stride(self) -> int:
        """Side of each tile's central part."""
        return self.tile - 2 * self.margin

    def __len__(self) -> int:
        return self.rows * self.cols

    def tiles(self, image: np.ndarray) -> np.ndarray:
        """``(n, tile, tile, C)`` tiles of ``image`` (``(H, W, C)``), row by row."""
        height, width = self.shape
        s, m = self.stride, self.margin
        pad_y = self.rows * s + 2 * m - height - m
        pad_x = self.cols * s + 2 * m - width - m
        padded = np.pad(image, ((m, pad_y), (m, pad_x), (0, 0)), mode=self.padding)
        return np.stack([padded[r * s : r * s + self.tile, c * s : c * s + self.tile]
                         for r, c in self._origins()])  # fmt: skip

    def stitch(self, outputs: np.ndarray) -> np.ndarray:
        """The ``(H, W, C)`` map from the tiles' ``(n, tile, tile, C)`` outputs."""
        s, m = self.stride, self.margin
        out = np.empty((self.rows * s, self.cols * s, outputs.shape[-1]), outputs.dtype)
        for (r, c), tile in zip(self._origins(), outputs, strict=True):
            out[r * s : (r + 1) * s, c * s : (c + 1) * s] = tile[m : m + s, m : m + s]
        return out[: self.shape[0], : self.shape[1]]

    def _origins(self) -> Iterator[tuple[int, int]]:
        return ((r, c) for r in range(self.rows) for c in range(self.cols))


def tile_grid(
    shape: tuple[int, ...], *, margin: int = MARGIN, max_tile: int = 768, padding: str = PADDING
) -> TileGrid:
    """The tiling of an image of ``shape`` (``(H, W)`` or ``(H, W, C)``): one tile when
    the image and its margins fit in ``max_tile``, else tiles of ``max_tile``.

    Examples
    --------
    >>> grid = tile_grid((219, 225), margin=32)
    >>> grid.tile, len(grid)
    (296, 1)
    >>> grid = tile_grid((1024, 1024), margin=32, max_tile=512)
    >>> grid.tile, grid.rows, grid.cols
    (512, 3, 3)
    """
    height, width = int(shape[0]), int(shape[1])
    if height < 1 or width < 1:
        raise ValueError(f"an image of {height} x {width} pixels has nothing to tile")
    if margin < 0 or max_tile % MULTIPLE or max_tile <= 2 * margin:
        raise ValueError(
            f"max_tile must be a multiple of {MULTIPLE} larger than twice the margin "
            f"({margin}), got {max_tile}"
        )
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {', '.join(PADDINGS)}, got {padding!r}")
    tile = min(_round_up(max(height, width) + 2 * margin), max_tile)
    stride = tile - 2 * margin
    rows, cols = -(-height // stride), -(-width // stride)
    return TileGrid((height, width), tile, margin, rows, cols, padding)
