"""Write a synthetic set to disk in the formats of real data, atomically.

Layout of the folder::

    images/<image_id>.png          the pixels (RGB for fluorescence, grey for brightfield)
    annotations/<image_id>.xml     ground truth as Pascal VOC (whole-pixel boxes)
    truth.csv                      ground truth as a table (full precision, with phenotype)
    crowd/task_runs.json           a simulated crowd as a PyBossa export ...
    crowd/tasks.json               ... and its task list (info.link = images/<image_id>)
    manifest.json                  parameters, seed, counts, library version

The set is built in a hidden sibling folder and moved into place at the end,
so an interrupted run never leaves a folder that looks complete.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from .._parallel import map_chunks
from ..io import write_pybossa, write_truth, write_voc
from ..simulate import simulate_crowd
from ..tables import split_by_image
from .render import render_image
from .styles import get_style
from .truth import make_truth

__all__ = ["write_synthetic", "SyntheticSet", "MANIFEST"]

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"


@dataclass
class SyntheticSet:
    """A synthetic set on disk.

    Attributes
    ----------
    root : Path
        The folder.
    truth : DataFrame
        The ground truth (as in ``truth.csv``).
    clicks : DataFrame
        The simulated crowd's Clicks table (as in ``crowd/task_runs.json``).
    manifest : dict
        The contents of ``manifest.json``.
    """

    root: Path
    truth: pd.DataFrame = field(repr=False)
    clicks: pd.DataFrame = field(repr=False)
    manifest: dict[str, Any] = field(repr=False)

    @property
    def images(self) -> Path:
        """Folder of ``<image_id>.png``."""
        return self.root / "images"

    @property
    def annotations(self) -> Path:
        """Folder of Pascal VOC ``<image_id>.xml``."""
        return self.root / "annotations"

    @property
    def truth_csv(self) -> Path:
        """The truth table."""
        return self.root / "truth.csv"

    @property
    def task_runs(self) -> Path:
        """The crowd's PyBossa task runs (JSON)."""
        return self.root / "crowd" / "task_runs.json"

    @property
    def tasks(self) -> Path:
        """The PyBossa task list (JSON)."""
        return self.root / "crowd" / "tasks.json"


def _save_chunk(groups, folder, spec, seed, noise, compress_level):
    for iid, cells in groups:
        pixels = render_image(cells, iid, style=spec, seed=seed, noise=noise)
        Image.fromarray(pixels).save(folder / f"{iid}.png", compress_level=compress_level)
    return [None] * len(groups)


def write_synthetic(
    out: str | os.PathLike,
    n_images: int = 20,
    *,
    style: str = "fluorescence",
    cells_per_image: tuple[int, int] | None = None,
    canvas: tuple[int, int] | None = None,
    dead_fraction: float = 0.35,
    mitotic_fraction: float = 0.0,
    cell_size: tuple[float, float] | None = None,
    noise: float = 1.0,
    n_annotators: int = 5,
    crowd: dict[str, Any] | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    overwrite: bool = False,
    compress_level: int = 1,
    progress: bool = False,
) -> SyntheticSet:
    """Generate a synthetic set and write it as real data would come.

    Parameters
    ----------
    out : path-like
        The folder to create (see the module docstring for its layout).
    n_images, style, cells_per_image, canvas, dead_fraction, mitotic_fraction, cell_size, seed
        See :func:`~cellconsensus.synthetic.make_truth`.
    noise : float, default 1.0
        See :func:`~cellconsensus.synthetic.render_image`.
    n_annotators : int, default 5
        Simulated annotators per image; 0 writes no crowd.
    crowd : dict, optional
        More keyword arguments of :func:`~cellconsensus.simulate.simulate_crowd`
        (e.g. ``{"label_noise": 0.2, "spammer_fraction": 0.1}``).
    n_jobs : int, default 1
        Processes rendering and encoding images (-1: all cores).
    overwrite : bool, default False
        Replace ``out`` if it exists (otherwise that is an error).
    compress_level : int, default 1
        PNG compression (0-9); level 1 is twice as fast to write as 6 and
        about 15 % larger, since sensor noise barely compresses.
    progress : bool, default False
        Show a progress bar.

    Returns
    -------
    SyntheticSet

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from cellconsensus.io import read_pybossa, read_voc
    >>> root = pathlib.Path(tempfile.mkdtemp()) / "synthetic"
    >>> data = write_synthetic(root, n_images=3, seed=0)
    >>> len(read_voc(data.annotations)) == len(data.truth)
    True
    >>> len(read_pybossa(data.task_runs, data.tasks)) == len(data.clicks)
    True
    """
    from .. import __version__

    target = Path(out)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True (--overwrite) to replace it")
    if not 0 <= compress_level <= 9:
        raise ValueError(f"compress_level must be in 0..9, got {compress_level}")
    spec = get_style(style)
    truth = make_truth(
        n_images,
        style=spec,
        cells_per_image=cells_per_image,
        canvas=canvas,
        cell_size=cell_size,
        dead_fraction=dead_fraction,
        mitotic_fraction=mitotic_fraction,
        seed=seed,
    )
    crowd_kwargs = dict(crowd or {})
    clicks = (
        simulate_crowd(truth, n_annotators, seed=seed, **crowd_kwargs)
        if n_annotators
        else pd.DataFrame()
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        (staging / "images").mkdir()
        for _ in map_chunks(
            _save_chunk,
            split_by_image(truth),
            staging / "images",
            spec,
            seed,
            noise,
            compress_level,
            n_jobs=n_jobs,
            desc=f"writing {spec.name} images",
            progress=progress,
        ):
            pass
        write_voc(truth, staging / "annotations", depth=spec.channels)
        write_truth(truth, staging / "truth.csv")
        if n_annotators:
            write_pybossa(
                clicks, staging / "crowd" / "task_runs.json", staging / "crowd" / "tasks.json"
            )
        manifest = {
            "format": "cellconsensus synthetic set",
            "cellconsensus_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "style": spec.name,
            "seed": seed,
            "parameters": {
                "n_images": n_images,
                "cells_per_image": list(cells_per_image or spec.cells_per_image),
                "dead_fraction": dead_fraction,
                "mitotic_fraction": mitotic_fraction,
                "cell_size": list(cell_size or spec.cell_size),
                "canvas": list(canvas or spec.canvas),
                "noise": noise,
            },
            "crowd": {"n_annotators": n_annotators, **crowd_kwargs},
            "counts": {
                "images": n_images,
                "cells": len(truth),
                "dead": int((truth["label"] == "dead").sum()),
                "labels": {str(k): int(v) for k, v in truth["label"].value_counts().items()},
                "phenotypes": {k: int(v) for k, v in truth["phenotype"].value_counts().items()},
                "clicks": len(clicks),
            },
            "image_ids": truth.attrs["image_ids"],
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("wrote %d %s images with %d cells to %s", n_images, spec.name, len(truth), target)
    return SyntheticSet(root=target, truth=truth, clicks=clicks, manifest=manifest)
