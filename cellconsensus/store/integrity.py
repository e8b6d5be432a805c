"""Store integrity: a checksum of every chunk, recorded when a build finishes, and checks.

A build (one process or a cluster) records, as its last step before marking the
store complete, a digest of every chunk file of its size groups in
``checksums.json`` at the store's root. :func:`verify_store` compares the store
with it: a chunk file that is gone (it would read back as fill values: black
patches) or whose bytes changed (a truncated or overwritten file, which zarr
reports as a bare decompression error) is named. The quick check lists the
store's keys only; the full check reads and hashes every chunk.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync

from .layout import complete_root, group_name, open_store, store_location

__all__ = ["CHECKSUMS", "VerifyReport", "record_checksums", "verify_store"]

#: The file, at the store's root, that holds the chunk digests.
CHECKSUMS = "checksums.json"


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


async def _collect(iterator) -> list[str]:
    return [key async for key in iterator]


def _chunk_keys(zstore, size: int) -> list[str]:
    """Every chunk file of a size group (metadata files left out), sorted."""
    keys = sync(_collect(zstore.list_prefix(f"{group_name(size)}/")))
    return sorted(k for k in keys if "/c/" in k or "/c." in k)


def _read(zstore, key: str) -> bytes | None:
    buffer = sync(zstore.get(key, prototype=default_buffer_prototype()))
    return None if buffer is None else buffer.to_bytes()


def record_checksums(zstore, sizes: list[int]) -> dict[str, str]:
    """Hash every chunk of the size groups and write ``checksums.json`` (returned too)."""
    digests = {key: _digest(_read(zstore, key)) for s in sizes for key in _chunk_keys(zstore, s)}
    data = json.dumps({"algorithm": "blake2b-128", "chunks": digests}, sort_keys=True).encode()
    sync(zstore.set(CHECKSUMS, default_buffer_prototype().buffer.from_bytes(data)))
    return digests


@dataclass
class VerifyReport:
    """What :func:`verify_store` found.

    Attributes
    ----------
    store : str
        The store.
    n_chunks : int
        Chunks recorded.
    missing, corrupt : list of str
        Chunk files gone, and chunk files whose bytes differ from the record (the
        latter only with ``full=True``).
    full : bool
        Whether every chunk was read and hashed.
    recorded : bool
        Whether the store has checksums (stores built before 2026-12-02 do not).
    """

    store: str
    n_chunks: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    full: bool = False
    recorded: bool = True

    @property
    def ok(self) -> bool:
        """No chunk missing or corrupt."""
        return not (self.missing or self.corrupt)

    def __str__(self) -> str:
        if not self.recorded:
            return f"{self.store}: no checksums recorded (built before they were): not checked"
        how = "read and hashed" if self.full else "listed"
        head = f"{self.store}: {self.n_chunks} chunks {how}: "
        if self.ok:
            return head + "all present" + (" and intact" if self.full else "")
        lines = [head + f"{len(self.missing)} missing, {len(self.corrupt)} corrupt"]
        lines += [f"  missing: {k}" for k in self.missing]
        lines += [f"  corrupt: {k}" for k in self.corrupt]
        return "\n".join(lines)


def verify_store(
    store: str | os.PathLike | Any,
    *,
    full: bool = True,
    storage_options: dict | None = None,
) -> VerifyReport:
    """Check a complete store's chunks against the checksums recorded when it was built.

    Parameters
    ----------
    store : path, fsspec URL or zarr store
        A complete patch store.
    full : bool, default True
        Read and hash every chunk; ``False`` only checks that every recorded chunk file
        exists (a listing of the store: cheap).
    storage_options : dict, optional
        For fsspec URLs.

    Returns
    -------
    VerifyReport

    Raises
    ------
    StoreError, StoreIncompleteError
        Not a patch store, or not a complete one.

    Examples
    --------
    >>> from cellconsensus.synthetic import make_images
    >>> from cellconsensus.store import write_patches
    >>> data = make_images(2, style="brightfield", seed=0)
    >>> _ = write_patches(data.truth, data.images, "memory://verify.zarr", [16], mode="w")
    >>> verify_store("memory://verify.zarr").ok
    True
    """
    zstore = open_store(store, storage_options, read_only=True)
    location = store_location(store)
    attrs = complete_root(zstore, location)
    raw = _read(zstore, CHECKSUMS)
    if raw is None:
        return VerifyReport(location, recorded=False)
    recorded = json.loads(raw)["chunks"]
    present = {k for s in attrs["settings"]["sizes"] for k in _chunk_keys(zstore, s)}
    report = VerifyReport(location, n_chunks=len(recorded), full=full)
    report.missing = sorted(k for k in recorded if k not in present)
    if full:
        report.corrupt = sorted(
            k
            for k, digest in recorded.items()
            if k in present and _digest(_read(zstore, k) or b"") != digest
        )
    return report
