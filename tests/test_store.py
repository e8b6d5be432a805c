"""The zarr patch store: round trips, layout, provenance, resumability under a real kill, append."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr
from PIL import Image

from cellconsensus import find_consensus
from cellconsensus.errors import CellConsensusInputError
from cellconsensus.patches import extract_patches
from cellconsensus.store import (
    StoreIncompleteError,
    contact_sheet,
    inspect_store,
    open_patches,
    store_info,
    write_patches,
)
from cellconsensus.synthetic import make_images, write_synthetic


@pytest.fixture(scope="module")
def data():
    return make_images(12, style="brightfield", seed=4)


def sort_truth(truth):
    return truth.sort_values(["image_id", "y", "x"], ignore_index=True)


def test_round_trip_equals_in_memory_patches_and_coordinates(data, tmp_path):
    store = tmp_path / "p.zarr"
    report = write_patches(data.truth, data.images, store, [33, 48], chunk_size=16)
    assert report.action == "built" and report.sizes[33]["n_patches"] == len(data.truth)
    truth = sort_truth(data.truth)
    for size in (33, 48):
        ds = open_patches(store, size)
        expected = extract_patches(truth, data.images, size)
        assert np.array_equal(ds["patches"].values, expected.pixels)
        assert np.allclose(ds["cell_x"].values, truth["x"]) and np.allclose(
            ds["cell_y"].values, truth["y"]
        )
        assert list(ds["image_id"].values.astype(object)) == truth["image_id"].tolist()
        assert list(ds["label"].values.astype(object)) == truth["label"].astype(str).tolist()
        assert np.array_equal(ds["padded"].values, expected.cells["padded"].to_numpy())
        assert (
            ds["patches"].dims == ("cell", "y", "x", "channel") and ds["patches"].dtype == np.uint8
        )


def test_layout_chunks_compression_consolidation(data, tmp_path):
    store = tmp_path / "p.zarr"
    write_patches(data.truth, data.images, store, 40, chunk_size=8)
    root = json.loads((store / "zarr.json").read_text())
    assert root["zarr_format"] == 3 and "consolidated_metadata" in root
    array = zarr.open_array(store / "size_40" / "patches")
    assert array.chunks == (8, 40, 40, 1)
    codec = array.metadata.codecs[-1].to_dict()
    assert codec["name"] == "blosc" and codec["configuration"]["cname"] == "zstd"
    # Plain xarray opens it too, without the library.
    assert xr.open_zarr(store, group="size_40")["patches"].shape[0] == len(data.truth)


def test_provenance_records_inputs_strategy_and_settings(tmp_path):
    synthetic = write_synthetic(tmp_path / "syn", n_images=5, seed=1)
    from cellconsensus.io import read_pybossa

    cells = find_consensus(
        read_pybossa(synthetic.task_runs, synthetic.tasks), params={"eps": "auto"}
    ).cells
    store = tmp_path / "p.zarr"
    write_patches(cells, synthetic.images, store, 64, seed=3, provenance={"note": "test"})
    attrs = store_info(store)
    prov = attrs["provenance"]
    assert "DBSCANStrategy" in prov["consensus"]["strategy"] and prov["consensus"]["note"] == "test"
    assert (
        len(prov["inputs"]["cells"]["sha256"]) == 64
        and len(prov["inputs"]["images"]["sha256"]) == 64
    )
    assert prov["split"] == {
        "method": "auto",
        "fractions": [0.8, 0.1, 0.1],
        "seed": 3,
        "groups": None,
    }
    assert prov["crop"]["border"] == "reflect" and prov["library"]["name"] == "cellconsensus"
    assert attrs["created"] and attrs["channels"] == 3
    assert len(attrs["image_sha256"]) == cells["image_id"].nunique()
    ds = open_patches(store)
    assert ds.attrs["provenance"] == prov and ds.attrs["size"] == 64


def test_rerun_is_up_to_date_other_inputs_need_a_mode(data, tmp_path):
    store = tmp_path / "p.zarr"
    write_patches(data.truth, data.images, store, 32)
    assert write_patches(data.truth, data.images, store, 32).action == "up to date"
    with pytest.raises(CellConsensusInputError, match="mode='w'"):
        write_patches(data.truth.iloc[:5], data.images, store, 32)
    assert (
        write_patches(data.truth.iloc[:5], data.images, store, 32, mode="w").sizes[32]["n_patches"]
        == 5
    )
    assert open_patches(store).sizes["cell"] == 5


def test_memory_url(data):
    url = "memory://tests/store.zarr"
    write_patches(data.truth, data.images, url, 24, mode="w")
    assert open_patches(url, 24)["patches"].shape == (len(data.truth), 24, 24, 1)


def test_splits_stratified_grouped_and_given(data, tmp_path):
    store = tmp_path / "p.zarr"
    groups = {i: f"g{int(i[-2:]) % 4}" for i in data.truth["image_id"]}
    write_patches(data.truth, data.images, store, 32, groups=groups, seed=1)
    ds = open_patches(store)
    table = pd.DataFrame(
        {"group": ds["group"].values.astype(object), "split": ds["split"].values.astype(object)}
    )
    assert (table.groupby("group")["split"].nunique() == 1).all()
    # A given split follows its cells (by index), whatever order the store uses.
    shuffled = data.truth.sample(frac=1, random_state=0)
    given = pd.Series(np.where(shuffled["y"] > 100, "test", "train"), index=shuffled.index)
    write_patches(shuffled, data.images, store, 32, split=given, mode="w")
    ds = open_patches(store)
    expected = np.where(ds["cell_y"].values > 100, "test", "train")
    assert list(ds["split"].values.astype(object)) == list(expected)
    assert store_info(store)["provenance"]["split"]["method"] == "given"
    with pytest.raises(CellConsensusInputError, match="unknown split 'later'"):
        write_patches(
            data.truth.assign(when="later"), data.images, store, 32, split="when", mode="w"
        )


def test_skip_unreadable_images_and_drop_policies(data, tmp_path):
    images = dict(data.images)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")
    victim = data.truth["image_id"].iloc[0]
    images[victim] = broken
    with pytest.raises(CellConsensusInputError, match="broken.png"):
        write_patches(data.truth, images, tmp_path / "a.zarr", 32)
    report = write_patches(
        data.truth, images, tmp_path / "b.zarr", 64, on_error="skip", border="drop", min_contrast=3
    )
    r = report.sizes[64]
    n_victim = int((data.truth["image_id"] == victim).sum())
    assert r["n_dropped_error"] == n_victim and "broken.png" in r["errors"][0]
    assert r["n_patches"] + r["n_dropped_border"] + r["n_dropped_contrast"] + r[
        "n_dropped_error"
    ] == len(data.truth)
    ds = open_patches(tmp_path / "b.zarr")
    assert (
        victim not in set(ds["image_id"].values.astype(object))
        and ds.sizes["cell"] == r["n_patches"]
    )


def test_empty_cells_give_an_empty_store(data, tmp_path):
    write_patches(data.truth.iloc[:0], data.images, tmp_path / "e.zarr", 16)
    assert open_patches(tmp_path / "e.zarr").sizes["cell"] == 0


def test_append_adds_new_images_and_keeps_stored_cells(data, tmp_path):
    ids = data.truth.attrs["image_ids"]
    first = data.truth[data.truth["image_id"].isin(ids[:6])]
    store = tmp_path / "p.zarr"
    write_patches(first, data.images, store, 32, chunk_size=8)
    before = open_patches(store).load()  # a snapshot: the store changes underneath
    kept = before["split"].values.astype(object).copy()
    report = write_patches(data.truth, data.images, store, 32, mode="a", chunk_size=8)
    assert report.action == "appended"
    after = open_patches(store)
    assert after.sizes["cell"] == len(data.truth)
    assert list(after["split"].values[: len(kept)].astype(object)) == list(kept)
    assert np.array_equal(after["patches"].values[: before.sizes["cell"]], before["patches"].values)
    assert set(after["image_id"].values.astype(object)) == set(data.truth["image_id"])
    assert [h["action"] for h in store_info(store)["history"]] == ["build", "append"]
    # Appending the same images again adds nothing.
    assert (
        write_patches(data.truth, data.images, store, 32, mode="a", chunk_size=8).action
        == "up to date"
    )


def test_inspect_and_contact_sheet(data, tmp_path):
    store = tmp_path / "p.zarr"
    write_patches(data.truth, data.images, store, [24, 32])
    table = inspect_store(store)
    assert set(table["size"]) == {24, 32}
    assert table.groupby("size")["patches"].sum().tolist() == [len(data.truth)] * 2
    path = contact_sheet(store, tmp_path / "sheet.png", 32, per_class=5)
    with Image.open(path) as sheet:
        assert sheet.width >= 5 * 64 and sheet.height >= 2 * 64
    with pytest.raises(ValueError, match="pass size="):
        open_patches(store)


# -- resumability under a real kill ------------------------------------------------------------

BUILD = """
import sys, time
from cellconsensus.images import ImageFolder
from cellconsensus.io import read_truth
from cellconsensus.store import write_patches
from cellconsensus.store import writer as store_writer

