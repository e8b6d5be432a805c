"""Cells read back from a viewer export (:mod:`cellconsensus.io.viewers`), edited in the
tool or not: napari and Fiji CSVs, QuPath GeoJSON, COCO keypoints."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import CellConsensusInputError
from ..tables import (
    LABEL_DTYPE,
    Vocabulary,
    cells_vocabulary,
    validate_cells,
)
from ..tables.vocabulary import as_vocabulary
from ._files import read_csv_strings, read_json

__all__ = ["read_viewer", "VIEWER_FORMATS", "PROPERTIES", "properties"]

#: Formats :func:`~cellconsensus.io.viewers.write_viewer` writes and :func:`read_viewer` reads.
VIEWER_FORMATS = ("napari", "qupath", "fiji", "coco")
#: Per-cell figures carried along when the table has them (and every ``p_<class>``).
PROPERTIES = ("cell_id", "p_alive", "p_real", "support", "n_annotators", "spread")


def properties(cells: pd.DataFrame) -> list[str]:
    """The properties a table carries, in its column order (which keeps the class order of
    its ``p_<class>`` columns).

    Examples
    --------
    >>> properties(pd.DataFrame(columns=["x", "p_b", "cell_id", "p_a"]))
    ['p_b', 'cell_id', 'p_a']
    """
    return [c for c in cells.columns if c in PROPERTIES or str(c).startswith("p_")]


def _numbers(table: pd.DataFrame, columns, source: str) -> pd.DataFrame:
    out = pd.DataFrame(index=table.index)
    for column in columns:
        values = pd.to_numeric(table[column].replace("", np.nan), errors="coerce")
        bad = values.isna() & (table[column] != "")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise CellConsensusInputError(
                f"not a number: {table[column].iloc[row]!r}", source=source,
                row=f"row {row + 2}", field=column,
            )  # fmt: skip
        out[column] = values
    return out


def _read_csv(path: Path, x: str, y: str, shift: float) -> pd.DataFrame:
    source = str(path)
    table = read_csv_strings(source, required=[x, y])
    known = properties(table)
    numbers = _numbers(table, [x, y, *known], source)
    out = pd.DataFrame({"image_id": path.stem, "x": numbers[x] + shift, "y": numbers[y] + shift})
    for column in known:
        out[column] = numbers[column]
    out["label"] = table["label"] if "label" in table else "unsure"
    return out


def _read_geojson(path: Path) -> pd.DataFrame:
    source = str(path)
    data = read_json(source)
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise CellConsensusInputError("not a GeoJSON FeatureCollection", source=source)
    rows = []
    for k, feature in enumerate(features):
        geometry = (feature or {}).get("geometry") or {}
        if geometry.get("type") != "Point":
            raise CellConsensusInputError(
                f"a {geometry.get('type')!r} feature: only Point features are cells",
                source=source, row=f"feature {k + 1}", field="geometry",
            )  # fmt: skip
        properties = feature.get("properties") or {}
        x, y = geometry.get("coordinates", [None, None])[:2]
        classification = properties.get("classification") or {}
        rows.append({"image_id": path.stem, "x": x, "y": y,
                     "label": classification.get("name", "unsure"),
                     **(properties.get("measurements") or {})})  # fmt: skip
    return pd.DataFrame(rows, columns=["image_id", "x", "y", "label"] if not rows else None)


def _read_coco(path: Path) -> pd.DataFrame:
    source = str(path)
    data = read_json(source)
    try:
        names = {c["id"]: c["name"] for c in data["categories"]}
        files = {i["id"]: i["file_name"] for i in data["images"]}
        rows = [
            {"image_id": files[a["image_id"]], "x": a["keypoints"][0], "y": a["keypoints"][1],
             "label": names[a["category_id"]], **a.get("attributes", {})}
            for a in data["annotations"]
        ]  # fmt: skip
    except (KeyError, IndexError, TypeError) as exc:
        raise CellConsensusInputError(
            f"not a COCO keypoints file: missing or wrong {exc}", source=source
        ) from None
    table = pd.DataFrame(rows, columns=["image_id", "x", "y", "label"] if not rows else None)
    table.attrs["image_ids"] = [files[k] for k in sorted(files)]
    return table


def read_viewer(
    path: str | os.PathLike, format: str, *, classes: Vocabulary | list[str] | None = None
) -> pd.DataFrame:
    """Read cells back from a :func:`write_viewer` export (edited in the tool or not).

    Parameters
    ----------
    path : path-like
        The folder (``napari``, ``qupath``, ``fiji``: every file in it, the image id
        being the file's stem) or the COCO JSON file.
    format : {"napari", "qupath", "fiji", "coco"}
        The export's format.
    classes : Vocabulary or list of str, optional
        The label set (default: inferred from the labels, alive / dead when either
        occurs; another set's classes in sorted order, or in the order of the
        ``p_<class>`` columns the export carried).

    Returns
    -------
    DataFrame
        ``image_id, x, y, label`` and the properties the export carried, sorted by
        image (in file order within one); a label missing in the tool reads as
        ``unsure``.

    Raises
    ------
    CellConsensusInputError
        A file that is not of the format, a non-numeric position, an unknown label,
        naming the file, row and field.

    Examples
    --------
    >>> import tempfile
    >>> from cellconsensus.io.viewers import write_viewer
    >>> from cellconsensus.synthetic import make_truth
    >>> truth = make_truth(1, seed=0)
    >>> back = read_viewer(write_viewer(truth, tempfile.mkdtemp(), "napari"), "napari")
    >>> bool(np.allclose(back["x"], truth["x"]))
    True
    """
    if format not in VIEWER_FORMATS:
        raise ValueError(f"format must be one of {VIEWER_FORMATS}, got {format!r}")
    path = Path(path)
    if format == "coco":
        table = _read_coco(path)
    else:
        if not path.is_dir():
            raise CellConsensusInputError(f"a {format} export is a folder", source=str(path))
        suffix = ".geojson" if format == "qupath" else ".csv"
        files = sorted(path.glob(f"*{suffix}"))
        if not files:
            raise CellConsensusInputError(f"no *{suffix} files in this folder", source=str(path))
        if format == "qupath":
            parts = [_read_geojson(p) for p in files]
        elif format == "napari":
            parts = [_read_csv(p, "axis-1", "axis-0", 0.5) for p in files]
        else:
            parts = [_read_csv(p, "X", "Y", 0.0) for p in files]
        table = pd.concat(parts, ignore_index=True)
    if classes is not None:
        vocabulary = as_vocabulary(classes, [])
    elif any(str(c).startswith("p_") and c != "p_real" for c in table.columns):
        vocabulary = cells_vocabulary(table.drop(columns="label"))
    else:
        vocabulary = Vocabulary.infer(table["label"].astype(str), source=str(path))
    answers = list(vocabulary.answers)
    unknown = sorted(set(table["label"].astype(str)) - set(answers))
    if unknown:
        raise CellConsensusInputError(
            f"unknown label(s) {', '.join(map(repr, unknown))}; known: {', '.join(answers)}",
            source=str(path),
        )
    dtype = LABEL_DTYPE if vocabulary.is_alive_dead else pd.CategoricalDtype(answers)
    table["label"] = table["label"].astype(str).astype(dtype)
    table["image_id"] = table["image_id"].astype(str).astype(object)
    if not vocabulary.is_alive_dead:
        table.attrs["classes"] = vocabulary
    probabilities = (
        ["p_alive"] if vocabulary.is_alive_dead else [f"p_{c}" for c in vocabulary.classes]
    )
    if {"cell_id", "n_annotators", "support", "spread", *probabilities} <= set(table.columns):
        table["cell_id"] = table["cell_id"].astype(np.int64)
        table["n_annotators"] = table["n_annotators"].astype(np.int64)
        return validate_cells(table, source=str(path), classes=vocabulary)
    return table
