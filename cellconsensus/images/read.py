"""Decode one image file into a normalised ``uint8`` array.

The normalisation rule, applied to every file:

1. **Decoding.** ``*.tif``/``*.tiff`` through tifffile, everything else
   (PNG, JPEG, BMP, ...) through Pillow.
2. **Modes.** Palette (``P``) and other colour modes (``CMYK``, ``YCbCr``, ...)
   become RGB; bilevel (``1``) becomes grey 0/255; an alpha channel
   (``LA``, ``RGBA``, 4-channel TIFF) is dropped, the colour values kept.
3. **Intensity.** 8-bit data is kept as it is. Integer data with more bits
   (``I;16``, ``uint16`` TIFF, ``I``) is scaled by its bit depth, taken as the
   smallest of 10, 12, 14, 16 or 32 bits that holds the image's maximum:
   ``value * 255 / (2**bits - 1)``, rounded. So a 12-bit camera image in a
   16-bit file keeps its full range. Floating-point data is taken to lie in
   ``[0, 1]`` (clipped) and scaled by 255.
4. **Channels.** ``channels="auto"`` returns ``(H, W, 1)`` for grey images,
   including RGB files whose three channels are equal everywhere (as the LDC
   PNGs are), and ``(H, W, 3)`` otherwise; ``channels=1`` converts colour to
   grey with the ITU-R 601 luma weights (as Pillow's ``L``); ``channels=3``
   repeats grey into three channels.

Errors (missing, corrupt or truncated files, decompression bombs, stacks
that are not one plane) raise :class:`~cellconsensus.errors.CellConsensusInputError`
naming the file.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import CellConsensusInputError

__all__ = ["read_image", "normalise_image", "Channels", "MAX_PIXELS", "TIFF_SUFFIXES"]

Channels = Literal["auto", 1, 3]

#: Default limit on width x height: larger files are refused as possible
#: decompression bombs (a 10,000 x 10,000 RGB image is 300 MB decoded).
MAX_PIXELS = 100_000_000

TIFF_SUFFIXES = (".tif", ".tiff")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _to_uint8(data: np.ndarray) -> np.ndarray:
    if data.dtype == np.uint8:
        return data
    if data.dtype == bool:
        return data.astype(np.uint8) * 255
    if np.issubdtype(data.dtype, np.floating):
        return np.rint(np.clip(np.nan_to_num(data), 0, 1) * 255).astype(np.uint8)
    if not np.issubdtype(data.dtype, np.integer):
        raise TypeError(f"unsupported pixel type {data.dtype}")
    data = np.clip(data, 0, None)
    top = int(data.max()) if data.size else 0
    bits = next((b for b in (8, 10, 12, 14, 16) if top < 2**b), 32)
    if bits == 8:
        return data.astype(np.uint8)
    return np.rint(data.astype(np.float64) * (255 / (2**bits - 1))).astype(np.uint8)


def normalise_image(data: np.ndarray, channels: Channels = "auto") -> np.ndarray:
    """Apply the intensity and channel rules to a decoded array.

    Parameters
    ----------
    data : ndarray
        ``(H, W)``, ``(H, W, C)`` with ``C`` in 1..4, or ``(C, H, W)`` with
        ``C`` in 1..4 (a planar TIFF); any integer, bool or float dtype.
    channels : {"auto", 1, 3}, default "auto"
        See the module docstring.

    Returns
    -------
    ndarray
        ``(H, W, C)`` ``uint8``, ``C`` 1 or 3.

    Examples
    --------
    >>> normalise_image(np.full((2, 2), 4095, np.uint16))[0, 0, 0]  # 12-bit white
    np.uint8(255)
    >>> normalise_image(np.zeros((2, 2, 3), np.uint8)).shape  # equal channels: grey
    (2, 2, 1)
    """
    if data.ndim == 3 and data.shape[0] <= 4 < min(data.shape[1:]):
        data = np.moveaxis(data, 0, -1)  # planar (C, H, W) -> (H, W, C)
    if data.ndim == 2:
        data = data[..., None]
    if data.ndim != 3 or data.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected one 2-D plane with 1-4 channels, got shape {data.shape}")
    if data.shape[2] in (2, 4):  # drop alpha
        data = data[..., : data.shape[2] - 1]
    data = _to_uint8(data)
    grey = data.shape[2] == 1 or (
        np.array_equal(data[..., 0], data[..., 1]) and np.array_equal(data[..., 1], data[..., 2])
    )
    if channels == "auto":
        return np.ascontiguousarray(data[..., :1] if grey else data)
    if channels == 1:
        if grey:
            return np.ascontiguousarray(data[..., :1])
        return np.rint(data.astype(np.float32) @ _LUMA).astype(np.uint8)[..., None]
    if channels == 3:
        return np.ascontiguousarray(np.repeat(data[..., :1], 3, axis=2) if grey else data)
    raise ValueError(f"channels must be 'auto', 1 or 3, got {channels!r}")


class _OwnPixelLimit:
    """Pillow's global pixel limit lifted while any of our decodes runs, and put back when
    the last one ends (our own limit, with a clearer message, applies instead). Counted
    under a lock: threads that overlap never leave the limit lifted for the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: int | None = None

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                self._saved = Image.MAX_IMAGE_PIXELS
                Image.MAX_IMAGE_PIXELS = None
            self._users += 1

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                Image.MAX_IMAGE_PIXELS = self._saved


