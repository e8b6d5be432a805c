"""Labelled patches in one chunked, self-describing zarr store, through xarray.

- :func:`write_patches` -- crop cells at one or more sizes, split them leak-free,
  write atomically/resumably; append new images;
- :func:`open_patches` -- one size as a lazy :class:`xarray.Dataset`;
- :func:`inspect_store`, :func:`contact_sheet` -- summary table and a picture;
- :func:`verify_store` -- every chunk against the checksums recorded at the build.

The layout is documented in :mod:`cellconsensus.store.layout`; a build is
stages over one plan (:mod:`.plan`, :mod:`.crop`, :mod:`.writer`,
:mod:`.provenance`) run by an executor: :mod:`.write` (one process or local
processes) or :mod:`cellconsensus.distributed.patches` (a Dask cluster).
"""

from .integrity import VerifyReport, verify_store
from .layout import default_chunk_size, group_name
from .read import StoreError, StoreIncompleteError, inspect_store, open_patches, store_info
from .sheet import contact_sheet
from .write import StoreReport, write_patches

__all__ = [
    "StoreError",
    "StoreIncompleteError",
    "StoreReport",
    "VerifyReport",
    "contact_sheet",
    "default_chunk_size",
    "group_name",
    "inspect_store",
    "open_patches",
    "store_info",
    "verify_store",
    "write_patches",
]
