"""The demo pipeline: synthetic images -> crowd export -> consensus -> patch store.

:func:`run_demo` is what ``cellconsensus demo`` runs; it returns a :class:`DemoRun`
naming every file it wrote, and records the same in ``demo.json`` so that a
later process (``cellcnn demo``) finds them with :meth:`DemoRun.load` instead
of knowing the folder's layout.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import __version__
from .compare import compare_strategies, format_comparison
from .consensus import find_consensus
from .io import atomic_write, read_pybossa, read_voc, write_cells
from .store import contact_sheet, inspect_store, write_patches
from .synthetic import write_synthetic

__all__ = ["DemoRun", "run_demo", "DEMO_PATCH_SIZE", "MANIFEST"]

logger = logging.getLogger(__name__)

#: Patch side of the demo's store (px): the thesis' crop size.
DEMO_PATCH_SIZE = 95
#: The file in the demo folder that names everything the demo wrote.
MANIFEST = "demo.json"


@dataclass(frozen=True)
class DemoRun:
    """Where a demo run put its files, and its headline numbers.

    Attributes
    ----------
    root : Path
        The demo folder.
    images, task_runs, tasks, annotations : Path
        The synthetic images, the simulated PyBossa export (task runs and task
        list) and the Pascal VOC truth.
    cells, strategies, store, sheet : Path
        The consensus Cells table (Parquet), the strategy comparison (CSV), the
        zarr patch store and its contact sheet (PNG).
    patch_size : int
        Patch side in the store.
    summary : dict
        Headline numbers, in the order a report shows them.

    Examples
    --------
    >>> run = DemoRun.load("demo-output")  # doctest: +SKIP
    >>> run.store.name  # doctest: +SKIP
    'patches.zarr'
    """

    root: Path
    images: Path
    task_runs: Path
    tasks: Path
    annotations: Path
    cells: Path
    strategies: Path
    store: Path
    sheet: Path
    patch_size: int = DEMO_PATCH_SIZE
    summary: dict[str, Any] = field(default_factory=dict)

    def save(self) -> Path:
        """Write ``demo.json`` (paths relative to :attr:`root`), atomically."""
        record = {
            k: (os.path.relpath(v, self.root) if isinstance(v, Path) else v)
            for k, v in asdict(self).items()
            if k != "root"
        }
        text = json.dumps(record, indent=2)
        return atomic_write(Path(self.root) / MANIFEST, lambda tmp: Path(tmp).write_text(text))

    @classmethod
    def load(cls, root: str | os.PathLike) -> DemoRun:
        """Read a demo folder's ``demo.json``; a clear error if the demo did not finish.

        Raises
        ------
        FileNotFoundError
            The folder has no ``demo.json`` or lacks a file it names.
        """
        root = Path(root)
        try:
            record = json.loads((root / MANIFEST).read_text())
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{root} has no {MANIFEST}: run `cellconsensus demo --out {root}` first"
            ) from None
        paths = {k: root / v for k, v in record.items() if k not in ("patch_size", "summary")}
        missing = sorted(k for k, p in paths.items() if not p.exists())
        if missing:
            raise FileNotFoundError(
                f"{root} lacks {', '.join(missing)}: run `cellconsensus demo --out {root}` again"
            )
        return cls(root=root, patch_size=record["patch_size"], summary=record["summary"], **paths)


def run_demo(
    out: str | os.PathLike = "demo-output",
    *,
    n_images: int = 300,
    n_annotators: int = 5,
    seed: int = 0,
    n_jobs: int = -1,
    echo: Callable[[str], None] | None = None,
    progress: bool = False,
) -> DemoRun:
    """Run the whole consensus pipeline on built-in synthetic data.

    Writes synthetic fluorescence images and a simulated crowd's PyBossa export,
    reads them back, compares every strategy against the truth, finds consensus
    cells with the scale estimated from the clicks, and crops them into a patch
    store.

    Parameters
    ----------
    out : path-like, default "demo-output"
        Folder for the demo's files (replaced parts are rewritten).
    n_images, n_annotators, seed : int
        Size of the synthetic set, annotators per image, seed of everything.
    n_jobs : int, default -1
        Processes (-1: all cores).
    echo : callable, optional
        Receives the narrative of each step (the CLI passes ``print``); by
        default it is logged at INFO level.
    progress : bool, default False
        Show progress bars.

    Returns
    -------
    DemoRun
        The files written and the headline numbers (also in ``out/demo.json``).

    Examples
    --------
    >>> run = run_demo("demo-output", n_images=12, n_jobs=1)  # doctest: +SKIP
    >>> run.summary["images"]  # doctest: +SKIP
    12
    """
    say = echo or logger.info
    root = Path(out)
    say(
        f"cellconsensus {__version__} demo: {n_images} synthetic fluorescence images, "
        f"{n_annotators} simulated annotators each (seed {seed})\n"
    )
    data = write_synthetic(
        root / "synthetic",
        n_images,
        n_annotators=n_annotators,
        seed=seed,
        n_jobs=n_jobs,
        overwrite=True,
        progress=progress,
    )
    say(f"1. images, truth and crowd export written to {data.root}")
    clicks = read_pybossa(data.task_runs, data.tasks)
    truth = read_voc(data.annotations)
    say(
        f"2. read back: {len(clicks)} clicks from {data.task_runs.name}; "
        f"truth: {len(truth)} cells ({(truth['label'] == 'dead').mean():.0%} dead) "
        f"from {len(truth.attrs['image_ids'])} VOC files\n"
    )
    say("3. consensus, every strategy against the truth:")
    table = compare_strategies(
        clicks, truth=truth, auto_scale=True, n_jobs=n_jobs, progress=progress
    )
    say(format_comparison(table))
    strategies = atomic_write(root / "strategies.csv", lambda tmp: table.to_csv(tmp, index=False))
    best = table.sort_values("f1", ascending=False).iloc[0]
    thesis_f1 = table.loc[table["strategy"] == "radius-thesis", "f1"].iloc[0]
    say(f"\nbest F1: {best['strategy']} ({best['f1']:.3f}); the thesis' rule: {thesis_f1:.3f}")
    result = find_consensus(clicks, n_jobs=n_jobs)
    cells = write_cells(result.cells, root / "cells.parquet")
    say(f"\n4. consensus cells with the defaults, {result.strategy!r}:")
    say(str(result.report))
    say(f"written to {cells}")

    store = root / "patches.zarr"
    say(f"\n5. labelled patches ({DEMO_PATCH_SIZE} px, split by image 80:10:10) into {store}:")
    built = write_patches(
        result.cells,
        data.images,
        store,
        DEMO_PATCH_SIZE,
        mode="w",
        n_jobs=n_jobs,
        progress=progress,
    )
    say(str(built))
    with pd.option_context("display.width", 200, "display.float_format", "{:.2f}".format):
        say(inspect_store(store).to_string(index=False))
    sheet = contact_sheet(store, root / "patches.png", DEMO_PATCH_SIZE, per_class=10)
    say(f"contact sheet of random patches per class: {sheet}")
    run = DemoRun(
        root=root,
        images=data.images,
        task_runs=data.task_runs,
        tasks=data.tasks,
        annotations=data.annotations,
        cells=cells,
        strategies=strategies,
        store=store,
        sheet=sheet,
        summary={
            "images": n_images,
            "annotators per image": n_annotators,
            "clicks": len(clicks),
            "true cells": len(truth),
            f"consensus cells ({result.strategy!r})": result.report.n_cells,
            "best strategy (F1)": f"{best['strategy']} ({best['f1']:.3f})",
            "thesis' rule (F1)": f"{thesis_f1:.3f}",
            f"patches ({DEMO_PATCH_SIZE} px)": built.sizes[DEMO_PATCH_SIZE]["n_patches"],
            "seed": seed,
        },
    )
    run.save()
    return run
