"""Cells for a scientist's tools: napari, QuPath, Fiji/ImageJ and COCO keypoints.

Each writer has a reader that is its inverse (positions to 1e-6 px, labels and the
label model's figures kept), so an export can be edited in the tool and read back:

============  =====================================  =====================================
format        what is written                        opened by
============  =====================================  =====================================
``napari``    a folder, ``<image_id>.csv`` per       napari's builtin reader (drag the
              image: ``index, axis-0, axis-1`` (row,  file onto the viewer: a Points layer
              column of the pixel centre) and the     with the cells' properties)
              cells' properties
``qupath``    a folder, ``<image_id>.geojson`` per   QuPath's *File > Import objects*
              image: a FeatureCollection of Point    (points classified ``alive``,
              features with ``classification``       ``dead``, ``unsure``)
              and ``measurements``
``fiji``      a folder, per image an ImageJ Results  Fiji: the zip opens in the ROI
              table ``<image_id>.csv`` (``X, Y``     Manager (drag it onto the image);
              and the properties) and               the CSV via *File > Import >
              ``<image_id>_RoiSet.zip``: one         Results*
              multi-point ROI per label
``coco``      one JSON file: COCO keypoints, one     pycocotools, detection tool kits
              category per label, one keypoint
              (``centre``) per cell
============  =====================================  =====================================

Coordinates: ours are continuous pixels with the origin at the top-left corner of
the top-left pixel (pixel ``i`` covers ``[i, i + 1)``), as QuPath's, ImageJ's and
COCO's are; napari puts pixel centres on integers, so its axes are ``y - 0.5`` and
``x - 0.5``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CellConsensusInputError
from ..tables import (
    ALIVE_DEAD,
    cells_vocabulary,
    split_by_image,
)
from ._files import atomic_write, safe_file_name
from .imagej_roi import roi_set
from .viewer_read import PROPERTIES, VIEWER_FORMATS, properties, read_viewer

__all__ = ["VIEWER_FORMATS", "PROPERTIES", "write_viewer", "read_viewer"]

#: QuPath's display colours (RGB) of the classes.
COLOURS = {"alive": [0, 200, 0], "dead": [220, 0, 0], "unsure": [230, 190, 0]}
#: QuPath's colours of the classes of another label set, in order.
EXTRA_COLOURS = ([0, 200, 220], [220, 0, 220], [255, 140, 0], [0, 120, 255], [150, 90, 255])
#: Side (px) of the square box COCO gets around each cell (its detectors want one).
COCO_BOX = 20.0


def _answers(cells: pd.DataFrame) -> list[str]:
    """The labels of a table's label set, in order (alive, dead, unsure by default); a
    label outside it comes last."""
    try:
        answers = list(cells_vocabulary(cells).answers)
    except CellConsensusInputError:
        answers = list(ALIVE_DEAD.answers)
    extra = sorted(set(cells["label"].astype(str)) - set(answers))
    return answers + extra


def _colours(answers: list[str]) -> dict[str, list[int]]:
    colours = dict(COLOURS)
    spare = iter(EXTRA_COLOURS)
    for name in answers:
        colours.setdefault(name, next(spare, [128, 128, 128]))
    return colours


def _per_image(cells: pd.DataFrame, folder: Path, suffix: str, write_one) -> Path:
    """Write one file per image (atomically each) into ``folder``; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for image_id, mine in split_by_image(cells):
        target = folder / f"{safe_file_name(str(image_id))}{suffix}"
        rows = mine.reset_index(drop=True)
        atomic_write(target, lambda tmp, m=rows: write_one(m, tmp))
    return folder


def _napari(cells: pd.DataFrame, tmp: str) -> None:
    table = pd.DataFrame(
        {"index": np.arange(len(cells)), "axis-0": cells["y"] - 0.5, "axis-1": cells["x"] - 0.5}
    )
    for column in (*properties(cells), "label"):
        if column in cells:
            table[column] = cells[column].astype(str) if column == "label" else cells[column]
    table.to_csv(tmp, index=False, float_format="%.10g")


def _qupath(cells: pd.DataFrame, tmp: str, colours: dict[str, list[int]]) -> None:
    features = []
    for row in cells.to_dict("records"):
        label = str(row["label"])
        measurements = {c: float(row[c]) for c in properties(cells) if pd.notna(row[c])}
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [float(row["x"]), float(row["y"])]},
                "properties": {
                    "objectType": "annotation",
                    "classification": {"name": label, "color": colours[label]},
                    "measurements": measurements,
                },
            }
        )
    Path(tmp).write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def _fiji(cells: pd.DataFrame, tmp: str) -> None:
    table = pd.DataFrame({" ": np.arange(1, len(cells) + 1), "X": cells["x"], "Y": cells["y"]})
    table["label"] = cells["label"].astype(str)
    for column in properties(cells):
        table[column] = cells[column]
    table.to_csv(tmp, index=False, float_format="%.10g")


