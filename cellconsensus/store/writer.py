"""The write stage: one size group's resumable writer (whole chunks, recorded progress)."""

from __future__ import annotations

import numpy as np
import zarr

from ..patches import PATCH_COLUMNS, PatchReport
from .plan import plan_values

__all__ = ["SizeWriter", "FLUSH_PATCHES"]

#: Patches buffered before a write (about; whole chunks).
FLUSH_PATCHES = 2048
_COUNTS = PatchReport.COUNTS


class SizeWriter:
    """Appends whole chunks of one size group and records resumable progress."""

    def __init__(self, group: zarr.Group, chunk: int, plan: dict[str, np.ndarray], progress: dict):
        self.group, self.chunk, self.plan = group, chunk, plan
        # Write several chunks at a time: every write also touches each coordinate array.
        self.batch = chunk * max(1, FLUSH_PATCHES // chunk)  # read at run time (tests lower it)
        self.next_image = progress.get("next_image", 0)
        self.n_store = progress.get("n_written", 0)
        counts = progress.get("counts", {})
        self.report = PatchReport(**{k: counts.get(k, 0) for k in _COUNTS})
        self.report.errors = list(progress.get("errors", []))
        for _, array in group.arrays():  # drop what an interrupted run wrote past the boundary
            if array.shape and array.shape[0] != self.n_store:
                array.resize((self.n_store, *array.shape[1:]))
        self.parts: list[tuple] = []  # (owner image per row, pixels, plan rows, patch columns)
        self.buffered = 0
        self.snapshots: dict[int, tuple] = {}
        self.last_index = self.next_image - 1

    def _snapshot(self) -> tuple:
        return tuple(getattr(self.report, k) for k in _COUNTS), len(self.report.errors)

    def add(self, index: int, patches, report: PatchReport, first_row: int) -> None:
        """Buffer one image's patches (``None`` for an unreadable image) and its report."""
        self.report.merge(report)
        self.snapshots[index] = self._snapshot()
        self.last_index = index
        if patches is not None and len(patches.rows):
            owner = np.full(len(patches.rows), index)
            self.parts.append((owner, patches.pixels, patches.rows + first_row, patches.columns()))
            self.buffered += len(owner)
        if self.buffered >= self.batch:
            self.flush()

    def flush(self, final: bool = False) -> None:
        """Write the whole chunks buffered (everything when ``final``), then record progress."""
        total = self.buffered
        m = total if final else (total // self.batch) * self.batch
        if m:
            owner = np.concatenate([o for o, *_ in self.parts])
            pixels = np.concatenate([p for _, p, _, _ in self.parts])
            rows = np.concatenate([r for _, _, r, _ in self.parts])
            extra = {k: np.concatenate([c[k] for *_, c in self.parts]) for k in PATCH_COLUMNS}
            block = {"patches": pixels[:m], **{k: v[:m] for k, v in extra.items()}}
            block.update(plan_values(self.plan, rows[:m]))
            for name, values in block.items():
                array = self.group[name]
                array.resize((self.n_store + m, *array.shape[1:]))
                array[self.n_store : self.n_store + m] = values
            before = self.n_store
            self.n_store += m
            rest = slice(m, None)
            self.parts = (
                [(owner[rest], pixels[rest], rows[rest], {k: v[rest] for k, v in extra.items()})]
                if m < total
                else []
            )
            self.buffered = total - m
        if not (m or final):
            return
        if self.parts:
            # Images before the first buffered row are done; rows of that image already
            # written are written again on resume, at the same place.
            boundary = int(self.parts[0][0][0])
            done = before + int((owner[:m] < boundary).sum())
        else:
            boundary, done = self.last_index + 1, self.n_store
        self._record(boundary, done)

    def _record(self, boundary: int, done: int) -> None:
        snapshot = self.snapshots.get(boundary - 1)
        if snapshot is None:
            return  # no image finished in this run yet
        counts, n_errors = snapshot
        self.group.attrs["progress"] = {
            "next_image": boundary,
            "n_written": done,
            "counts": dict(zip(_COUNTS, counts, strict=True)),
            "errors": self.report.errors[:n_errors],
        }
        self.snapshots = {k: v for k, v in self.snapshots.items() if k >= boundary - 1}
