"""Smoke tests: every benchmark script runs end to end on a small workload."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(autouse=True)
def results(tmp_path, monkeypatch) -> Path:
    """Smoke runs write their results to a temporary folder, never over measured ones."""
    monkeypatch.setenv("CELLCONSENSUS_BENCH_RESULTS", str(tmp_path))
    return tmp_path


def _run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_consensus_speed_smoke(results):
    out = _run("consensus_speed.py", "--n-images", "100", "--repeats", "1")
    assert "clicks/s" in out
    result = json.loads((results / "consensus_speed.json").read_text())
    assert result["runs"]["n_jobs=1"]["n_cells"] == result["runs"]["n_jobs=2"]["n_cells"] > 0


def test_dawid_skene_speed_smoke(results):
    out = _run("dawid_skene_speed.py", "--n-tasks", "500", "--repeats", "1")
    result = json.loads((results / "dawid_skene_speed.json").read_text())
    # Better than always answering the majority class (65 % alive).
    assert "cellconsensus" in out and result["cellconsensus"]["accuracy"] > 0.7


def test_ldc_accuracy_smoke(ldc_images, results):
    out = _run("ldc_accuracy.py", "--max-images", "40")
    assert "radius-thesis" in out
    table = json.loads((results / "ldc_accuracy.json").read_text())["table"]
    assert {row["strategy"] for row in table} >= {"dbscan", "radius-thesis"}


def test_synthetic_speed_smoke(results):
    out = _run("synthetic_speed.py", "--n-images", "8", "--repeats", "1")
    assert "images/s" in out
    runs = json.loads((results / "synthetic_speed.json").read_text())["runs"]
    assert {"fluorescence render n_jobs=1", "brightfield write n_jobs=2"} <= set(runs)
    assert all(run["images_per_s"] > 0 for run in runs.values())


def test_patch_store_smoke(results):
    out = _run("patch_store.py", "--quick")
    assert "png folders" in out and "store n_jobs=1" in out
    result = json.loads((results / "patch_store.json").read_text())
    synthetic = result["synthetic"]
    assert synthetic["store n_jobs=1"]["patches_per_s"] > 0 and synthetic["n_patches"] >= 600
    assert set(result["chunk_sweep"]) == {"32", "154"}


def test_ldc_cnn_smoke(ldc_images, results, tmp_path):
    out = _run(
        "ldc_cnn.py",
        "--max-images",
        "60",
        "--sizes",
        "32",
        "--models",
        "compact",
        "--epochs",
        "1",
        "--work",
        str(tmp_path),
    )
    rows = json.loads((results / "ldc_cnn.json").read_text())["rows"]
    assert {r["model"] for r in rows} == {"logistic regression", "compact"}
    assert all(0 <= r["balanced_accuracy"] <= 1 for r in rows) and "ROC AUC" in out


@pytest.mark.parametrize(
    "script",
    [
        "ldc_cnn.py",
        "consensus_speed.py",
        "dawid_skene_speed.py",
        "ldc_accuracy.py",
        "synthetic_speed.py",
        "patch_store.py",
    ],
)
def test_help(script):
    assert "usage" in _run(script, "--help")
