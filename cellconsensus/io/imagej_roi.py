"""ImageJ / Fiji ROI files: consensus cells as multi-point selections (``RoiSet.zip``).

Fiji's ROI Manager opens a ``.zip`` of ``.roi`` files (*File > Open*, or drag it onto
the image): here one multi-point ROI per label (``alive``, ``dead``, ``unsure``),
named after it, per image. The encoding is ImageJ's own (``ij.io.RoiEncoder``,
version 228): a 64-byte big-endian header, the points as integer offsets from the
bounding box and, with the sub-pixel flag, as float positions, then a second header
holding the name. Coordinates are ours (pixel ``i`` covers ``[i, i + 1)``), which
is ImageJ's sub-pixel convention.
"""

from __future__ import annotations

import io
import math
import struct
import zipfile

import numpy as np

from ..errors import CellConsensusInputError

__all__ = ["point_roi", "roi_set"]

#: ImageJ's ROI type code of a point (multi-point) selection.
POINT = 10
#: The options flag for float coordinates.
SUB_PIXEL = 128
VERSION = 228
HEADER = 64
HEADER2 = 64
#: Most points one ROI holds (the count is a 16-bit field).
MAX_POINTS = 65_535
#: Positions must be below this (the bounding box is stored in 16-bit fields).
MAX_POSITION = 32_767


def point_roi(x, y, name: str) -> bytes:
    """The bytes of one ImageJ multi-point ROI at positions ``x``, ``y`` named ``name``.

    Examples
    --------
    >>> data = point_roi([10.5, 20.25], [5.0, 7.5], "alive")
    >>> data[:4], len(data)
    (b'Iout', 162)
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(x)
    if not 0 < n <= MAX_POINTS:
        raise CellConsensusInputError(
            f"an ImageJ point ROI holds 1 to {MAX_POINTS:,} points, got {n:,}"
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise CellConsensusInputError("ImageJ ROI positions must be finite")
    if min(x.min(), y.min()) < 0 or max(x.max(), y.max()) >= MAX_POSITION:
        raise CellConsensusInputError(
            f"ImageJ ROI positions must lie in [0, {MAX_POSITION:,}) px (16-bit fields)"
        )
    left, top = math.floor(x.min()), math.floor(y.min())
    right, bottom = math.floor(x.max()) + 1, math.floor(y.max()) + 1
    header = bytearray(HEADER)
    header[0:4] = b"Iout"
    struct.pack_into(">hBx4hH", header, 4, VERSION, POINT, top, left, bottom, right, n)
    struct.pack_into(">h", header, 50, SUB_PIXEL)
    coordinates = (
        (np.floor(x) - left).astype(">i2").tobytes()
        + (np.floor(y) - top).astype(">i2").tobytes()
        + x.astype(">f4").tobytes()
        + y.astype(">f4").tobytes()
    )
    header2_offset = HEADER + len(coordinates)
    struct.pack_into(">i", header, 60, header2_offset)
    header2 = bytearray(HEADER2)
    text = name.encode("utf-16-be")
    struct.pack_into(">ii", header2, 16, header2_offset + HEADER2, len(name))
    return bytes(header) + coordinates + bytes(header2) + text


def roi_set(rois: dict[str, tuple]) -> bytes:
    """A ``RoiSet.zip``: ``{name: (x, y)}`` as one point ROI each, in order.

    Examples
    --------
    >>> blob = roi_set({"alive": ([1.5], [2.5]), "dead": ([8.0, 9.0], [3.0, 4.0])})
    >>> sorted(zipfile.ZipFile(io.BytesIO(blob)).namelist())
    ['alive.roi', 'dead.roi']
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (x, y) in rois.items():
            archive.writestr(f"{name}.roi", point_roi(x, y, name))
    return buffer.getvalue()
