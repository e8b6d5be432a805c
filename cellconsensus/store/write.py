"""Build a patch store: stream images, crop, append whole chunks, resume after interruption.

How a build stays safe
----------------------
1. Before any data is touched, the root's ``complete`` flag is set to false
   and the consolidated metadata rewritten, so no reader mistakes a store
   being written for a finished one.
2. Cells are processed in a fixed *plan* order (by image, then cell). Each
   size group receives whole chunks; after each chunk the group records how
   far the plan is done at the last image boundary (``next_image``, and
   ``n_written`` cells up to it) together with the counts of the report.
3. Re-running with the same inputs finds the store incomplete with the same
   fingerprint, truncates each group to its ``n_written`` and carries on from
   ``next_image``. Every chunk lands where an uninterrupted build puts it,
   with the same bytes.
4. At the end the provenance is written, ``complete`` set and the metadata
   consolidated.

Appending (``mode="a"``) runs the same machinery on the cells of images not
yet in the store, after recording the store's state as the *base*, so an
interrupted append resumes too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr
import zarr

from .._parallel import map_chunks
from ..errors import CellConsensusInputError
from ..images import ImageSource, as_image_source
from ..images.read import Channels, normalise_image
from ..patches import BORDERS, PATCH_COLUMNS, Border, PatchReport, cell_patches, image_noise
from ..splits import SPLITS, assign_splits, lookalike_groups
from .layout import (
    FORMAT,
    FORMAT_VERSION,
    ROOT_KEY,
    SCRATCH,
    compressor,
    default_chunk_size,
    group_name,
    open_store,
)

__all__ = ["write_patches", "StoreReport"]

logger = logging.getLogger(__name__)

Mode = Literal["auto", "w", "a"]
#: Temporary column carrying a split given as a Series through the plan's sorting.
GIVEN_SPLIT = "_given_split"
#: Patch chunks per coordinate chunk, and patches buffered before a write (about).
COORD_CHUNKS = 64
FLUSH_PATCHES = 2048
#: Cells columns renamed in the store, where x and y are the patch's pixel dimensions.
CELL_RENAMES = {"x": "cell_x", "y": "cell_y"}
_COUNTS = PatchReport.COUNTS


@dataclass
class StoreReport:
    """What one :func:`write_patches` run did.

    Attributes
    ----------
    store : str
        Where the store is.
    action : str
        ``built``, ``resumed``, ``appended`` or ``up to date``.
    sizes : dict
        Per patch size, the :class:`~cellconsensus.patches.PatchReport` of
        the whole store (as a dict).
    n_images : int
        Images read in this run.
    n_images_converted : int
        Images whose channels were converted to the store's.
    seconds : float
        Wall time of this run.
    """

    store: str
    action: str
    sizes: dict[int, dict] = field(default_factory=dict)
    n_images: int = 0
    n_images_converted: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        lines = [
            f"{self.action}: {self.store} ({self.n_images} images read in {self.seconds:.1f} s"
            + (
                f", {self.n_images_converted} converted to the store's channels"
                if self.n_images_converted
                else ""
            )
            + ")"
        ]
        for size, r in self.sizes.items():
            lines.append(
                f"  {size} px: {r['n_patches']} patches of {r['n_cells']} cells; "
                f"padded {r['n_padded']}, shifted {r['n_shifted']}; dropped: "
                f"border {r['n_dropped_border']}, low contrast {r['n_dropped_contrast']}, "
                f"unreadable image {r['n_dropped_error']}"
            )
        return "\n".join(lines)


# -- plan, splits, fingerprints -------------------------------------------------------------


def _plan(cells: pd.DataFrame) -> pd.DataFrame:
    """Cells in the fixed build order, with plain column types."""
    missing = {"image_id", "x", "y"} - set(cells.columns)
    if missing:
        raise CellConsensusInputError(
            f"cells lack column(s) {', '.join(sorted(missing))}", source="<cells>"
        )
    reserved = {"split", "group", *PATCH_COLUMNS} & set(cells.columns)
    table = cells.drop(columns=list(reserved)).reset_index(drop=True)
    # x and y name the patches' pixel dimensions: the cell's position is cell_x, cell_y.
    table = table.rename(columns=CELL_RENAMES)
    table.attrs = {}
    for column in table.columns:
        dtype = table[column].dtype
        if isinstance(dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
        ):
            table[column] = table[column].astype(str).astype(object)
    keys = ["image_id", "cell_id"] if "cell_id" in table else ["image_id", "cell_y", "cell_x"]
    return table.sort_values(keys, kind="stable", ignore_index=True)


def _sha256_table(table: pd.DataFrame) -> str:
    digest = hashlib.sha256(repr([(str(c), str(table[c].dtype)) for c in table.columns]).encode())
    digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _sha256_text(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _split_groups(plan, groups, source) -> pd.Series:
    """Split group of every cell."""
    if groups is None or groups == "image":
        return plan["image_id"].astype(object)
    if isinstance(groups, str):
        if groups != "lookalike":
            raise ValueError(
                f"groups must be 'image', 'lookalike', a Series or a dict, got {groups!r}"
            )
        mapping = lookalike_groups(source, list(pd.unique(plan["image_id"])))
    else:
        mapping = groups
    mapping = mapping if isinstance(mapping, dict) else pd.Series(mapping).to_dict()
    return plan["image_id"].map(lambda i: str(mapping.get(i, i))).astype(object)


def _splits(plan, split, fractions, groups, seed, source, existing) -> pd.Series:
    group = _split_groups(plan, groups, source)
    if split is None:
        values = pd.Series("train", index=plan.index)
    elif split == "auto":
        stratify = "label" if "label" in plan.columns else None
        values = assign_splits(
            plan.assign(image_id=group),
            fractions,
            stratify=stratify,
            seed=seed,
            existing=existing,
        ).astype(str)
    elif split in plan.columns:
        values = plan[split].astype(str)
    else:
        raise ValueError(
            f"split must be 'auto', None, a Series or a column of cells, got {split!r}"
        )
    bad = ~values.isin(SPLITS)
    if bad.any():
        raise CellConsensusInputError(
            f"unknown split {values[bad].iloc[0]!r}; expected one of {', '.join(SPLITS)}",
            source="<cells>",
            field="split",
        )
    return values.astype(object), group


# -- the work of one process: a few images, every size -------------------------------------


def _work(units, source: ImageSource, sizes, border, channels, fill, min_contrast):
    """Decode and crop a few images; per image: id, digest, error, converted, per size patches."""
    out = []
    for image_id, (x, y) in units:
        try:
            image, digest = source.load(image_id, "auto")
        except CellConsensusInputError as exc:
            out.append((image_id, None, exc, False, {}))
            continue
        converted = image.shape[2] != channels
        if converted:
            image = normalise_image(image, channels)
        noise = image_noise(image)
        per_size = {}
        for size in sizes:
            report = PatchReport()
            patches = cell_patches(image, x, y, size, border, fill, min_contrast, report, noise)
            per_size[size] = (patches, report)
        out.append((image_id, digest, None, converted, per_size))
    return out


# -- zarr ----------------------------------------------------------------------------------


def image_units(plan: pd.DataFrame) -> tuple[list[tuple[str, tuple]], np.ndarray]:
    """The plan's images in order, each with its cells' x and y, and each image's first row.

    The plan is sorted by image, so each image's cells are one contiguous run of rows.
    """
    ids = plan["image_id"].to_numpy()
    x, y = plan["cell_x"].to_numpy(float), plan["cell_y"].to_numpy(float)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(ids)].astype(int)[: len(starts)]
    units = [(str(ids[a]), (x[a:b], y[a:b])) for a, b in zip(starts, ends, strict=True)]
    return units, starts


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
    # Coordinates are small: one of their chunks spans many patch chunks (fewer files).
    encoding = {name: {"chunks": (chunk * COORD_CHUNKS,)} for name in ds.coords}
    size, channels = ds["patches"].shape[1], ds["patches"].shape[3]
    encoding["patches"] = {
        "chunks": (chunk, size, size, channels),
        "compressors": [compressor(clevel)],
    }
    return encoding


def _create_group(zstore, plan: pd.DataFrame, size: int, channels: int, chunk: int, clevel: int):
    """An empty size group: every array of the layout with zero cells."""
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


def _consolidate(store) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # "not part of the v3 spec"
        zarr.consolidate_metadata(store)


def _set_root(store, attrs: dict) -> None:
    zarr.open_group(store, mode="a", zarr_format=3).attrs[ROOT_KEY] = attrs
    _consolidate(store)


def read_root(store) -> dict | None:
    """The library's root attributes of a store, read past any consolidated metadata."""
    try:
        root = zarr.open_group(store, mode="r", zarr_format=3, use_consolidated=False)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, zarr.errors.NodeTypeValidationError):
        return None
    attrs = root.attrs.get(ROOT_KEY)
    return dict(attrs) if attrs else None