store_writer.FLUSH_PATCHES = 8  # write every chunk, so that the kill lands between writes

class Slow(ImageFolder):
    def _raw(self, image_id):
        time.sleep(float(sys.argv[3]))
        return super()._raw(image_id)

truth = read_truth(sys.argv[1] + "/truth.csv")
write_patches(truth, Slow(sys.argv[1] + "/images"), sys.argv[2], [20, 32], chunk_size=8)
"""


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "zarr.json"
    }


def _arrays_meta(root: Path) -> dict[str, dict]:
    return {
        str(p.relative_to(root)): json.loads(p.read_text())
        for p in sorted(root.rglob("zarr.json"))
        if p.parent != root
    }


def test_killed_build_is_incomplete_then_resumes_to_identical_bytes(tmp_path):
    synthetic = write_synthetic(tmp_path / "syn", n_images=40, style="brightfield", seed=5)
    script = tmp_path / "build.py"
    script.write_text(BUILD)
    killed, clean = tmp_path / "killed.zarr", tmp_path / "clean.zarr"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(synthetic.root), str(killed), "0.05"], env=env
    )
    # Wait until at least one chunk is written, then kill without warning.
    deadline = time.time() + 120
    progress = killed / "size_32" / "zarr.json"
    while time.time() < deadline:
        if progress.exists() and '"progress"' in progress.read_text():
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with pytest.raises(StoreIncompleteError, match="incomplete"):
        open_patches(killed, 32)
    # Re-running resumes; an uninterrupted build gives the same bytes.
    subprocess.run([sys.executable, str(script), str(synthetic.root), str(killed), "0"], check=True)
    subprocess.run([sys.executable, str(script), str(synthetic.root), str(clean), "0"], check=True)
    assert _files(killed) == _files(clean)
    meta_killed, meta_clean = _arrays_meta(killed), _arrays_meta(clean)
    assert meta_killed.keys() == meta_clean.keys()
    for key in meta_clean:
        meta_killed[key].get("attributes", {}).pop("progress", None)
        meta_clean[key].get("attributes", {}).pop("progress", None)
        assert meta_killed[key] == meta_clean[key], key
    assert open_patches(killed, 32)["patches"].shape[0] == len(synthetic.truth)
