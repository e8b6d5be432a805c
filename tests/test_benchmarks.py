"""Smoke tests: every benchmark script runs end to end on a small workload."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(autouse=True)
def results(tmp_path, monkeypatch) -> Path:
    """Smoke runs write their results to a temporary folder, never over measured ones."""
    monkeypatch.setenv("CELLCONSENSUS_BENCH_RESULTS", str(tmp_path))
    return tmp_path


def _run(script: str, *args: str, cwd: Path = BENCH) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.peers
def test_consensus_accuracy_smoke(results):
    out = _run("consensus_accuracy.py", "--quick", "--datasets", "synthetic")
    result = json.loads((results / "consensus_accuracy.json").read_text())
    strategies = {row["strategy"] for row in result["summary"]}
    # Every registered strategy, default and auto scale, and the thesis (tuned too).
    assert {"dbscan", "dbscan (auto)", "radius-thesis", "radius-thesis (tuned)"} <= strategies
    reference = [r for r in result["summary"] if r["n_annotators"] == 5 and not r["spam"]]
    assert max(r["f1"] for r in reference) > 0.8  # some strategy finds the cells
    assert all(0 <= r["f1_min"] <= r["f1"] <= r["f1_max"] <= 1 for r in result["summary"])
    assert "| strategy |" in (results / "consensus_accuracy.md").read_text() and "F1" in out
    # The defaults, row by row against the tuned peers, with their calibration.
    assert "default" in strategies
    versus = result["defaults_against_peers"]
    assert {r["n_annotators"] for r in versus} == {r["n_annotators"] for r in reference} | {3}
    assert all(0 <= r["ece"] <= 1 and r["default_f1"] > 0 for r in versus)
    bins = result["reliability"]["synthetic"]
    assert sum(b.get("n", 0) for b in bins) == next(b["n_cells"] for b in bins if "ece" in b)
    assert "Defaults against the tuned peers" in (results / "consensus_accuracy.md").read_text()
    # The report draws its F1-against-annotators and calibration plots from the JSON.
    _run("report.py", "--results", str(results), "--out", str(results / "page" / "b.md"))
    for plot in ("consensus_accuracy.png", "calibration.png"):
        assert (results / "page" / "benchmarks" / plot).stat().st_size > 0


def test_real_cellspotting(cellspotting_csv, results):
    out = _run("real_cellspotting.py")
    result = json.loads((results / "real_cellspotting.json").read_text())
    lone = result["agreement"][0]
    assert lone["cells"] == "one volunteer" and lone["agree"] >= 0.99
    assert result["majority_dead_to_alive"] < 10
    assert "spammer score" in out


@pytest.mark.peers
def test_label_aggregation_smoke(results):
    _run("label_aggregation.py", "--quick")
    result = json.loads((results / "label_aggregation.json").read_text())
    accuracy = {
        (r["dataset"], r["label_noise"], r["spam"], r["method"]): r["accuracy"]
        for r in result["summary"]
    }
    # 5 % label noise, no spammers: every one of our aggregators gets most cells right.
    assert all(
        accuracy[("synthetic", 0.05, False, f"ours {m}")] > 0.9
        for m in ("mean", "majority", "dawid-skene")
    )
    assert result["scaling"][0]["method"] == "ours dawid-skene"


def test_votes_from_crowd_keeps_one_vote_per_task_and_worker():
    sys.path.insert(0, str(BENCH))
    from label_aggregation import votes_from_crowd

    from cellconsensus import make_truth, simulate_crowd

    truth = make_truth(5, seed=0)
    votes, labels = votes_from_crowd(simulate_crowd(truth, 5, seed=0, label_noise=0.0), truth)
    assert not votes.duplicated(["task", "worker"]).any()
    assert set(votes["label"]) <= {"alive", "dead"} and len(labels) == len(truth)
    # Without label noise nearly every vote (except spurious clicks near a cell) is right.
    assert (votes["label"].to_numpy() == labels[votes["task"].to_numpy()]).mean() > 0.95


@pytest.mark.peers
def test_label_classes_smoke(results):
    out = _run("label_classes.py", "--quick")
    assert "**K = 3**" in out and "**K = 2**" in out
    summary = json.loads((results / "label_classes.json").read_text())["summary"]
    assert {row["classes"] for row in summary} == {2, 3}
    ours = [r for r in summary if r["method"] == "ours dawid-skene" and r["label_noise"] == 0.1]
    assert ours and all(r["accuracy"] > 0.9 for r in ours)


@pytest.mark.peers
def test_three_classes_smoke(results):
    out = _run("three_classes.py", "--quick")
    assert "K=3" in out and "K=2" in out
    summary = json.loads((results / "three_classes.json").read_text())["consensus"]
    assert {row["classes"] for row in summary} == {2, 3}
    ours = [r for r in summary if r["method"].startswith("ours default")]
    assert len(ours) == 2 and all(r["f1"] > 0.95 and r["label_accuracy"] > 0.9 for r in ours)


@pytest.mark.peers
def test_consensus_speed_smoke(results):
    out = _run("consensus_speed.py", "--quick")
    assert "clicks/s" in out
    result = json.loads((results / "consensus_speed.json").read_text())
    runs = {(r["strategy"], r["n_images"]): r for r in result["runs"]}
    assert runs[("dbscan", 200)]["clicks_per_s"] > 0
    assert runs[("dbscan", 200)]["n_clicks"] == runs[("dbscan n_jobs=2", 200)]["n_clicks"]
    assert runs[("default", 200)]["n_clicks"] == runs[("dbscan", 200)]["n_clicks"]


def test_input_pipeline_smoke(results):
    _run("input_pipeline.py", "--quick")
    rows = json.loads((results / "input_pipeline.json").read_text())["rows"]
    names = {r["loader"] for r in rows}
    assert "zarr store -> tf.data, streaming" in names
    assert any(name.startswith("PNG folders") for name in names)
    assert all(r["patches_per_s"] > 0 for r in rows)


def test_suite_runner_and_report(results):
    # As `make bench-quick` calls it: from the repository root, interpreter path relative.
    root = BENCH.parent
    peers_python = os.path.relpath(sys.executable, root)
    # One of the quickest benchmarks: the runner and the page are what is tested here.
    out = _run(
        "run.py", "--quick", "--only", "double_clicks", "--peers-python", peers_python, cwd=root
    )
    assert "double_clicks: exit 0" in out
    page = (results / "benchmarks.md").read_text()
    assert "## Double clicks" in page and "| radius" in page
    # Benchmarks without results are listed with their command, not left out.
    assert "*Not measured yet*: run `python benchmarks/label_aggregation.py`" in page


def test_synthetic_speed_smoke(results):
    out = _run("synthetic_speed.py", "--n-images", "8", "--repeats", "1")
    assert "images/s" in out
    runs = json.loads((results / "synthetic_speed.json").read_text())["runs"]
    assert {"fluorescence render n_jobs=1", "brightfield write n_jobs=2"} <= set(runs)
    assert all(run["images_per_s"] > 0 for run in runs.values())


def test_distributed_scaling_smoke(results):
    pytest.importorskip("distributed")
    out = _run("distributed_scaling.py", "--quick")
    assert "Parallel efficiency falls under 50 %" in out
    result = json.loads((results / "distributed_scaling.json").read_text())
    case = "dbscan eps 10, majority, threshold"
    assert {
        f"consensus {case}, pandas, 2 worker(s)",
        f"consensus {case}, parquet, 1 worker(s)",
        "patches, 2 worker(s)",
    } <= set(result["runs"])
    workers = {row["workers"] for row in result["predictions"]}
    assert workers == {1, 2, 8, 32, 64, 128}
    assert all(row["seconds"] > 0 for row in result["predictions"])
    assert all(ratio > 0 for ratio in result["one_worker_over_one_process"].values())
    # The model has the EM iterations of the defaults (annotator model and Dawid-Skene).
    assert result["model_inputs"][case]["iterations"] == 0
    defaults = "defaults (eps auto, annotator model, dawid-skene)"
    assert result["model_inputs"][defaults]["iterations"] > 0


def test_double_clicks_smoke(results):
    out = _run("double_clicks.py", "--quick")
    assert "best F1 at" in out
    result = json.loads((results / "double_clicks.json").read_text())
    assert {row["radius"] for row in result["rows"]} == {0.0, 6.0}
    assert result["nearest_true_cells"]["synthetic"] > 6.0
    assert all(0 < row["f1"] <= 1 for row in result["rows"])


def test_reliability_smoke(results):
    out = _run("reliability.py", "--quick", "--workers", "1")
    assert "Cases not handled (failed tests): **0**" in out
    result = json.loads((results / "reliability.json").read_text())
    areas = {row["area"] for row in result["fuzz"]}
    assert {"PyBossa JSON", "consensus on degenerate tables", "Pascal VOC truth"} <= areas
    assert all(row["cases"] == row["result"] + row["policy"] + row["error"] > 0
               for row in result["fuzz"])  # fmt: skip
    assert result["kill_points_tried"] == 1 and result["kill"] == [
        {"executor": "serial", "resumed": 1}
    ]
    assert {row["damage"] for row in result["chunks"]} == {
        "deleted", "emptied", "truncated", "bit flipped", "swapped"
    }  # fmt: skip
    assert all(row["detected"] > 10 for row in result["chunks"])


def test_patch_store_smoke(results):
    out = _run("patch_store.py", "--quick")
    assert "png folders" in out and "store n_jobs=1" in out
    result = json.loads((results / "patch_store.json").read_text())
    synthetic = result["synthetic"]
    assert synthetic["store n_jobs=1"]["patches_per_s"] > 0 and synthetic["n_patches"] >= 600
    assert set(result["chunk_sweep"]) == {"32", "154"}


@pytest.mark.parametrize("dataset", ["ldc", "synthetic"])
def test_crop_size_smoke(request, dataset, results, tmp_path):
    if dataset == "ldc":
        request.getfixturevalue("ldc_images")
    size = "32" if dataset == "ldc" else "64"
    out = _run(
        "crop_size.py",
        *("--dataset", dataset, "--max-images", "30" if dataset == "ldc" else "8"),
        *("--sizes", size, "--models", "compact", "--epochs", "1", "--work", str(tmp_path)),
    )
    rows = json.loads((results / f"crop_size_{dataset}.json").read_text())["rows"]
    assert {r["model"] for r in rows} == {"logistic regression", "compact"}
    assert all(0 <= r["balanced_accuracy"] <= 1 for r in rows) and "ROC AUC" in out


def test_end_to_end_smoke(ldc_images, results):
    out = _run("end_to_end.py", "--quick")
    rows = json.loads((results / "end_to_end.json").read_text())["rows"]
    assert [r["strategy"] for r in rows] == ["expert labels", "dbscan", "radius-thesis"]
    # The thesis' rule keeps few cells of a busy crowd; the default strategy most of them.
    by = {r["strategy"]: r for r in rows}
    assert by["radius-thesis"]["train_cells"] < by["dbscan"]["train_cells"]
    assert by["expert labels"]["train_label_accuracy"] == 1.0 and "test ROC AUC" in out


def test_allocation_smoke(results):
    out = _run("allocation.py", "--quick", "--datasets", "synthetic")
    summary = json.loads((results / "allocation.json").read_text())["summary"]
    policies = {"uniform", "agreement", "ours", "ours per click", "oracle"}
    if importlib.util.find_spec("tensorflow") is not None:  # a detector's second look too
        policies |= {"ours + detector", "ours + detector per click"}
        assert "images taught on" in out
    assert {r["policy"] for r in summary} == policies
    for policy in {p for p in policies if p.startswith("ours")}:
        ours = next(r for r in summary if r["policy"] == policy)
        assert ours["predicted_gain"] > 0 and 0 <= ours["ahead_of_agreement"] <= 1
    for row in summary:
        assert row["errors_ratio"] > 0 and -1 <= row["runs_saving"] <= 1
    # Uniform against itself: the same errors, its own target reached by uniform-5 at latest.
    uniform = next(r for r in summary if r["policy"] == "uniform")
    assert uniform["errors_ratio"] == 1.0 and uniform["runs_saving"] >= 0
    assert "Ranking 2,000 images" in out


def test_three_classes_cnn_smoke(results):
    out = _run("three_classes_cnn.py", "--quick")
    summary = json.loads((results / "three_classes_cnn.json").read_text())["summary"]
    assert {(r["classes"], r["target"]) for r in summary} == {
        (k, t) for k in (2, 3) for t in ("hard", "soft")
    }
    three = [r for r in summary if r["classes"] == 3]
    assert all(np.asarray(r["confusion"]).shape == (3, 3) for r in three)
    assert all("recall_mitotic" in r for r in three) and "recall mitotic" in out


def test_detection_smoke(results):
    pytest.importorskip("skimage")
    out = _run("detection.py", "--quick", "--datasets", "synthetic")
    result = json.loads((results / "detection.json").read_text())
    (row,) = result["summary"]
    assert row["data"] == "synthetic" and 0 <= row["log_f1"] <= 1 and 0 <= row["f1"] <= 1
    assert set(row["log_params"]) == {"min_sigma", "max_sigma", "threshold", "dark"}
    assert all(0 <= row[f"crowd{n}_f1"] <= 1 for n in (1, 2, 3, 5, 10))
    assert row["images_per_s"] > 0 and row["images_per_s_1024"] > 0
    assert "crowd size of equal F1" in out and "LoG F1" in out
    # The F1's bootstrap interval, per run and in the summary.
    (run,) = result["runs"]
    low, high = run["f1_interval"]
    assert 0 <= low <= high <= 1 and (row["f1_low"], row["f1_high"]) == (low, high)
    assert "F1 95 % interval" in out and f"{low:.3f} - {high:.3f}" in out
    # The same detections labelled by the patch classifier.
    assert 0 <= row["classifier_balanced_label_accuracy"] <= 1
    assert "balanced (patch classifier)" in out


def test_detector_input_smoke(results):
    out = _run("detector_input.py", "--quick")
    result = json.loads((results / "detector_input.json").read_text())
    (row,) = result["streams"]  # the quick run leaves LDC out
    assert row["images"] == 6 and row["memory_mib"] > 0 and row["cache_mib"] > 0
    assert row["crops_per_s_memory"] > 0 and row["crops_per_s_cache"] > 0
    assert row["model_crops_per_s"] > 0
    modes = [run["mode"] for run in result["training"]]
    assert modes == ["memory", "cache (built)", "cache (reused)"]
    assert all(run["peak_rss_mib"] > 0 and 0 <= run["validation_f1"] <= 1
               for run in result["training"])  # fmt: skip
    assert "crops/s from cache" in out and "peak RSS" in out


@pytest.mark.parametrize(
    "script",
    # The scripts whose smoke run above may skip (no LDC data or Cell Spotting export) or
    # that has none: the others' smoke runs parse their arguments already.
    ["crop_size.py", "end_to_end.py", "real_cellspotting.py", "report.py", "ensemble.py"],
)
def test_help(script):
    assert "usage" in _run(script, "--help")