def plan_values(plan: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    """The plan's columns at ``rows``, typed as the store's coordinates."""
    out = {}
    for column, values in plan.items():
        taken = values[rows]
        out[column] = taken.astype(np.dtypes.StringDType()) if taken.dtype == object else taken
    return out


class _SizeWriter:
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


# -- the build ------------------------------------------------------------------------------


@dataclass
class _Job:
    """What both builders (serial and on a cluster) derive from their arguments."""

    sizes: list[int]
    source: ImageSource
    zstore: Any
    location: str
    settings: dict
    given: pd.DataFrame
    split: Any
    plan: pd.DataFrame
    cells_sha256: str


def _prepare(
    cells,
    images,
    store,
    sizes,
    split,
    border,
    channels,
    fill,
    min_contrast,
    chunk_size,
    clevel,
    on_error,
    mode,
    modes,
    storage_options,
) -> _Job:
    """Validate the arguments and make the plan (cells in build order, without splits)."""
    sizes = sorted({int(s) for s in ([sizes] if isinstance(sizes, int | np.integer) else sizes)})
    if not sizes or min(sizes) < 1:
        raise ValueError(f"sizes must be positive integers, got {sizes}")
    if border not in BORDERS:
        raise ValueError(f"border must be one of {BORDERS}, got {border!r}")
    if channels not in ("auto", 1, 3):
        raise ValueError(f"channels must be 'auto', 1 or 3, got {channels!r}")
    if mode not in modes:
        raise ValueError(f"mode must be one of {modes}, got {mode!r}")
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    source = as_image_source(images)
    zstore = open_store(store, storage_options)
    location = os.fspath(store) if isinstance(store, str | os.PathLike) else repr(store)
    settings = {
        "sizes": sizes,
        "border": border,
        "channels": channels,
        "fill": fill,
        "min_contrast": min_contrast,
        "chunk_size": chunk_size,
        "clevel": clevel,
        "on_error": on_error,
    }
    given = cells
    if isinstance(split, pd.Series):
        # Align by index, then carry the values through the plan's sorting as a column.
        aligned = split.reindex(cells.index)
        if aligned.isna().any():
            raise ValueError("split has no value for some cells (align it with cells' index)")
        cells = cells.assign(**{GIVEN_SPLIT: aligned.astype(str).to_numpy()})
        split = GIVEN_SPLIT
    return _Job(
        sizes,
        source,
        zstore,
        location,
        settings,
        given,
        split,
        _plan(cells),
        _sha256_table(_plan(given)),
    )


def write_patches(
    cells: pd.DataFrame,
    images,
    store: str | os.PathLike | Any,
    sizes: int | list[int] = 95,
    *,
    split: str | pd.Series | None = "auto",
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    groups: str | pd.Series | dict | None = None,
    seed: int = 0,
    border: Border = "reflect",
    channels: Channels = "auto",
    fill: int = 0,
    min_contrast: float | None = None,
    chunk_size: int | None = None,
    clevel: int = 3,
    on_error: Literal["raise", "skip"] = "raise",
    mode: Mode = "auto",
    n_jobs: int = 1,
    storage_options: dict | None = None,
    provenance: dict | None = None,
    progress: bool = False,
) -> StoreReport:
    """Crop a patch around every cell at one or more sizes and store them in zarr.

    Parameters
    ----------
    cells : DataFrame
        ``image_id, x, y`` and any other columns (a Cells table from
        :func:`~cellconsensus.find_consensus`, or a truth table); every
        column becomes a coordinate of the store. ``cells.attrs["provenance"]``
        (set by :func:`~cellconsensus.find_consensus`) is recorded.
    images : folder, mapping or ImageSource
        Where the pixels come from (:func:`~cellconsensus.images.as_image_source`).
    store : path, fsspec URL or zarr store
        E.g. ``"patches.zarr"`` or ``"memory://patches.zarr"``.
    sizes : int or list of int, default 95
        Patch sides; one group per size.
    split : "auto", str, Series or None, default "auto"
        ``"auto"``: :func:`~cellconsensus.splits.assign_splits` (stratified by
        ``label`` when there is one) with ``fractions``, ``groups`` and
        ``seed``; the name of a column of ``cells``; a Series aligned with
        ``cells``; None: every cell ``train``.
    fractions : (train, val, test), default (0.8, 0.1, 0.1)
        Target fractions of cells per split (per label when stratified).
    groups : "image", "lookalike", Series or dict, optional
        Split groups: by image (default), by look-alike images
        (:func:`~cellconsensus.splits.lookalike_groups`, which reads every
        image once more), or given (image_id -> group).
    seed : int, default 0
        Split seed.
    border : {"reflect", "constant", "shift", "drop"}, default "reflect"
        See :mod:`cellconsensus.patches`.
    channels : {"auto", 1, 3}, default "auto"
        ``"auto"``: the channels of the first image; later images are
        converted to match (grey repeated, colour to luma), and counted.
    fill : int, default 0
        Outside value for ``constant`` borders.
    min_contrast : float, optional
        Drop patches whose empty-patch score is below this.
    chunk_size : int, optional
        Patches per chunk; default about 4 MiB of pixels
        (:func:`~cellconsensus.store.layout.default_chunk_size`).
    clevel : int, default 3
        Zstd level.
    on_error : {"raise", "skip"}, default "raise"
        An unreadable image stops the build, or its cells are skipped and
        reported (the store's attributes list every such image).
    mode : {"auto", "w", "a"}, default "auto"
        ``"auto"``: build a new store, resume an interrupted build of the same
        inputs, or do nothing when it is complete; a store built from other
        inputs is an error. ``"w"``: rebuild from scratch. ``"a"``: add the
        cells of images not yet in the store (their splits continue the
        stratification; stored cells keep theirs); re-running an interrupted
        append resumes it.
    n_jobs : int, default 1
        Processes decoding and cropping images (-1: all cores).
    storage_options : dict, optional
        For fsspec URLs.
    provenance : dict, optional
        Extra provenance to record (merged over ``cells.attrs["provenance"]``).
    progress : bool, default False
        Show a progress bar.

    Returns
    -------
    StoreReport

    Raises
    ------
    CellConsensusInputError
        Bad cells, an unreadable image under ``on_error="raise"``, or a store
        that exists from other inputs under ``mode="auto"``.

    Examples
    --------
    >>> from cellconsensus.synthetic import make_images
    >>> from cellconsensus.store import open_patches
    >>> data = make_images(4, style="brightfield", seed=0)
    >>> report = write_patches(data.truth, data.images, "memory://doc.zarr", [32], mode="w")
    >>> ds = open_patches("memory://doc.zarr", 32)
    >>> ds["patches"].shape == (len(data.truth), 32, 32, 1)
    True
    """
    started = time.perf_counter()
    job = _prepare(
        cells,
        images,
        store,
        sizes,
        split,
        border,
        channels,
        fill,
        min_contrast,
        chunk_size,
        clevel,
        on_error,
        mode,
        ("auto", "w", "a"),
        storage_options,
    )
    sizes, source, zstore, location, settings = (
        job.sizes,
        job.source,
        job.zstore,
        job.location,
        job.settings,
    )
    split, plan = job.split, job.plan
    existing = read_root(zstore) if mode != "w" else None

    # What this run does, and from which state.
    base = None
    if existing is not None and mode == "a":
        if existing.get("complete"):
            base = {
                "fingerprint": existing["fingerprint"],
                "images": sorted(existing.get("image_sha256", {})),
            }
        elif existing.get("base"):
            base = existing["base"]
        else:
            raise CellConsensusInputError(
                "cannot append to an interrupted build; finish it first with mode='auto'",
                source=location,
            )
        if existing.get("settings", {}).get("sizes") != sizes:
            raise CellConsensusInputError(
                f"the store holds sizes {existing.get('settings', {}).get('sizes')}; append with the same",
                source=location,
            )
        plan = plan[~plan["image_id"].isin(set(base["images"]))].reset_index(drop=True)
        action = "appended"
    else:
        action = "built"
    fixed = _stored_splits(zstore, sizes[0]) if base else None
    split_values, group_values = _splits(plan, split, fractions, groups, seed, source, fixed)
    plan = plan.assign(split=split_values, group=group_values).drop(
        columns=[GIVEN_SPLIT], errors="ignore"
    )
    fingerprint = _sha256_text(
        base["fingerprint"] if base else None, _sha256_table(plan), sorted(settings.items())
    )

    if existing is not None:
        if existing.get("fingerprint") == fingerprint and existing.get("complete"):
            logger.info("store %s is complete and up to date", location)
            return StoreReport(
                store=location, action="up to date", seconds=time.perf_counter() - started
            )
        if base and not len(plan):
            return StoreReport(
                store=location, action="up to date", seconds=time.perf_counter() - started
            )
        resuming = existing.get("fingerprint") == fingerprint
        if not resuming and mode == "auto":
            raise CellConsensusInputError(
                "the store exists and was built from other cells, images or settings; "
                "pass mode='w' to rebuild it or mode='a' to add images",
                source=location,
            )
        if resuming:
            action = "resumed" if action == "built" else action
    else:
        resuming = False

    fresh = existing is None
    if resuming:
        _remove_partial_files(zstore)
    attrs = dict(existing) if existing else {}
    if attrs.pop("parallel", None):
        # An interrupted build on a cluster: this builder starts it over (its progress
        # records are not ours) and drops its scratch arrays.
        drop_scratch(zstore)
    attrs.update(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        complete=False,
        fingerprint=fingerprint,
        settings=settings,
        base=base,
        created=attrs.get("created") or datetime.now(UTC).isoformat(timespec="seconds"),
    )
    if fresh:
        zarr.open_group(zstore, mode="w", zarr_format=3)
    _set_root(zstore, attrs)

    # The plan is sorted by image: each image's cells are one contiguous run of rows.
    units, starts = image_units(plan)
    image_order = [image_id for image_id, _ in units]
    plan_columns = {c: plan[c].to_numpy() for c in plan.columns}
    n_channels = attrs.get("channels") or (channels if channels != "auto" else None)
    if n_channels is None:
        n_channels = _first_channels(source, image_order, on_error)
    attrs["channels"] = n_channels
    chunk = chunk_size or default_chunk_size(max(sizes), n_channels)

    writers = {}
    for size in sizes:
        name = group_name(size)
        if fresh:
            _create_group(zstore, plan, size, n_channels, chunk, clevel)
        group = zarr.open_group(zstore, path=name, mode="a", zarr_format=3)
        stored = dict(group.attrs.get("progress") or {})
        if action == "appended" and not resuming:
            stored = {**stored, "next_image": 0}  # the append plan starts at its first image
            group.attrs["progress"] = stored
        writers[size] = _SizeWriter(group, chunk, plan_columns, stored)

    start = min(w.next_image for w in writers.values())
    digests: dict[str, str] = dict(attrs.get("image_sha256") or {})
    todo = units[start:]
    results = map_chunks(
        _work,
        todo,
        source,
        sizes,
        border,
        n_channels,
        fill,
        min_contrast,
        n_jobs=n_jobs,
        desc="patches",
        progress=progress,
    )
    n_images = n_converted = 0
    for index, (image_id, (_, digest, error, converted, per_size)) in enumerate(results, start):
        n_images += 1
        n_converted += converted
        if error is not None:
            if on_error == "raise":
                raise error
            logger.warning("skipped an unreadable image: %s", error)
        else:
            digests[image_id] = digest
        for size, writer in writers.items():
            if index < writer.next_image:
                continue
            if error is not None:
                n = len(units[index][1][0])
                report = PatchReport(n_cells=n, n_dropped_error=n, errors=[str(error)])
                writer.add(index, None, report, int(starts[index]))
            else:
                patches, report = per_size[size]
                writer.add(index, patches, report, int(starts[index]))
    for writer in writers.values():
        writer.flush(final=True)

    _finish(
        zstore,
        attrs,
        job,
        digests,
        len(plan),
        len(image_order),
        base,
        (split, fractions, groups, seed, provenance),
    )
    report = StoreReport(
        store=location,
        action=action,
        sizes={s: asdict(w.report) for s, w in writers.items()},
        n_images=n_images,
        n_images_converted=n_converted,
        seconds=time.perf_counter() - started,
    )
    logger.info("%s", report)
    return report


def _finish(zstore, attrs, job: _Job, digests, n_cells, n_images, base, split_args) -> None:
    """Record history and provenance, then mark the store complete (the last write)."""
    split, fractions, groups, seed, provenance = split_args
    history = list(attrs.get("history") or [])
    history.append(
        {
            "action": "append" if base else "build",
            "cells_sha256": job.cells_sha256,
            "n_cells": n_cells,
            "n_images": n_images,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    attrs.update(
        complete=True,
        base=None,
        updated=datetime.now(UTC).isoformat(timespec="seconds"),
        image_sha256=digests,
        history=history,
        provenance=_provenance(
            job.given,
            job.cells_sha256,
            job.source,
            digests,
            job.settings,
            split,
            fractions,
            groups,
            seed,
            provenance,
            attrs.get("provenance"),
        ),
    )
    _set_root(zstore, attrs)


def drop_scratch(zstore) -> None:
    """Delete the scratch group of a build on a cluster, if there is one."""
    # Past the consolidated metadata, which may predate the scratch group.
    root = zarr.open_group(zstore, mode="r+", zarr_format=3, use_consolidated=False)
    if SCRATCH in root:
        del root[SCRATCH]


def _remove_partial_files(store) -> None:
    """Delete the temporary files a killed local write may leave (``*.partial``)."""
    root = getattr(store, "root", None)
    if root is None:
        return
    for path in Path(root).rglob("*.partial"):
        path.unlink(missing_ok=True)


def _first_channels(source: ImageSource, image_order: list[str], on_error: str) -> int:
    for image_id in image_order:
        try:
            return int(source.load(image_id, "auto")[0].shape[2])
        except CellConsensusInputError:
            if on_error == "raise":
                raise
    return 1


def _stored_splits(store, size: int) -> pd.Series:
    ds = xr.open_zarr(store, group=group_name(size), consolidated=False, zarr_format=3)
    table = pd.DataFrame({"group": ds["group"].values, "split": ds["split"].values})
    return table.drop_duplicates("group").set_index("group")["split"]


def _provenance(
    cells, cells_sha256, source, digests, settings, split, fractions, groups, seed, extra, previous
):
    from .. import __version__

    combined = hashlib.sha256(
        "".join(f"{k}:{v}\n" for k, v in sorted(digests.items())).encode()
    ).hexdigest()
    record = {
        "library": {"name": "cellconsensus", "version": __version__},
        "consensus": dict(cells.attrs.get("provenance") or {}),
        "inputs": {
            "cells": {
                "sha256": cells_sha256,
                "n_cells": len(cells),
                "columns": [str(c) for c in cells.columns],
            },
            "images": {"source": repr(source), "n_images": len(digests), "sha256": combined},
        },
        "crop": {k: settings[k] for k in ("sizes", "border", "channels", "fill", "min_contrast")},
        "split": {
            "method": "given" if split == GIVEN_SPLIT else split,
            "fractions": list(fractions),
            "seed": seed,
            "groups": groups if isinstance(groups, str) or groups is None else "given",
        },
    }
    record["consensus"].update(extra or {})
    if previous:
        record["previous"] = previous
    return record
