"""Any crowd export by its look: the one place a file's format is detected."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..errors import CellConsensusInputError
from ..tables import OutOfCanvas
from ._files import read_csv_strings
from .cellspotting import read_cellspotting_csv
from .pybossa import read_pybossa
from .tabular import read_clicks
from .zooniverse import read_zooniverse

__all__ = ["EXPORT_FORMATS", "detect_format", "read_export"]

#: What :func:`read_export` reads: ``auto`` detects one of the others.
EXPORT_FORMATS = ("auto", "cellspotting", "pybossa", "zooniverse", "clicks")


def detect_format(path: str | os.PathLike) -> str:
    """The format of a crowd export: ``cellspotting``, ``pybossa`` or ``clicks``.

    JSON is a PyBossa export, Parquet a Clicks table; a CSV is told apart by
    its header (Cell Spotting: ``task`` and ``alive_array``; Zooniverse:
    ``classification_id``, ``annotations`` and ``subject_ids``; PyBossa:
    ``task_id``; anything else is read as a Clicks table).

    Examples
    --------
    >>> detect_format("task_runs.json")
    'pybossa'
    >>> detect_format("clicks.parquet")
    'clicks'
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return "pybossa"
    if suffix in (".parquet", ".pq"):
        return "clicks"
    columns = set(read_csv_strings(os.fspath(path), nrows=0).columns)  # the header only
    if {"task", "alive_array"} <= columns:
        return "cellspotting"
    if {"classification_id", "annotations", "subject_ids"} <= columns:
        return "zooniverse"
    if "task_id" in columns:
        return "pybossa"
    return "clicks"


def read_export(
    path: str | os.PathLike,
    *,
    format: str = "auto",
    tasks: str | os.PathLike | None = None,
    canvas: tuple[float, float] | None = None,
    out_of_canvas: OutOfCanvas = "clip",
    workflow_id: int | str | None = None,
    classes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read a crowd export of any supported format into a Clicks table.

    Parameters
    ----------
    path : path-like
        A Cell Spotting CSV, a PyBossa task-run export (JSON/CSV), a Zooniverse
        classification export (CSV) or a Clicks table (CSV/Parquet).
    format : {"auto", "cellspotting", "pybossa", "zooniverse", "clicks"}, default "auto"
        ``auto``: :func:`detect_format`.
    tasks : path-like, optional
        PyBossa task list giving each task's image; a file that does not exist
        is an error, not silently ignored.
    canvas : (width, height), optional
        Canvas size in pixels (Cell Spotting: its reader's default).
    out_of_canvas : {"clip", "drop", "keep", "raise"}, default "clip"
        Policy for clicks outside the canvas.
    workflow_id : int or str, optional
        Zooniverse: the workflow to read (required when the export holds several).
    classes : sequence of str, optional
        Another label set than alive / dead (e.g. ``["alive", "dead", "mitotic"]``),
        passed to the reader (each class read as itself).

    Examples
    --------
    >>> clicks = read_export("task_runs.json", tasks="tasks.json")  # doctest: +SKIP
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {EXPORT_FORMATS}, got {format!r}")
    if tasks is not None and not Path(tasks).exists():
        raise CellConsensusInputError("task list not found", source=os.fspath(tasks))
    fmt = detect_format(path) if format == "auto" else format
    if tasks is not None and fmt != "pybossa":
        raise CellConsensusInputError(
            f"a task list only goes with a PyBossa export; this is read as {fmt!r}",
            source=os.fspath(path),
        )
    if fmt == "cellspotting":
        kwargs = {"canvas": canvas} if canvas else {}
        return read_cellspotting_csv(path, out_of_canvas=out_of_canvas, classes=classes, **kwargs)
    if fmt == "pybossa":
        return read_pybossa(path, tasks, canvas=canvas, out_of_canvas=out_of_canvas,
                            classes=classes)  # fmt: skip
    if fmt == "zooniverse":
        return read_zooniverse(path, workflow_id=workflow_id, canvas=canvas,
                               out_of_canvas=out_of_canvas, classes=classes)  # fmt: skip
    return read_clicks(path, canvas=canvas, out_of_canvas=out_of_canvas, classes=classes)
