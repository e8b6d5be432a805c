"""Plain CSV/Parquet files of the Clicks, Cells and ground-truth tables."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..errors import CellConsensusInputError
from ..tables import OutOfCanvas, validate_cells, validate_clicks, validate_truth
from ._files import atomic_write, read_csv_strings
from .viewers import VIEWER_FORMATS, read_viewer, write_viewer
from .voc import read_voc

__all__ = [
    "read_clicks",
    "write_clicks",
    "read_cells",
    "write_cells",
    "read_truth",
    "write_truth",
    "read_table",
    "write_table",
]

FORMATS = ("csv", "parquet")
#: The report of a folder of Cells parts (written by the cluster engine, last).
REPORT_FILE = "report.json"


def _format(path: str | os.PathLike, fmt: str | None) -> str:
    if fmt is None:
        suffix = Path(path).suffix.lower().lstrip(".")
        fmt = {"pq": "parquet", "parq": "parquet"}.get(suffix, suffix)
    if fmt not in FORMATS:
        raise CellConsensusInputError(
            f"unknown table format {fmt!r}; use .csv or .parquet", source=os.fspath(path)
        )
    return fmt


def _read(path: str | os.PathLike, fmt: str | None) -> pd.DataFrame:
    source = os.fspath(path)
    if _format(path, fmt) == "csv":
        return read_csv_strings(source)
    try:
        return pd.read_parquet(source)
    except FileNotFoundError:
        raise CellConsensusInputError("file not found", source=source) from None
    except (OSError, ValueError) as exc:
        raise CellConsensusInputError(
            f"not a readable Parquet file: {exc}", source=source
        ) from None


def read_clicks(
    path: str | os.PathLike,
    *,
    format: str | None = None,
    canvas: tuple[float, float] | None = None,
    out_of_canvas: OutOfCanvas = "keep",
    classes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read a Clicks table from CSV or Parquet and validate it.

    Parameters
    ----------
    path : path-like
        ``*.csv`` or ``*.parquet``.
    format : {"csv", "parquet"}, optional
        Overrides the file extension.
    canvas, out_of_canvas, classes
        See :func:`~cellconsensus.tables.validate_clicks`.

    Returns
    -------
    DataFrame
        The validated Clicks table.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "clicks.csv"
    >>> _ = p.write_text("image_id,annotator_id,x,y,label\\na,u1,1.5,2,alive\\n")
    >>> read_clicks(p).loc[0, "x"]
    np.float64(1.5)
    """
    table = _read(path, format)
    origin = [f"row {i + 1}" for i in range(len(table))]
    return validate_clicks(table, source=os.fspath(path), origin=origin, canvas=canvas,
                           out_of_canvas=out_of_canvas, classes=classes)  # fmt: skip


def write_clicks(
    clicks: pd.DataFrame, path: str | os.PathLike, *, format: str | None = None
) -> Path:
    """Write a Clicks table to CSV or Parquet, atomically.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from cellconsensus.synthetic import make_truth
    >>> from cellconsensus.simulate import simulate_crowd
    >>> clicks = simulate_crowd(make_truth(n_images=2, seed=0), n_annotators=3, seed=0)
    >>> path = write_clicks(clicks, pathlib.Path(tempfile.mkdtemp()) / "clicks.parquet")
    >>> len(read_clicks(path)) == len(clicks)
    True
    """
    return _write(validate_clicks(clicks), path, format)


def read_cells(path: str | os.PathLike, *, format: str | None = None) -> pd.DataFrame:
    """Read and validate a Cells table: a file written by :func:`write_cells`, or the
    folder of Parquet parts :func:`~cellconsensus.find_consensus` writes on a cluster.

    A folder's rows are sorted by ``image_id`` then ``cell_id``; ``attrs["report"]``
    holds its run's report and ``attrs["provenance"]`` how the cells were made.
    ``format="napari"``, ``"qupath"``, ``"fiji"`` or ``"coco"`` reads an export of
    :func:`write_cells` in that format back (:func:`~cellconsensus.io.viewers.read_viewer`).

    Raises
    ------
    CellConsensusInputError
        A folder that is not a finished run (no ``report.json``), or bad cells.

    Examples
    --------
    >>> cells = read_cells("cells.parquet")  # doctest: +SKIP
    """
    if format in VIEWER_FORMATS:
        return read_viewer(path, format)
    if Path(path).is_dir():
        return _read_parts(Path(path))
    table = _read(path, format)
    if _format(path, format) == "csv":
        table = table.astype({"cell_id": "int64", "n_annotators": "int64"}, errors="ignore")
    cells = validate_cells(table, source=os.fspath(path))
    cells.attrs = dict(table.attrs)
    return cells


def _read_parts(path: Path) -> pd.DataFrame:
    if not (path / REPORT_FILE).exists():
        raise CellConsensusInputError(
            "not a finished distributed consensus output (no report.json)", source=str(path)
        )
    files = sorted(path.glob("part-*.parquet"))
    cells = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    cells = cells.sort_values(["image_id", "cell_id"], ignore_index=True)
    report = json.loads((path / REPORT_FILE).read_text())
    cells = validate_cells(cells, source=os.fspath(path))
    cells.attrs = {"provenance": report.pop("provenance", {}), "report": report}
    return cells


