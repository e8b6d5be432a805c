"""Exports for napari, QuPath, Fiji and COCO: round trips, and independent readers.

The independent readers (``geojson``, ``pycocotools``, napari's builtin reader) are
in the ``dev`` and ``bench`` extras; a test whose reader is missing is skipped with a
message, and ``make test`` runs it in ``.venv-bench``, where napari is installed.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cellconsensus import CellConsensusInputError, find_consensus, simulate_crowd
from cellconsensus.io import read_cells, write_cells
from cellconsensus.io.viewers import VIEWER_FORMATS, read_viewer, write_viewer
from cellconsensus.synthetic import make_truth


@pytest.fixture(scope="module")
def cells():
    truth = make_truth(3, seed=5)
    result = find_consensus(simulate_crowd(truth, 4, seed=5))
    return result.cells


def _target(tmp_path, fmt):
    return tmp_path / ("cells.json" if fmt == "coco" else fmt)


@pytest.mark.parametrize("fmt", VIEWER_FORMATS)
def test_every_export_reads_back_as_the_same_cells(cells, tmp_path, fmt):
    path = write_cells(cells, _target(tmp_path, fmt), format=fmt)
    back = read_cells(path, format=fmt)
    order = ["image_id", "cell_id"]
    a = cells.sort_values(order).reset_index(drop=True)
    b = back.sort_values(order).reset_index(drop=True)
    np.testing.assert_allclose(b[["x", "y"]], a[["x", "y"]], atol=1e-6)
    assert b["label"].tolist() == a["label"].tolist()
    for column in ("p_alive", "support", "n_annotators", "p_real"):
        np.testing.assert_allclose(b[column], a[column], rtol=1e-9)


def test_truth_tables_export_too(tmp_path):
    truth = make_truth(2, seed=1)
    for fmt in VIEWER_FORMATS:
        back = read_viewer(write_viewer(truth, _target(tmp_path, fmt), fmt), fmt)
        assert len(back) == len(truth) and set(back["label"]) <= {"alive", "dead"}


def test_napari_axes_are_pixel_centres(tmp_path):
    cells = pd.DataFrame({"image_id": "a", "x": [10.5], "y": [3.5], "label": ["dead"]})
    folder = write_viewer(cells, tmp_path / "n", "napari")
    table = pd.read_csv(folder / "a.csv")
    assert table[["axis-0", "axis-1"]].to_numpy().tolist() == [[3.0, 10.0]]  # row, column


def test_exports_refuse_ids_that_leave_the_folder(tmp_path):
    cells = pd.DataFrame({"image_id": "../x", "x": [1.0], "y": [1.0], "label": ["dead"]})
    with pytest.raises(CellConsensusInputError, match="cannot name a file"):
        write_viewer(cells, tmp_path / "q", "qupath")
    assert not (tmp_path / "x.geojson").exists()


def test_edited_exports_that_break_the_format_are_named(tmp_path):
    cells = pd.DataFrame({"image_id": "a", "x": [1.0], "y": [1.0], "label": ["dead"]})
    folder = write_viewer(cells, tmp_path / "f", "fiji")
    (folder / "a.csv").write_text(" ,X,Y,label\n1,12,abc,dead\n")
    with pytest.raises(CellConsensusInputError, match=r"a.csv, row 2, field 'Y': not a number"):
        read_viewer(folder, "fiji")
    (folder / "a.csv").write_text(" ,X,Y,label\n1,12,5,zombie\n")
    with pytest.raises(CellConsensusInputError, match="unknown label"):
        read_viewer(folder, "fiji")
    geo = write_viewer(cells, tmp_path / "g", "qupath")
    polygon = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []}}
    (geo / "a.geojson").write_text(json.dumps({"type": "FeatureCollection",
                                               "features": [polygon]}))  # fmt: skip
    with pytest.raises(CellConsensusInputError, match="feature 1.*only Point features"):
        read_viewer(geo, "qupath")


# -- independent readers ----------------------------------------------------------------


def test_qupath_export_is_valid_geojson(cells, tmp_path):
    geojson = pytest.importorskip("geojson")
    folder = write_cells(cells, tmp_path / "q", format="qupath")
    for path in folder.iterdir():
        collection = geojson.loads(path.read_text())
        assert collection.is_valid, collection.errors()
        mine = cells[cells["image_id"] == path.stem]
        assert len(collection["features"]) == len(mine)
        names = [f["properties"]["classification"]["name"] for f in collection["features"]]
        assert sorted(names) == sorted(mine["label"].astype(str))


def test_coco_export_loads_in_pycocotools(cells, tmp_path):
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO

    sizes = {i: (500, 400) for i in cells["image_id"].unique()}
    path = write_cells(cells, tmp_path / "cells.json", format="coco", image_sizes=sizes)
    coco = COCO(str(path))
    assert len(coco.getAnnIds()) == len(cells)
    alive = coco.getCatIds(catNms=["alive"])
    assert len(coco.getAnnIds(catIds=alive)) == int((cells["label"] == "alive").sum())
    first = coco.loadImgs(coco.getImgIds())[0]
    annotations = coco.loadAnns(coco.getAnnIds(imgIds=first["id"]))
    mine = cells[cells["image_id"] == first["file_name"]]
    xs = sorted(a["keypoints"][0] for a in annotations)
    np.testing.assert_allclose(xs, sorted(mine["x"]))
    assert (first["width"], first["height"]) == (500, 400)


def test_fiji_roi_sets_read_in_roifile(cells, tmp_path):
    roifile = pytest.importorskip("roifile")

    folder = write_cells(cells, tmp_path / "f", format="fiji")
    for image_id, mine in cells.groupby("image_id"):
        rois = roifile.roiread(folder / f"{image_id}_RoiSet.zip")
        by_name = {roi.name: roi for roi in rois}
        assert set(by_name) == set(mine["label"].astype(str))
        for label, roi in by_name.items():
            assert roi.roitype == roifile.ROI_TYPE.POINT
            expected = mine.loc[mine["label"] == label, ["x", "y"]].to_numpy()
            np.testing.assert_allclose(roi.coordinates(), expected, atol=1e-4)  # float32


def test_napari_builtin_reader_opens_the_points(cells, tmp_path):
    pytest.importorskip("napari")
    from napari_builtins.io import csv_to_layer_data

    folder = write_cells(cells, tmp_path / "n", format="napari")
    path = sorted(folder.iterdir())[0]
    data, meta, layer_type = csv_to_layer_data(str(path), require_type="points")
    mine = cells[cells["image_id"] == path.stem].reset_index(drop=True)
    assert layer_type == "points" and data.shape == (len(mine), 2)
    np.testing.assert_allclose(data[:, 1] + 0.5, mine["x"])
    assert list(meta["properties"]["label"]) == mine["label"].astype(str).tolist()
    np.testing.assert_allclose(meta["properties"]["p_alive"], mine["p_alive"])


def test_cli_export(cells, tmp_path, capsys):
    from cellconsensus.cli import main
    from cellconsensus.io import write_voc

    cells_file = write_cells(cells, tmp_path / "cells.parquet")
    assert main(["export", str(cells_file), str(tmp_path / "q"), "--format", "qupath"]) == 0
    assert f"wrote {len(cells):,} cells on 3 images as qupath" in capsys.readouterr().out
    assert len(read_viewer(tmp_path / "q", "qupath")) == len(cells)
    truth = make_truth(2, seed=2)
    write_voc(truth, tmp_path / "voc")
    out = tmp_path / "truth.json"
    assert main(["export", str(tmp_path / "voc"), str(out), "--format", "coco", "--truth"]) == 0
    assert len(json.loads(out.read_text())["annotations"]) == len(truth)


def test_imagej_rois_state_their_limits():
    from cellconsensus.io.imagej_roi import point_roi

    with pytest.raises(CellConsensusInputError, match="1 to 65,535 points"):
        point_roi([], [], "alive")
    with pytest.raises(CellConsensusInputError, match=r"\[0, 32,767\) px"):
        point_roi([40_000.0], [1.0], "alive")  # ImageJ's box fields are 16 bits
