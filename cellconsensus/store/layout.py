"""The patch store's layout: one place that names groups, variables and attributes.

::

    patches.zarr/                      zarr v3, consolidated metadata
      zarr.json                        attrs["cellconsensus"]: format, complete flag,
                                       plan hash, provenance (see below)
      size_95/                         one group per patch size
        patches   (cell, y, x, channel) uint8, chunked along cell, Blosc/Zstd
        image_id, cell_id, ...         every column of the Cells table, dim (cell,);
        cell_x, cell_y                 the cell's x and y (x, y name the pixel dims)
        split, group                   train/val/test and the split group
        padded, shifted, shift_x, shift_y, contrast
      size_128/ ...

Open it with :func:`~cellconsensus.store.open_patches` (which refuses an
incomplete store), or with plain ``xarray.open_zarr(path, group="size_95")``.
"""

from __future__ import annotations

import os
from typing import Any

import zarr
from zarr.codecs import BloscCodec
from zarr.storage import FsspecStore, LocalStore

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ROOT_KEY",
    "SCRATCH",
    "group_name",
    "default_chunk_size",
    "open_store",
    "compressor",
]

FORMAT = "cellconsensus-patches"
FORMAT_VERSION = 1
#: Key of the library's attributes in the root group's ``zarr.json``.
ROOT_KEY = "cellconsensus"
#: Scratch group of a build on a Dask cluster (:mod:`cellconsensus.distributed`), removed
#: when the build completes.
SCRATCH = "_parallel"
#: Uncompressed bytes per chunk the default chunk size aims at (see the store benchmark).
CHUNK_BYTES = 4 * 2**20


def group_name(size: int) -> str:
    """Name of the group holding patches of one size.

    Examples
    --------
    >>> group_name(95)
    'size_95'
    """
    return f"size_{int(size)}"


def default_chunk_size(size: int, channels: int) -> int:
    """Patches per chunk: about 4 MiB uncompressed, between 64 and 4096 patches.

    Examples
    --------
    >>> default_chunk_size(95, 3), default_chunk_size(48, 1)
    (154, 1820)
    """
    return int(min(4096, max(64, CHUNK_BYTES // (size * size * channels))))


def compressor(clevel: int = 3) -> BloscCodec:
    """Blosc with Zstd, no shuffle: the store's patch compressor.

    Measured on noisy 95 px RGB patches (``benchmarks/patch_store.py``): Zstd
    level 3 without shuffling compresses 1.62 times, bit-shuffling only 1.39
    (byte shuffling is a no-op on ``uint8``).
    """
    return BloscCodec(cname="zstd", clevel=clevel, shuffle="noshuffle")


def open_store(
    store: str | os.PathLike | Any, storage_options: dict | None = None, *, read_only: bool = False
):
    """A zarr store object for a local path, an fsspec URL (``memory://``, ``s3://``...) or a store.

    Examples
    --------
    >>> type(open_store("memory://example.zarr")).__name__
    'FsspecStore'
    """
    if isinstance(store, zarr.abc.store.Store):
        return store
    text = os.fspath(store)
    if "://" in text:
        return FsspecStore.from_url(
            text, storage_options=storage_options or {}, read_only=read_only
        )
    return LocalStore(text, read_only=read_only)
