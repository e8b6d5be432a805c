"""Every example runs (synthetic data; real-data variants where ../shared/data is present),
and the example strategy plugin is found through a real entry point."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PLUGIN = EXAMPLES / "strategy_plugin"


def _run(tmp_path: Path, script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--out", str(tmp_path / "out"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_aggregate_pybossa(tmp_path):
    out = _run(tmp_path, "aggregate_pybossa.py")
    assert "duplicate" in out and (tmp_path / "out" / "cells.parquet").exists()


def test_compare_strategies(tmp_path):
    out = _run(tmp_path, "compare_strategies.py")
    assert "radius-thesis" in out and (tmp_path / "out" / "strategies.png").stat().st_size > 0


def test_patch_store(tmp_path):
    out = _run(tmp_path, "patch_store.py")
    assert "<xarray.Dataset>" in out and (tmp_path / "out" / "sheet.png").exists()


def test_train_cnn(tmp_path):
    out = _run(tmp_path, "train_cnn.py", "--epochs", "1")
    assert "balanced_accuracy" in out and "confusion" in out


def test_predict_cells(tmp_path):
    out = _run(tmp_path, "predict_cells.py")
    assert "p_alive" in out and "agreement with the labels" in out


def test_custom_strategy(tmp_path):
    out = _run(tmp_path, "custom_strategy.py")
    assert "average-linkage (auto)" in out


def test_scale_out(tmp_path):
    out = _run(tmp_path, "scale_out.py")
    assert "same as one process: True" in out and "train" in out


@pytest.mark.peers
def test_zooniverse_switch(tmp_path):
    """Our half everywhere; both halves side by side in the peers' environment."""
    import pandas as pd

    out = _run(tmp_path, "zooniverse_switch.py")
    table = pd.read_csv(tmp_path / "out" / "zooniverse_switch.csv")
    assert table["pipeline"].iloc[0].startswith("cellconsensus, defaults")
    assert table["f1"].iloc[0] > 0.95 and "one tidy table" in out
    try:
        import panoptes_aggregation  # noqa: F401
    except ImportError:
        assert len(table) == 1 and "panoptes-aggregation is not installed" in out
    else:
        assert len(table) == 3 and table["recall"].iloc[1:].gt(0.3).all()


@pytest.mark.parametrize(
    "script",
    ["aggregate_pybossa.py", "compare_strategies.py", "custom_strategy.py", "scale_out.py"],
)
def test_real_data_variants(tmp_path, cellspotting_csv, ldc_images, script):
    assert _run(tmp_path, script, "--real")


def test_real_data_variant_says_what_is_missing(tmp_path, monkeypatch):
    import importlib.util

    # Loaded by path: benchmarks/ has a `_common` too, which another test may have imported.
    spec = importlib.util.spec_from_file_location("examples_common", EXAMPLES / "_common.py")
    _common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(_common)
    monkeypatch.setattr(_common, "SHARED_DATA", tmp_path / "nowhere")
    with pytest.raises(SystemExit, match="real data not found at .*nowhere/ldc"):
        _common.real("ldc", "images")


def test_plugin_is_found_by_entry_point(tmp_path, monkeypatch):
    """Install the example plugin's metadata (as pip would) and find it by name."""
    dist = tmp_path / "cellconsensus_meanshift-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: cellconsensus-meanshift\nVersion: 0.1.0\n"
    )
    project = tomllib.loads(PLUGIN.joinpath("pyproject.toml").read_text())["project"]
    entries = project["entry-points"]["cellconsensus.strategies"]
    listed = "".join(f"{name} = {value}\n" for name, value in entries.items())
    (dist / "entry_points.txt").write_text(f"[cellconsensus.strategies]\n{listed}")
    monkeypatch.syspath_prepend(str(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))

    from cellconsensus import available_strategies, find_consensus, make_truth, score
    from cellconsensus.simulate import simulate_crowd

    assert "meanshift" in available_strategies()
    truth = make_truth(n_images=6, seed=0)
    result = find_consensus(
        simulate_crowd(truth, 5, seed=0), "meanshift", params={"bandwidth": "auto"}
    )
    assert score(result.cells, truth).f1 > 0.9
    assert type(result.strategy).__name__ == "MeanShiftStrategy"


def test_plugin_doctest_and_its_conformance_test():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--doctest-modules",
            str(PLUGIN / "cellconsensus_meanshift.py"),
            str(PLUGIN / "test_meanshift.py"),
        ],
        cwd=PLUGIN,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert "2 passed" in done.stdout, done.stdout[-2000:]