def _fiji_rois(cells: pd.DataFrame, tmp: str, answers: list[str]) -> None:
    """One multi-point ROI per label (ImageJ's ROI Manager opens the zip)."""
    labels = cells["label"].astype(str)
    rois = {
        label: (cells.loc[labels == label, "x"], cells.loc[labels == label, "y"])
        for label in answers
        if (labels == label).any()
    }
    Path(tmp).write_bytes(roi_set(rois))


def _coco(cells: pd.DataFrame, path: Path, sizes: dict[str, tuple[int, int]]) -> Path:
    categories_of = {label: k + 1 for k, label in enumerate(_answers(cells))}
    ids = sorted(set(cells["image_id"].astype(str)) | set(sizes))
    image_number = {image_id: k + 1 for k, image_id in enumerate(ids)}
    images = []
    for image_id in ids:
        entry: dict[str, Any] = {"id": image_number[image_id], "file_name": image_id}
        if image_id in sizes:
            entry["width"], entry["height"] = (int(v) for v in sizes[image_id])
        images.append(entry)
    annotations = []
    for k, row in enumerate(cells.to_dict("records")):
        x, y, half = float(row["x"]), float(row["y"]), COCO_BOX / 2
        annotation = {
            "id": k + 1,
            "image_id": image_number[str(row["image_id"])],
            "category_id": categories_of[str(row["label"])],
            "keypoints": [x, y, 2],
            "num_keypoints": 1,
            "bbox": [x - half, y - half, COCO_BOX, COCO_BOX],
            "area": COCO_BOX * COCO_BOX,
            "iscrowd": 0,
        }
        if "p_alive" in row and pd.notna(row["p_alive"]):
            annotation["score"] = float(row["p_alive"])
        annotation["attributes"] = {
            c: float(row[c]) for c in properties(cells) if pd.notna(row.get(c))
        }
        annotations.append(annotation)
    categories = [
        {"id": i, "name": label, "supercategory": "cell", "keypoints": ["centre"], "skeleton": []}
        for label, i in categories_of.items()
    ]
    data = {"images": images, "annotations": annotations, "categories": categories}
    text = json.dumps(data)
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def write_viewer(
    cells: pd.DataFrame,
    path: str | os.PathLike,
    format: str,
    *,
    image_sizes: dict[str, tuple[int, int]] | None = None,
) -> Path:
    """Write a Cells (or truth) table for napari, QuPath, Fiji or COCO tools.

    Parameters
    ----------
    cells : DataFrame
        ``image_id, x, y, label`` and any of ``cell_id, p_alive, p_real, support,
        n_annotators, spread`` (carried along).
    path : path-like
        A folder for ``napari``, ``qupath`` and ``fiji`` (one file per image), a
        ``.json`` file for ``coco``.
    format : {"napari", "qupath", "fiji", "coco"}
        See the module docstring.
    image_sizes : dict, optional
        ``image_id -> (width, height)``, recorded by ``coco`` (which lists images
        without cells too when given).

    Returns
    -------
    Path
        The folder or file written. Every file is written atomically.

    Raises
    ------
    CellConsensusInputError
        An image id that cannot name a file (``"../x"``), a table without the columns.

    Examples
    --------
    >>> import tempfile
    >>> from cellconsensus.synthetic import make_truth
    >>> truth = make_truth(2, seed=0)
    >>> folder = write_viewer(truth, tempfile.mkdtemp(), "qupath")
    >>> sorted(p.name for p in folder.iterdir())
    ['syn00000.geojson', 'syn00001.geojson']
    >>> len(read_viewer(folder, "qupath")) == len(truth)
    True
    """
    if format not in VIEWER_FORMATS:
        raise ValueError(f"format must be one of {VIEWER_FORMATS}, got {format!r}")
    missing = [c for c in ("image_id", "x", "y", "label") if c not in cells.columns]
    if missing:
        raise CellConsensusInputError(f"cells lack column(s) {', '.join(missing)}")
    path = Path(path)
    if format == "coco":
        return _coco(cells, path, dict(image_sizes or {}))
    answers = _answers(cells)
    colours = _colours(answers)
    writer = {
        "napari": _napari,
        "qupath": lambda rows, tmp: _qupath(rows, tmp, colours),
        "fiji": _fiji,
    }[format]
    suffix = ".geojson" if format == "qupath" else ".csv"
    if format == "fiji":
        _per_image(cells, path, "_RoiSet.zip", lambda rows, tmp: _fiji_rois(rows, tmp, answers))
    return _per_image(cells, path, suffix, writer)
