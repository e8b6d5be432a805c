"""Synthetic sets on disk: readable by the real-data readers, atomic, reproducible."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cellconsensus import find_consensus
from cellconsensus.errors import CellConsensusInputError
from cellconsensus.io import (
    read_pybossa,
    read_truth,
    read_voc,
    write_pybossa,
    write_truth,
    write_voc,
)
from cellconsensus.metrics import score
from cellconsensus.synthetic import make_truth, render_image, write_synthetic
from cellconsensus.synthetic import write as write_module


def tidy(clicks: pd.DataFrame) -> pd.DataFrame:
    columns = ["image_id", "annotator_id", "x", "y", "label"]
    return clicks[columns].sort_values(columns[:4], ignore_index=True)


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("sets") / "fluo"
    return write_synthetic(root, n_images=4, cells_per_image=(0, 12), seed=7)


def test_set_layout_and_manifest(small_set):
    root = small_set.root
    ids = small_set.truth.attrs["image_ids"]
    assert sorted(p.stem for p in (root / "images").glob("*.png")) == ids
    assert sorted(p.stem for p in (root / "annotations").glob("*.xml")) == ids
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["style"] == "fluorescence" and manifest["seed"] == 7
    assert manifest["counts"]["cells"] == len(small_set.truth)
    assert manifest["counts"]["clicks"] == len(small_set.clicks)
    assert manifest["image_ids"] == ids
    # No staging folder is left behind.
    assert [p.name for p in root.parent.iterdir()] == ["fluo"]


def test_png_pixels_equal_the_renderer(small_set):
    image_id = small_set.truth.attrs["image_ids"][1]
    cells = small_set.truth[small_set.truth["image_id"] == image_id]
    on_disk = np.asarray(Image.open(small_set.images / f"{image_id}.png"))
    assert np.array_equal(on_disk, render_image(cells, image_id, seed=7))


def test_truth_reads_back_through_voc_and_csv(small_set):
    truth = small_set.truth
    voc = read_voc(small_set.annotations)
    assert voc.attrs["image_ids"] == truth.attrs["image_ids"]
    assert voc.attrs["n_empty_images"] == len(
        set(truth.attrs["image_ids"]) - set(truth["image_id"])
    )
    merged = voc.reset_index(drop=True)
    assert (merged["label"] == truth["label"].reset_index(drop=True)).all()
    assert np.abs(merged[["x", "y"]].to_numpy() - truth[["x", "y"]].to_numpy()).max() <= 0.5
    assert (merged["image_width"] == 524).all() and (merged["image_height"] == 391).all()
    csv = read_truth(small_set.truth_csv)
    pd.testing.assert_frame_equal(
        csv.drop(columns="phenotype"), truth.drop(columns="phenotype"), check_dtype=False
    )


def test_crowd_export_reads_back_as_the_simulated_clicks(small_set):
    back = read_pybossa(small_set.task_runs, small_set.tasks)
    pd.testing.assert_frame_equal(tidy(back), tidy(small_set.clicks))
    # Annotators who clicked nothing are in the export as empty runs.
    runs = small_set.clicks.attrs["runs"]
    assert len(json.loads(small_set.task_runs.read_text())) == len(runs)


def test_the_pipeline_runs_end_to_end_from_files(small_set):
    clicks = read_pybossa(small_set.task_runs, small_set.tasks)
    cells = find_consensus(clicks).cells
    result = score(cells, read_voc(small_set.annotations))
    assert result.f1 > 0.9


def test_same_seed_gives_the_same_files(tmp_path):
    a = write_synthetic(tmp_path / "a", n_images=3, style="brightfield", seed=1)
    b = write_synthetic(tmp_path / "b", n_images=3, style="brightfield", seed=1, n_jobs=2)
    for sub in ("images", "annotations", "crowd"):
        files_a = sorted((a.root / sub).iterdir())
        assert [p.read_bytes() for p in files_a] == [
            (b.root / sub / p.name).read_bytes() for p in files_a
        ]
    assert a.truth_csv.read_bytes() == b.truth_csv.read_bytes()
    grey = np.asarray(Image.open(next(a.images.iterdir())))
    assert grey.ndim == 2


def test_existing_folder_is_kept_unless_overwrite(tmp_path):
    write_synthetic(tmp_path / "s", n_images=1, seed=0)
    with pytest.raises(FileExistsError, match="overwrite"):
        write_synthetic(tmp_path / "s", n_images=1, seed=0)
    again = write_synthetic(tmp_path / "s", n_images=2, seed=0, overwrite=True)
    assert len(list(again.images.iterdir())) == 2


def test_interrupted_write_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(write_module, "write_pybossa", fail)
    with pytest.raises(KeyboardInterrupt):
        write_synthetic(tmp_path / "s", n_images=2, seed=0)
    assert list(tmp_path.iterdir()) == []


def test_write_voc_writes_empty_images_and_inverse_of_read(tmp_path):
    truth = make_truth(3, cells_per_image=(0, 2), seed=5)
    truth.attrs["image_ids"] = [*truth.attrs["image_ids"], "blank"]
    write_voc(truth, tmp_path)
    back = read_voc(tmp_path)
    assert back.attrs["image_ids"] == sorted(truth.attrs["image_ids"])
    assert len(back) == len(truth)
    assert "blank" not in set(back["image_id"])


def test_write_pybossa_keeps_unsure_labels_and_empty_runs(tmp_path):
    clicks = pd.DataFrame(
        {
            "image_id": ["i1", "i1", "i2"],
            "annotator_id": ["u1", "u2", "u1"],
            "x": [1.25, 3.0, 5.5],
            "y": [2.0, 4.0, 6.0],
            "label": ["unsure", "dead", "alive"],
        }
    )
    runs = pd.DataFrame(
        {"image_id": ["i1", "i1", "i2", "i2"], "annotator_id": ["u1", "u2", "u1", "u3"]}
    )
    paths = write_pybossa(clicks, tmp_path / "runs.json", tmp_path / "tasks.json", runs=runs)
    records = json.loads(paths[0].read_text())
    assert records[0]["info"]["alive_array"] == [["not_sure_alive", 1.25, 2.0]]
    back = read_pybossa(*paths)
    assert back.attrs["report"].n_empty_runs == 1
    pd.testing.assert_frame_equal(tidy(back), tidy(clicks.astype({"label": back["label"].dtype})))


def test_read_truth_names_the_bad_row_and_field(tmp_path):
    path = tmp_path / "truth.csv"
    path.write_text("image_id,x,y,label\na,1,2,alive\nb,nan,3,dead\n")
    with pytest.raises(CellConsensusInputError, match=r"truth\.csv.*row 2.*x"):
        read_truth(path)
    path.write_text("image_id,x,y\na,1,2\n")
    with pytest.raises(CellConsensusInputError, match="missing column"):
        read_truth(path)
    path.write_text("image_id,x,y,label\na,1,2,zombie\n")
    with pytest.raises(CellConsensusInputError, match="unknown label 'zombie'"):
        read_truth(path)


def test_write_truth_round_trips_parquet(tmp_path):
    truth = make_truth(3, style="brightfield", seed=2)
    back = read_truth(write_truth(truth, tmp_path / "t.parquet"))
    pd.testing.assert_frame_equal(back, truth.reset_index(drop=True), check_dtype=False)
