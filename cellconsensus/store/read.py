"""Open, summarise and look at a patch store."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .layout import (
    StoreError,
    StoreIncompleteError,
    complete_root,
    group_name,
    open_store,
    store_location,
)

__all__ = ["open_patches", "store_info", "inspect_store", "StoreIncompleteError", "StoreError"]


def store_info(store: str | os.PathLike | Any, storage_options: dict | None = None) -> dict:
    """The library's attributes of a complete store (format, sizes, provenance, ...).

    Raises
    ------
    StoreError
        Not a patch store.
    StoreIncompleteError
        An interrupted or running build.
    """
    zstore = open_store(store, storage_options)
    location = store_location(store)
    return complete_root(zstore, location)


def open_patches(
    store: str | os.PathLike | Any,
    size: int | None = None,
    *,
    storage_options: dict | None = None,
) -> xr.Dataset:
    """Open the patches of one size as a lazy :class:`xarray.Dataset`.

    Parameters
    ----------
    store : path, fsspec URL or zarr store
        A complete patch store.
    size : int, optional
        Patch side; may be omitted when the store holds one size.
    storage_options : dict, optional
        For fsspec URLs.

    Returns
    -------
    Dataset
        ``patches (cell, y, x, channel)`` uint8 (dask-backed, chunked as
        stored) with every cell column, ``split``, ``group``, ``padded``,
        ``shifted``, ``shift_x``, ``shift_y`` and ``contrast`` as coordinates;
        ``attrs`` holds the store's provenance and settings.

    Raises
    ------
    StoreIncompleteError
        The store is not complete (never returns half a store).

    Examples
    --------
    >>> ds = open_patches("patches.zarr", 95)  # doctest: +SKIP
    >>> ds.sel(cell=ds.split == "train")["patches"]  # doctest: +SKIP
    """
    attrs = store_info(store, storage_options)
    sizes = attrs["settings"]["sizes"]
    if size is None:
        if len(sizes) != 1:
            raise ValueError(f"the store holds sizes {sizes}; pass size=")
        size = sizes[0]
    if int(size) not in sizes:
        raise ValueError(f"the store holds sizes {sizes}, not {size}")
    zstore = open_store(store, storage_options)
    ds = xr.open_zarr(zstore, group=group_name(size), consolidated=True, zarr_format=3)
    ds.attrs = {
        key: attrs[key]
        for key in (
            "format",
            "format_version",
            "created",
            "updated",
            "settings",
            "channels",
            "provenance",
            "history",
        )
        if key in attrs
    }
    ds.attrs["size"] = int(size)
    return ds


def inspect_store(
    store: str | os.PathLike | Any, storage_options: dict | None = None
) -> pd.DataFrame:
    """One row per (size, split, label): counts, padding and empty-patch statistics.

    Examples
    --------
    >>> inspect_store("patches.zarr")  # doctest: +SKIP
    """
    attrs = store_info(store, storage_options)
    rows = []
    for size in attrs["settings"]["sizes"]:
        ds = open_patches(store, size, storage_options=storage_options)
        table = pd.DataFrame(
            {
                "split": ds["split"].values.astype(object),
                "label": ds["label"].values.astype(object) if "label" in ds.coords else "all",
                "padded": ds["padded"].values,
                "shifted": ds["shifted"].values,
                "contrast": ds["contrast"].values,
            }
        )
        for (split, label), g in table.groupby(["split", "label"], sort=True):
            rows.append(
                {
                    "size": size,
                    "split": split,
                    "label": label,
                    "patches": len(g),
                    "padded": int(g["padded"].sum()),
                    "shifted": int(g["shifted"].sum()),
                    "contrast_p5": float(np.percentile(g["contrast"], 5)),
                    "contrast_median": float(g["contrast"].median()),
                }
            )
    return pd.DataFrame(rows)
