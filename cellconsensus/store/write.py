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

The build is stages over one plan, shared with the cluster's builder
(:mod:`cellconsensus.distributed.patches`), so both make the same bytes:
plan (:mod:`.plan`: settings, cells in build order, splits, fingerprint, what
the run does), crop (:mod:`.crop`), write (:mod:`.writer`), finish
(:mod:`.provenance`); :mod:`.layout` owns every read and write of the format.
This module is the serial (or local-process) executor.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd
import zarr

from .._parallel import map_chunks
from ..images.read import Channels
from ..patches import Border, PatchReport
from .crop import crop_images
from .layout import (
    create_group,
    drop_scratch,
    group_name,
    read_root,
    remove_partial_files,
    set_root,
    size_group_ready,
    stored_splits,
)
from .plan import (
    BuildPlan,
    BuildSettings,
    append_base,
    image_units,
    prepare_build,
    resolve_action,
)
from .provenance import finish_build, now, started_record
from .writer import SizeWriter

__all__ = ["write_patches", "StoreReport"]

logger = logging.getLogger(__name__)

Mode = Literal["auto", "w", "a"]


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
                f"unreadable image {r['n_dropped_error']}, "
                f"far outside the image {r.get('n_dropped_outside', 0)}"
            )
        return "\n".join(lines)


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
    client=None,
    task_patches: int | None = None,
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
    client : distributed.Client or str, optional
        Build on this Dask cluster instead (:mod:`cellconsensus.distributed.patches`;
        a client, a scheduler address or ``"local:N"`` as in
        :func:`~cellconsensus.find_consensus`):
        every worker crops and writes its own chunk-aligned region; the store is
        byte-identical to a build in one process. ``images`` and ``store`` must then
        be reachable from every worker under the same name (a shared file system or
        an fsspec URL); ``mode="a"`` is not available there.
    task_patches : int, optional
        With ``client``: patches per task (rounded up to whole chunks; default
        :data:`~cellconsensus.distributed.patches.TASK_PATCHES`).
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
    modes = ("auto", "w") if client is not None else ("auto", "w", "a")
    if mode not in modes:
        raise ValueError(f"mode must be one of {modes}, got {mode!r}")
    if client is not None and not isinstance(store, str | os.PathLike):
        raise TypeError(
            "store must be a path or URL every worker can open (a shared file system or an "
            f"fsspec URL such as s3://...), got {type(store).__name__}"
        )
    settings = BuildSettings.of(
        sizes,
        border=border,
        channels=channels,
        fill=fill,
        min_contrast=min_contrast,
        chunk_size=chunk_size,
        clevel=clevel,
        on_error=on_error,
    )
    job = prepare_build(
        cells,
        images,
        store,
        settings,
        split=split,
        fractions=fractions,
        groups=groups,
        seed=seed,
        storage_options=storage_options,
    )
    if client is not None:
        from ..distributed import connect
        from ..distributed.patches import TASK_PATCHES, build_on_cluster

        with connect(client) as connected:
            report = build_on_cluster(
                job, mode, provenance, connected, task_patches or TASK_PATCHES, storage_options
            )
    else:
        report = _build(job, mode, provenance, n_jobs, progress)
    report.seconds = time.perf_counter() - started
    logger.info("%s", report)
    return report


def _build(job: BuildPlan, mode: str, provenance: dict | None, n_jobs: int, progress: bool):
    """The serial (or local-process) executor."""
    settings = job.settings
    sizes, zstore, location = list(settings.sizes), job.zstore, job.location

    # Plan: what this run does, and from which state.
    existing = read_root(zstore) if mode != "w" else None
    base = append_base(existing, sizes, location) if existing is not None and mode == "a" else None
    plan, fingerprint = job.assign(base, stored_splits(zstore, sizes[0]) if base else None)
    action, resuming = resolve_action(
        existing, fingerprint, mode=mode, location=location, base=base, n_planned=len(plan)
    )
    if action == "up to date":
        logger.info("store %s is complete and up to date", location)
        return StoreReport(store=location, action=action)
    fresh = existing is None
    if resuming:
        remove_partial_files(zstore)
    if existing and existing.get("parallel"):
        # An interrupted build on a cluster: this builder starts it over (its progress
        # records are not ours) and drops its scratch arrays.
        drop_scratch(zstore)
    attrs = started_record(
        {k: v for k, v in (existing or {}).items() if k != "parallel"},
        fingerprint,
        settings.as_dict(),
        base,
        created=(existing or {}).get("created") or now(),
    )
    if fresh:
        zarr.open_group(zstore, mode="w", zarr_format=3)

    # The plan is sorted by image: each image's cells are one contiguous run of rows.
    units, starts = image_units(plan)
    image_order = [image_id for image_id, _ in units]
    plan_columns = {c: plan[c].to_numpy() for c in plan.columns}
    n_channels, chunk = job.channels_and_chunk(existing, image_order)
    attrs["channels"] = n_channels
    groups = {}
    for size in sizes:
        # A build killed before its groups existed (or while making one) makes them now.
        if fresh or not size_group_ready(zstore, size):
            create_group(zstore, plan, size, n_channels, chunk, settings.clevel)
        groups[size] = zarr.open_group(zstore, path=group_name(size), mode="a", zarr_format=3)
        if action == "appended" and not resuming:
            # The append plan starts at its first image; recorded before the root says an
            # append is under way, so that a resumed append never skips images.
            groups[size].attrs["progress"] = {
                **dict(groups[size].attrs.get("progress") or {}),
                "next_image": 0,
            }
    # The root says "a build of this plan, incomplete" only once its layout exists.
    set_root(zstore, attrs)
    writers = {
        size: SizeWriter(group, chunk, plan_columns, dict(group.attrs.get("progress") or {}))
        for size, group in groups.items()
    }

    # Crop and write, from the first image some size still needs.
    start = min(w.next_image for w in writers.values())
    digests: dict[str, str] = dict(attrs.get("image_sha256") or {})
    results = map_chunks(
        crop_images,
        units[start:],
        job.source,
        sizes,
        *settings.crop(n_channels).values(),
        n_jobs=n_jobs,
        desc="patches",
        progress=progress,
    )
    n_images = n_converted = 0
    for index, (image_id, (_, digest, error, converted, per_size)) in enumerate(results, start):
        n_images += 1
        n_converted += converted
        if error is not None:
            if settings.on_error == "raise":
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

    finish_build(job, attrs, digests, len(plan), len(image_order), base, provenance)
    return StoreReport(
        store=location,
        action=action,
        sizes={s: asdict(w.report) for s, w in writers.items()},
        n_images=n_images,
        n_images_converted=n_converted,
    )
