"""Smoke tests: every benchmark script runs end to end on a small workload."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_consensus_speed_smoke():
    out = _run("consensus_speed.py", "--n-images", "100", "--repeats", "1")
    assert "clicks/s" in out
    result = json.loads((BENCH / "results" / "consensus_speed.json").read_text())
    assert result["runs"]["n_jobs=1"]["n_cells"] == result["runs"]["n_jobs=2"]["n_cells"] > 0


def test_dawid_skene_speed_smoke():
    out = _run("dawid_skene_speed.py", "--n-tasks", "500", "--repeats", "1")
    result = json.loads((BENCH / "results" / "dawid_skene_speed.json").read_text())
    # Better than always answering the majority class (65 % alive).
    assert "cellconsensus" in out and result["cellconsensus"]["accuracy"] > 0.7


def test_ldc_accuracy_smoke(ldc_images):
    out = _run("ldc_accuracy.py", "--max-images", "40")
    assert "radius-thesis" in out
    table = json.loads((BENCH / "results" / "ldc_accuracy.json").read_text())["table"]
    assert {row["strategy"] for row in table} >= {"dbscan", "radius-thesis"}


@pytest.mark.parametrize(
    "script", ["consensus_speed.py", "dawid_skene_speed.py", "ldc_accuracy.py"]
)
def test_help(script):
    assert "usage" in _run(script, "--help")
