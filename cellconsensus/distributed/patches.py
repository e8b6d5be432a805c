"""Build a patch store on a Dask cluster: every worker writes its own chunk-aligned region.

How a parallel build stays safe
-------------------------------
1. The plan (cells in build order, splits, fingerprint) is made exactly as by
   :func:`cellconsensus.store.write_patches`, so both builders make the same store.
2. Where each patch goes must be known before any is written. When no patch
   can be dropped (``border`` other than ``"drop"``, no ``min_contrast``,
   ``on_error="raise"``) patch *i* is cell *i* of the plan. Otherwise a first
   pass on the workers decodes and crops every image and returns which cells
   keep a patch (a few bytes per cell); the images are then decoded twice.
3. The client creates every array at its final length, with the root's
   ``complete`` flag false, and writes the coordinates it already knows.
4. Task *k* owns patch chunks ``[k * C, (k + 1) * C)`` of every size group: it
   decodes the images those patches come from, crops, writes its chunks (no two
   tasks write one chunk), then its patch flags into its own chunk of a
   scratch array and, last, its ``done`` entry (with the images' digests).
5. Re-running with the same inputs resumes: tasks whose ``done`` entry is set
   are skipped. When every task is done the client copies the patch flags into
   the coordinates, deletes the scratch arrays, writes the provenance and sets
   ``complete`` -- the last write, as in the serial build.

A worker that dies mid-task loses nothing: the task runs again elsewhere and
rewrites the same chunks with the same bytes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict

import numpy as np
import pandas as pd
import zarr

from ..patches import PATCH_COLUMNS, PatchReport
from ..store.crop import crop_images
from ..store.layout import (
    SCRATCH,
    create_group,
    drop_scratch,
    group_name,
    open_store,
    read_root,
    set_root,
)
from ..store.plan import BuildPlan, image_units, plan_values, resolve_action
from ..store.provenance import finish_build, now, started_record
from ..store.write import StoreReport
from ._client import gather_all, resolve_client

__all__ = ["write_patches", "build_on_cluster", "task_ranges", "TASK_PATCHES"]

logger = logging.getLogger(__name__)

#: Patches per task, about (rounded to whole chunks).
TASK_PATCHES = 4096


def task_ranges(lengths: list[int], chunk: int, task_patches: int) -> tuple[int, int]:
    """Patches per task (whole chunks) and the number of tasks covering arrays of ``lengths``.

    Task ``k`` owns positions ``[k * per_task, (k + 1) * per_task)`` of every
    array: chunk-aligned, so no two tasks write one chunk.

    Examples
    --------
    >>> task_ranges([1000, 700], chunk=64, task_patches=300)
    (320, 4)
    """
    per_task = chunk * max(1, -(-task_patches // chunk))
    return per_task, max((-(-n // per_task) for n in lengths), default=0)


def _survivors(units, source, sizes, crop):
    """First pass: per image, which of its cells keep a patch at each size, and the counts."""
    return [
        (
            digest,
            error,
            {size: patches.rows for size, (patches, _) in per_size.items()},
            {size: report for size, (_, report) in per_size.items()},
        )
        for _, digest, error, _, per_size in crop_images(units, source, sizes, **crop)
    ]


def _write_task(k: int, store, storage_options, source, task: dict, crop: dict) -> None:
    """Crop and write the chunks of task ``k`` (every size), its flags, then its done entry.

    ``task["cells"]`` holds the plan rows any size needs (in plan order, so grouped by
    image): each is cropped once per size. ``task["positions"][size]`` picks, for each
    store row ``start, start + 1, ...`` of that size, its cell among them.
    """
    zstore = open_store(store, storage_options)
    done = zarr.open_array(zstore, path=f"{SCRATCH}/done", mode="r+")
    if done[k]:
        return  # finished by an earlier run (or an earlier attempt of this one)
    units, starts = image_units(task["cells"])
    positions = task["positions"]
    groups = {s: zarr.open_group(zstore, path=group_name(s), mode="r+") for s in positions}
    n = len(task["cells"])
    pixels = {s: np.zeros((n, *g["patches"].shape[1:]), np.uint8) for s, g in groups.items()}
    flags = {s: np.zeros((n, len(PATCH_COLUMNS))) for s in positions}
    digests = {}
    made = crop_images(units, source, sorted(positions), **crop)
    for first, (image_id, digest, error, _, per_size) in zip(starts, made, strict=True):
        if error is not None:
            raise error
        digests[image_id] = digest
        for size, (patches, _) in per_size.items():
            rows = first + patches.rows
            pixels[size][rows] = patches.pixels
            columns = patches.columns()
            flags[size][rows] = np.stack([columns[c] for c in PATCH_COLUMNS], axis=1)
    for size, group in groups.items():
        pick = positions[size]
        region = slice(task["start"], task["start"] + len(pick))
        group["patches"][region] = pixels[size][pick]
        zarr.open_array(zstore, path=f"{SCRATCH}/flags_{size}", mode="r+")[region] = flags[size][
            pick
        ]
    done[k] = json.dumps(digests)  # last: the task is done


def build_on_cluster(
    job: BuildPlan,
    mode: str,
    provenance: dict | None,
    client,
    task_patches: int = TASK_PATCHES,
    storage_options: dict | None = None,
) -> StoreReport:
    """The cluster executor of :func:`cellconsensus.store.write_patches` (``client=``): the
    same plan, every worker writing its own chunk-aligned region (see the module's
    description); the store equals one built in one process.
    """
    client = resolve_client(client)
    settings, zstore, sizes = job.settings, job.zstore, list(job.settings.sizes)
    border, min_contrast, on_error = settings.border, settings.min_contrast, settings.on_error
    plan, fingerprint = job.assign()
    existing = read_root(zstore) if mode != "w" else None
    action, _ = resolve_action(
        existing, fingerprint, mode=mode, location=job.location, parallel=True
    )
    if action == "up to date":
        return StoreReport(job.location, action)
    image_order = list(pd.unique(plan["image_id"]))
    if (existing or {}).get("parallel", {}).get("finishing"):
        # Killed while finishing: every task's work is in the size groups already.
        attrs = dict(existing)
        reports = {}
        for s in sizes:
            progress = zarr.open_group(zstore, path=group_name(s), mode="r").attrs["progress"]
            reports[s] = PatchReport(**progress["counts"], errors=list(progress["errors"]))
        counts = (len(plan), len(image_order))
        return _finish(job, attrs, attrs["image_sha256"], reports, counts, provenance)

    n_channels, chunk = job.channels_and_chunk(existing, [str(i) for i in image_order])
    crop = settings.crop(n_channels)

    # Which plan rows keep a patch, per size.
    can_drop = border == "drop" or min_contrast is not None or on_error == "skip"
    reports = {s: PatchReport() for s in sizes}
    digests: dict[str, str] = {}
    if can_drop:
        units, starts = image_units(plan)
        batches = [units[i : i + 32] for i in range(0, len(units), 32)]
        futures = client.map(
            _survivors, batches, source=job.source, sizes=sizes, crop=crop, pure=False
        )
        results = [r for batch in client.gather(futures) for r in batch]
        kept = {s: [] for s in sizes}
        for (image_id, (ux, _)), first, (digest, error, rows, per_size) in zip(
            units, starts, results, strict=True
        ):
            if error is not None:
                if on_error == "raise":
                    raise error
                logger.warning("skipped an unreadable image: %s", error)
                lost = PatchReport(n_cells=len(ux), n_dropped_error=len(ux), errors=[str(error)])
                for s in sizes:
                    reports[s].merge(lost)
                continue
            digests[image_id] = digest
            for s in sizes:
                kept[s].append(first + rows[s])
                reports[s].merge(per_size[s])
        kept = {s: np.concatenate(v) if v else np.zeros(0, int) for s, v in kept.items()}
    else:
        kept = {s: np.arange(len(plan)) for s in sizes}

    per_task, n_tasks = task_ranges([len(v) for v in kept.values()], chunk, task_patches)
    attrs = started_record(
        existing,
        fingerprint,
        settings.as_dict(),
        None,
        channels=n_channels,
        parallel={"n_tasks": n_tasks, "task_patches": per_task},
    )
    if existing is None:
        attrs["created"] = now()
        zarr.open_group(zstore, mode="w", zarr_format=3)
        plan_columns = {c: plan[c].to_numpy() for c in plan.columns}
        for s in sizes:
            create_group(zstore, plan, s, n_channels, chunk, settings.clevel)
            group = zarr.open_group(zstore, path=group_name(s), mode="r+")
            for _, array in group.arrays():
                array.resize((len(kept[s]), *array.shape[1:]))
            for name, values in plan_values(plan_columns, kept[s]).items():
                group[name][:] = values
            zarr.create_array(
                zstore,
                name=f"{SCRATCH}/flags_{s}",
                shape=(len(kept[s]), len(PATCH_COLUMNS)),
                chunks=(per_task, len(PATCH_COLUMNS)),
                dtype="float64",
                fill_value=0.0,
            )
        zarr.create_array(
            zstore,
            name=f"{SCRATCH}/done",
            shape=(n_tasks,),
            chunks=(1,),
            dtype=str,
            fill_value="",
        )
        # Last: the root marks a build of this plan only once its layout exists (a run
        # killed before finds no root attributes and starts afresh).
        set_root(zstore, attrs)

    futures = []
    for k in range(n_tasks):
        rows = {s: v[k * per_task : (k + 1) * per_task] for s, v in kept.items()}
        union = np.unique(np.concatenate(list(rows.values())))
        task = {
            "start": k * per_task,
            "cells": plan.iloc[union][["image_id", "cell_x", "cell_y"]],
            "positions": {s: np.searchsorted(union, r) for s, r in rows.items() if len(r)},
        }
        futures.append(
            client.submit(
                _write_task,
                k,
                job.location,
                storage_options,
                job.source,
                task,
                crop,
                pure=False,
            )
        )
    gather_all(client, futures)  # on a failure: no task still writing when it is raised

    # Every task done: flags into the coordinates, scratch away, provenance, complete.
    done = zarr.open_array(zstore, path=f"{SCRATCH}/done", mode="r")[:]
    for entry in done:
        digests.update(json.loads(entry))
    for s in sizes:
        flags = zarr.open_array(zstore, path=f"{SCRATCH}/flags_{s}", mode="r")[:]
        group = zarr.open_group(zstore, path=group_name(s), mode="r+")
        for i, (name, dtype) in enumerate(PATCH_COLUMNS.items()):
            group[name][:] = flags[:, i].astype(dtype)
        if not can_drop:
            reports[s] = PatchReport(
                n_cells=len(plan),
                n_patches=len(plan),
                n_padded=int(flags[:, 0].sum()),
                n_shifted=int(flags[:, 1].sum()),
            )
        group.attrs["progress"] = {
            "next_image": len(image_order),
            "n_written": len(kept[s]),
            "counts": {k: getattr(reports[s], k) for k in PatchReport.COUNTS},
            "errors": reports[s].errors,
        }
    # Recorded before the scratch goes: a run killed from here on finishes from the groups.
    attrs["parallel"] = {**attrs["parallel"], "finishing": True}
    attrs["image_sha256"] = digests
    set_root(zstore, attrs)
    counts = (len(plan), len(image_order))
    return _finish(job, attrs, digests, reports, counts, provenance, action)


def _finish(job, attrs, digests, reports, counts, provenance, action="resumed") -> StoreReport:
    """Drop the scratch arrays, record provenance, mark the store complete (``counts``: the
    plan's cells and images)."""
    n_cells, n_images = counts
    drop_scratch(job.zstore)
    attrs.pop("parallel")
    finish_build(job, attrs, digests, n_cells, n_images, None, provenance)
    return StoreReport(
        store=job.location,
        action=action,
        sizes={s: asdict(r) for s, r in reports.items()},
        n_images=n_images,
    )


def write_patches(cells, images, store, sizes=95, *, client=None, **options) -> StoreReport:
    """:func:`cellconsensus.store.write_patches` on the current Dask client (or ``client``):
    the same function, the same store, for code that imports it from here.

    Examples
    --------
    >>> from distributed import Client
    >>> from cellconsensus.synthetic import make_images
    >>> data = make_images(4, style="brightfield", seed=0)
    >>> with Client(processes=False, dashboard_address=":0"):  # doctest: +SKIP
    ...     report = write_patches(data.truth, data.images, "patches.zarr", [32])
    """
    from ..store import write_patches as build

    return build(cells, images, store, sizes, client=resolve_client(client), **options)