def write_cells(
    cells: pd.DataFrame,
    path: str | os.PathLike,
    *,
    format: str | None = None,
    image_sizes: dict[str, tuple[int, int]] | None = None,
) -> Path:
    """Write a Cells table to CSV or Parquet, or for napari, QuPath, Fiji or COCO, atomically.

    Parameters
    ----------
    cells : DataFrame
        E.g. ``find_consensus(clicks).cells``.
    path : path-like
        ``*.csv`` or ``*.parquet``; parent folders are created. A folder for
        ``napari``, ``qupath`` and ``fiji``, a JSON file for ``coco``.
    format : {"csv", "parquet", "napari", "qupath", "fiji", "coco"}, optional
        Default: by the file extension (CSV or Parquet). The others are the
        formats of :mod:`cellconsensus.io.viewers`.
    image_sizes : dict, optional
        ``image_id -> (width, height)`` for ``coco``.

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from cellconsensus import find_consensus
    >>> from cellconsensus.synthetic import make_truth
    >>> from cellconsensus.simulate import simulate_crowd
    >>> cells = find_consensus(simulate_crowd(make_truth(n_images=2, seed=0), seed=0)).cells
    >>> path = write_cells(cells, pathlib.Path(tempfile.mkdtemp()) / "cells.csv")
    >>> len(read_cells(path)) == len(cells)
    True
    """
    cells = validate_cells(cells)
    if format in VIEWER_FORMATS:
        return write_viewer(cells, path, format, image_sizes=image_sizes)
    return _write(cells, path, format)


def read_truth(
    path: str | os.PathLike,
    *,
    format: str | None = None,
    classes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read ground truth: a Pascal VOC folder or XML file, or a CSV/Parquet table.

    Parameters
    ----------
    path : path-like
        A folder of VOC ``*.xml`` (or one file), read by
        :func:`~cellconsensus.io.read_voc`; or ``*.csv``/``*.parquet`` with
        ``image_id, x, y, label`` and optionally ``size`` (or ``width`` and
        ``height``), ``image_width``, ``image_height``.
    format : {"csv", "parquet"}, optional
        Overrides the file extension of a table.
    classes : sequence of str, optional
        Another label set than alive / dead (e.g. ``["alive", "dead", "mitotic"]``).

    Returns
    -------
    DataFrame
        The validated truth table.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from cellconsensus.synthetic import make_truth
    >>> truth = make_truth(n_images=2, seed=0)
    >>> path = write_truth(truth, pathlib.Path(tempfile.mkdtemp()) / "truth.csv")
    >>> read_truth(path)[["x", "y"]].equals(truth[["x", "y"]])
    True
    """
    p = Path(path)
    if format is None and (p.is_dir() or p.suffix.lower() == ".xml"):
        return read_voc(p, classes=classes)
    return validate_truth(_read(path, format), source=os.fspath(path), classes=classes)


def write_truth(truth: pd.DataFrame, path: str | os.PathLike, *, format: str | None = None) -> Path:
    """Write a ground-truth table to CSV or Parquet, atomically.

    Floats are written in full precision, so :func:`read_truth` gives the
    same positions back (unlike VOC boxes, which are whole pixels).

    Examples
    --------
    >>> write_truth(truth, "truth.csv")  # doctest: +SKIP
    """
    return _write(validate_truth(truth), path, format)


def read_table(path: str | os.PathLike, *, format: str | None = None) -> pd.DataFrame:
    """Read any table from CSV (every column as text) or Parquet, chosen by suffix.

    Unlike :func:`read_cells` and friends, nothing is validated: for tables
    with no schema of their own (annotator tables, positions to classify).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = write_table(pd.DataFrame({"a": [1]}), pathlib.Path(tempfile.mkdtemp()) / "t.csv")
    >>> read_table(path).to_dict("list")
    {'a': ['1']}
    """
    return _read(path, format)


def write_table(table: pd.DataFrame, path: str | os.PathLike, *, format: str | None = None) -> Path:
    """Write any table to CSV or Parquet (chosen by suffix), atomically, without its index.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> write_table(pd.DataFrame({"a": [1]}), pathlib.Path(tempfile.mkdtemp()) / "t.parquet").suffix
    '.parquet'
    """
    return _write(table, path, format)


def _write(table: pd.DataFrame, path: str | os.PathLike, fmt: str | None) -> Path:
    kind = _format(path, fmt)
    provenance = table.attrs.get("provenance")
    table = table.copy()
    # Parquet keeps how the table was made (pandas stores attrs in its metadata); CSV cannot.
    table.attrs = {"provenance": provenance} if provenance and kind == "parquet" else {}
    if kind == "csv":
        return atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
    return atomic_write(path, lambda tmp: table.to_parquet(tmp, index=False))
