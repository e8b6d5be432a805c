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

Every read and write of the format's structure lives here: the root
attributes (:func:`read_root`, :func:`set_root`, :func:`complete_root`, the
completeness check ``cellcnn`` reuses), the size groups (:func:`create_group`),
the stored splits and the scratch space of a build on a cluster.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
import zarr
from zarr.codecs import BloscCodec
from zarr.storage import FsspecStore, LocalStore

from ..errors import CellConsensusInputError
from ..patches import PATCH_COLUMNS

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ROOT_KEY",
    "SCRATCH",
    "group_name",
    "default_chunk_size",
    "open_store",
    "store_location",
    "compressor",
    "StoreError",
    "StoreIncompleteError",
    "read_root",
    "set_root",
    "complete_root",
    "create_group",
    "size_group_ready",
    "stored_splits",
    "drop_scratch",
    "remove_partial_files",
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
#: Patch chunks per coordinate chunk: coordinates are small, so one of their chunks spans
#: many patch chunks (fewer files).
COORD_CHUNKS = 64


class StoreError(CellConsensusInputError):
    """Not a patch store, or not one that holds what was asked for."""


class StoreIncompleteError(StoreError):
    """The store is being written, or a build was interrupted: it must not be read."""


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


def store_location(store: str | os.PathLike | Any) -> str:
    """How errors and reports name a store: its path or URL, else the store object's repr.

    Examples
    --------
    >>> store_location("patches.zarr")
    'patches.zarr'
    """
    return os.fspath(store) if isinstance(store, str | os.PathLike) else repr(store)


# -- the root attributes ----------------------------------------------------------------


def _consolidate(store) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # "not part of the v3 spec"
        zarr.consolidate_metadata(store)


def read_root(store) -> dict | None:
    """The library's root attributes of a store, read past any consolidated metadata
    (``None`` where there is no store or no such attribute)."""
    try:
        root = zarr.open_group(store, mode="r", zarr_format=3, use_consolidated=False)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, zarr.errors.NodeTypeValidationError):
        return None
    attrs = root.attrs.get(ROOT_KEY)
    return dict(attrs) if attrs else None


def set_root(store, attrs: dict) -> None:
    """Write the library's root attributes and consolidate the metadata.

    Marking a store complete consolidates first: a kill between the two writes then never
    leaves a complete store whose consolidated metadata (what readers open) predates its
    last arrays.
    """
    if attrs.get("complete"):
        _consolidate(store)
    zarr.open_group(store, mode="a", zarr_format=3).attrs[ROOT_KEY] = attrs
    _consolidate(store)


def complete_root(store, location: str) -> dict:
    """The root attributes of a complete store.

    Raises
    ------
    StoreError
        Not a patch store.
    StoreIncompleteError
        A build was interrupted or is running.

    Examples
    --------
    >>> complete_root(open_store("memory://nothing.zarr"), "nothing.zarr")
    Traceback (most recent call last):
    ...
    cellconsensus.store.layout.StoreError: nothing.zarr: not a cellconsensus patch store
    """
    attrs = read_root(store)
    if not attrs or attrs.get("format") != FORMAT:
        raise StoreError("not a cellconsensus patch store", source=location)
    if not attrs.get("complete"):
        raise StoreIncompleteError(
            "the store is incomplete (a build was interrupted or is running); "
            "re-run write_patches with the same inputs to resume it",
            source=location,
        )
    return attrs


# -- size groups, splits, scratch -------------------------------------------------------


def _template(plan: pd.DataFrame, size: int, channels: int) -> xr.Dataset:
    coords = {}
    for column in plan.columns:
        values = plan[column].to_numpy()
        dtype = np.dtypes.StringDType() if values.dtype == object else values.dtype
        coords[column] = ("cell", np.zeros(0, dtype=dtype))
    for name, dtype in PATCH_COLUMNS.items():
        coords[name] = ("cell", np.zeros(0, dtype=dtype))
    data = np.zeros((0, size, size, channels), np.uint8)
    return xr.Dataset({"patches": (("cell", "y", "x", "channel"), data)}, coords=coords)


def _encoding(ds: xr.Dataset, chunk: int, clevel: int) -> dict:
    encoding = {name: {"chunks": (chunk * COORD_CHUNKS,)} for name in ds.coords}
    size, channels = ds["patches"].shape[1], ds["patches"].shape[3]
    encoding["patches"] = {
        "chunks": (chunk, size, size, channels),
        "compressors": [compressor(clevel)],
    }
    return encoding


def create_group(zstore, plan: pd.DataFrame, size: int, channels: int, chunk: int, clevel: int):
    """An empty size group: every array of the layout with zero cells (one coordinate per
    column of the plan, the patch flags, the pixels)."""
    template = _template(plan, size, channels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        template.to_zarr(
            zstore,
            group=group_name(size),
            mode="w",
            encoding=_encoding(template, chunk, clevel),
            zarr_format=3,
            consolidated=False,
        )
    # Last: a group whose creation was interrupted is made again.
    zarr.open_group(zstore, path=group_name(size), mode="a", zarr_format=3).attrs[LAYOUT_KEY] = True


#: Group attribute set once every array of a size group exists.
LAYOUT_KEY = "layout_complete"


def size_group_ready(zstore, size: int) -> bool:
    """Whether a size group exists with all its arrays (stores from before the marker count
    when they recorded progress)."""
    try:
        group = zarr.open_group(
            zstore, path=group_name(size), mode="r", zarr_format=3, use_consolidated=False
        )
    except (FileNotFoundError, KeyError, zarr.errors.GroupNotFoundError):
        return False
    except zarr.errors.NodeTypeValidationError:
        return False
    return bool(group.attrs.get(LAYOUT_KEY)) or "progress" in group.attrs


def stored_splits(store, size: int) -> pd.Series:
    """The split of every split group already in the store (``group -> split``)."""
    ds = xr.open_zarr(store, group=group_name(size), consolidated=False, zarr_format=3)
    table = pd.DataFrame({"group": ds["group"].values, "split": ds["split"].values})
    return table.drop_duplicates("group").set_index("group")["split"]


def drop_scratch(zstore) -> None:
    """Delete the scratch group of a build on a cluster, if there is one."""
    # Past the consolidated metadata, which may predate the scratch group.
    root = zarr.open_group(zstore, mode="r+", zarr_format=3, use_consolidated=False)
    if SCRATCH in root:
        del root[SCRATCH]


def remove_partial_files(store) -> None:
    """Delete the temporary files a killed local write may leave (``*.partial``)."""
    root = getattr(store, "root", None)
    if root is None:
        return
    for path in Path(root).rglob("*.partial"):
        path.unlink(missing_ok=True)
