"""Read a ``cellconsensus`` patch store by its public format only (zarr + xarray conventions).

``cellcnn`` never imports the builder (:mod:`cellconsensus.store.write`): it
reads the store as any zarr v3 client would, with the names and the
completeness check the format defines in :mod:`cellconsensus.store.layout`. The format: a root attribute ``cellconsensus`` with
``format == "cellconsensus-patches"`` and ``complete == true``, and one group
``size_<N>`` per patch size holding ``patches (cell, y, x, channel) uint8``
and one-dimensional coordinates along ``cell`` (``label``, ``split``,
optionally the class probabilities ``p_alive`` (or ``p_<class>`` per class of
another label set) and ``support``, ...); the label set is in the provenance.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import zarr

from cellconsensus.errors import CellConsensusInputError
from cellconsensus.store.integrity import verify_store
from cellconsensus.store.layout import (
    StoreError,
    complete_root,
    group_name,
    open_store,
    store_location,
)
from cellconsensus.tables import Vocabulary, cells_vocabulary

__all__ = ["PatchStore", "StoreError"]


class PatchStore:
    """One size of a patch store: lazy pixels, eager coordinates.

    Parameters
    ----------
    store : path, fsspec URL or zarr store
        Written by ``cellconsensus.store.write_patches``.
    size : int
        Patch side.
    storage_options : dict, optional
        For fsspec URLs.
    verify : {"quick", "full", None}, default "quick"
        Check the store's chunks against the checksums recorded at its build
        (:func:`cellconsensus.store.verify_store`): "quick" that every chunk file
        exists (a lost chunk would read back as black patches), "full" also that
        every chunk's bytes are intact. A failing store is refused, naming the chunks.

    Attributes
    ----------
    patches : zarr.Array
        ``(cell, y, x, channel)`` uint8.
    chunk : int
        Patches per chunk.
    coords : dict of str to ndarray
        Every coordinate along ``cell`` (strings as Python objects).
    attrs : dict
        The store's ``cellconsensus`` attributes (settings, provenance).
    vocabulary : Vocabulary
        The label set of its cells (recorded in the provenance; inferred from the
        ``p_<class>`` and ``label`` coordinates for stores that predate the record).

    Examples
    --------
    >>> PatchStore("patches.zarr", 95).coords["label"][:3]  # doctest: +SKIP
    array(['alive', 'dead', 'alive'], dtype=object)
    """

    def __init__(
        self,
        store: str | os.PathLike | Any,
        size: int,
        storage_options: dict | None = None,
        verify: str | None = "quick",
    ):
        self.location = store_location(store)
        zstore = open_store(store, storage_options, read_only=True)
        attrs = complete_root(zstore, self.location)
        if verify not in ("quick", "full", None):
            raise ValueError(f"verify must be 'quick', 'full' or None, got {verify!r}")
        if verify:
            report = verify_store(zstore, full=verify == "full")
            if not report.ok:
                named = ", ".join((report.missing + report.corrupt)[:5])
                raise StoreError(
                    f"{len(report.missing)} chunk(s) missing and {len(report.corrupt)} corrupt "
                    f"(e.g. {named}): the store is damaged; rebuild it (mode='w') or restore it",
                    source=self.location,
                )
        sizes = attrs.get("settings", {}).get("sizes", [])
        if int(size) not in sizes:
            raise StoreError(f"holds patch sizes {sizes}, not {size}", source=self.location)
        root = zarr.open_group(zstore, mode="r", zarr_format=3, use_consolidated=False)
        group = root[group_name(size)]
        self.size = int(size)
        self.attrs = attrs
        self.patches = group["patches"]
        self.chunk = int(self.patches.chunks[0])
        self.coords: dict[str, np.ndarray] = {}
        for name, array in group.arrays():
            if name != "patches" and array.ndim == 1:
                values = array[:]
                self.coords[name] = values.astype(object) if values.dtype.kind in "TUO" else values
        self.vocabulary = self._vocabulary()

    def _vocabulary(self) -> Vocabulary | None:
        recorded = self.attrs.get("provenance", {}).get("labels")
        if recorded:
            return Vocabulary(tuple(recorded["classes"]), recorded.get("unsure"))
        named = {k: v for k, v in self.coords.items() if k == "label" or k.startswith("p_")}
        if "label" not in named:
            return None
        try:
            return cells_vocabulary(pd.DataFrame(named))
        except CellConsensusInputError:
            return None

    def class_proba(self, rows: np.ndarray) -> np.ndarray | None:
        """``(n, K)`` class probabilities of the given cells from their ``p_<class>``
        coordinates (``p_alive`` alone for alive / dead); None where the store has none
        (e.g. expert truth)."""
        classes = self.vocabulary.classes
        if self.vocabulary.is_alive_dead and "p_alive" in self.coords:
            p = self.coords["p_alive"][rows].astype(np.float32)
            return np.column_stack([p, 1 - p])
        names = [f"p_{c}" for c in classes]
        if not all(name in self.coords for name in names):
            return None
        return np.column_stack([self.coords[name][rows] for name in names]).astype(np.float32)

    def __len__(self) -> int:
        return int(self.patches.shape[0])

    @property
    def channels(self) -> int:
        return int(self.patches.shape[3])

    @property
    def n_chunks(self) -> int:
        return -(-len(self) // self.chunk)

    def rows(self, split: str | None) -> np.ndarray:
        """Indices of the cells of one split (all cells for None)."""
        if split is None:
            return np.arange(len(self))
        if "split" not in self.coords:
            raise StoreError("the store has no split coordinate", source=self.location)
        return np.flatnonzero(self.coords["split"] == split)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Pixels of cells ``start:stop`` (whole chunks read, as stored).

        A chunk that cannot be decoded (truncated, overwritten) is a :class:`StoreError`
        naming the chunks of the range, not a bare decompression error.
        """
        try:
            return self.patches[start:stop]
        except (RuntimeError, ValueError, OSError) as exc:
            first, last = start // self.chunk, max(start, stop - 1) // self.chunk
            raise StoreError(
                f"cannot decode patch chunk(s) {first}-{last} of size {self.size} "
                f"({type(exc).__name__}: {exc}); run `cellconsensus verify` on the store",
                source=self.location,
            ) from None