_OWN_PIXEL_LIMIT = _OwnPixelLimit()


def _decode_pillow(blob: bytes, source: str, max_pixels: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with _OWN_PIXEL_LIMIT:
            with Image.open(io.BytesIO(blob)) as image:
                _check_size(image.width * image.height, image.size, source, max_pixels)
                image.load()
                if image.mode == "1":
                    image = image.convert("L")
                elif image.mode not in (
                    "L",
                    "LA",
                    "RGB",
                    "RGBA",
                    "I;16",
                    "I;16B",
                    "I;16L",
                    "I",
                    "F",
                ):
                    image = image.convert("RGB")
                elif image.mode in ("I;16B", "I;16L"):
                    image = image.convert("I")
                return np.asarray(image)


def _decode_tiff(blob: bytes, source: str, max_pixels: int) -> np.ndarray:
    import tifffile

    with tifffile.TiffFile(io.BytesIO(blob)) as tif:
        page = tif.pages[0]
        shape = page.shape
        _check_size(int(np.prod(shape[:2])), (shape[1], shape[0]), source, max_pixels)
        if len(tif.series) and len(tif.series[0].shape) > 3:
            raise ValueError(f"a stack of shape {tif.series[0].shape}; extract one plane first")
        return tif.asarray(key=0)


def _check_size(n_pixels: int, size, source: str, max_pixels: int) -> None:
    if n_pixels > max_pixels:
        raise CellConsensusInputError(
            f"image of {size[0]} x {size[1]} px exceeds max_pixels={max_pixels:,} "
            "(a possible decompression bomb; raise the limit if it is genuine)",
            source=source,
        )


def read_image(
    path: str | os.PathLike,
    *,
    channels: Channels = "auto",
    max_pixels: int = MAX_PIXELS,
    blob: bytes | None = None,
) -> np.ndarray:
    """Read an image file as ``(H, W, C)`` ``uint8`` by the rule in the module docstring.

    Parameters
    ----------
    path : path-like
        PNG, JPEG, TIFF or any format Pillow reads.
    channels : {"auto", 1, 3}, default "auto"
        Grey images give 1 channel and colour images 3 under ``"auto"``.
    max_pixels : int, default 100,000,000
        Refuse larger images (decompression bombs).
    blob : bytes, optional
        The file's bytes, when the caller has read them already (e.g. to hash them).

    Returns
    -------
    ndarray

    Raises
    ------
    CellConsensusInputError
        A missing, corrupt, truncated or too large file, naming it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "grey16.png"
    >>> Image.fromarray(np.full((4, 5), 65535, np.uint16)).save(path)
    >>> image = read_image(path)
    >>> image.shape, image.dtype.name, int(image.max())
    ((4, 5, 1), 'uint8', 255)
    """
    if channels not in ("auto", 1, 3):
        raise ValueError(f"channels must be 'auto', 1 or 3, got {channels!r}")
    source = os.fspath(path)
    try:
        data = blob if blob is not None else Path(source).read_bytes()
    except FileNotFoundError:
        raise CellConsensusInputError("image file not found", source=source) from None
    except OSError as exc:
        raise CellConsensusInputError(f"cannot read the file: {exc}", source=source) from None
    if not data:
        raise CellConsensusInputError("empty file (0 bytes)", source=source)
    decode = _decode_tiff if source.lower().endswith(TIFF_SUFFIXES) else _decode_pillow
    try:
        pixels = decode(data, source, max_pixels)
        return normalise_image(pixels, channels)
    except CellConsensusInputError:
        raise
    except UnidentifiedImageError:
        raise CellConsensusInputError(
            "not an image file Pillow can identify", source=source
        ) from None
    except (OSError, SyntaxError, ValueError, TypeError, EOFError, IndexError) as exc:
        raise CellConsensusInputError(
            f"corrupt or truncated image: {exc.__class__.__name__}: {exc}", source=source
        ) from None
