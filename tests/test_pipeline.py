"""A reproducible run from a configuration file: `cellconsensus run` and `run_pipeline`."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from cellconsensus import read_cells
from cellconsensus.errors import CellConsensusInputError, InvalidParameterError
from cellconsensus.pipeline import example_config, load_config, run_pipeline
from cellconsensus.synthetic import write_synthetic


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_synthetic(tmp_path_factory.mktemp("syn") / "set", 4, n_annotators=4, seed=3)


def _config(folder: Path, data, extra: str = "") -> Path:
    """A config in ``folder`` naming the synthetic set by paths relative to the folder."""
    rel = Path("..") / data.root.name
    path = folder / "run.toml"
    path.write_text(
        f'[input]\npath = "{rel / data.task_runs.relative_to(data.root)}"\n'
        f'tasks = "{rel / data.tasks.relative_to(data.root)}"\n'
        '[consensus]\nstrategy = "dbscan"\nparams = { eps = "auto" }\nlabels = "mean"\n' + extra
    )
    return path


def test_same_config_same_cells_and_a_full_record(data, tmp_path):
    folder = data.root.parent / "configs"
    folder.mkdir(exist_ok=True)
    images = Path("..") / data.root.name / data.images.relative_to(data.root)
    truth = Path("..") / data.root.name / data.annotations.relative_to(data.root)
    config = _config(
        folder,
        data,
        f'[report]\nimages = "{images}"\ntruth = "{truth}"\nmax_images = 2\n'
        f'[patches]\nimages = "{images}"\nsizes = [24]\n'
        f'[output]\ndir = "{tmp_path / "first"}"\n',
    )
    first = run_pipeline(config)
    config.write_text(config.read_text().replace(str(tmp_path / "first"), str(tmp_path / "again")))
    again = run_pipeline(config)
    pd.testing.assert_frame_equal(
        read_cells(first["outputs"]["cells"]), read_cells(again["outputs"]["cells"])
    )
    record = json.loads((tmp_path / "first" / "run.json").read_text())
    assert record["strategy"].startswith("DBSCANStrategy(eps=")  # "auto" as resolved
    assert record["config"]["consensus"]["min_support"] is not None  # defaults filled in
    assert record["inputs"] == again["inputs"] and all(record["inputs"].values())
    assert record["counts"]["patches"]["24"] > 0
    assert (tmp_path / "first" / "patches.zarr").is_dir()
    page = Path(record["outputs"]["report"]).read_text()
    assert record["strategy"] in page  # the configured consensus is the report's
    # The configuration written beside the outputs replays the run, from anywhere.
    replay = tomllib.loads((tmp_path / "first" / "config.toml").read_text())
    assert replay["consensus"]["min_annotators"] == record["config"]["consensus"]["min_annotators"]
    replayed = run_pipeline(tmp_path / "first" / "config.toml")
    assert replayed["config"] == record["config"] and replayed["strategy"] == record["strategy"]
    pd.testing.assert_frame_equal(read_cells(replayed["outputs"]["cells"]),
                                  read_cells(again["outputs"]["cells"]))  # fmt: skip


def test_paths_resolve_from_the_config_folder_not_the_working_directory(data, tmp_path):
    folder = data.root.parent / "elsewhere"
    folder.mkdir(exist_ok=True)
    config = _config(folder, data, f'[output]\ndir = "{tmp_path / "out"}"\n')
    done = subprocess.run(
        [sys.executable, "-m", "cellconsensus", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (
        "replay: cellconsensus run" in done.stdout
        and (tmp_path / "out" / "cells.parquet").is_file()
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[input]\npath = 'x.csv'\n[consensus]\nepss = 3\n", "unknown key 'epss' in [consensus]"),
        ("[input]\npath = 'x.csv'\n[consesus]\n", "unknown section [consesus]"),
        ("[consensus]\nstrategy = 'dbscan'\n", "[input] path"),
        ("[input\npath = 'x.csv'\n", "not a TOML file"),
        ("input = 3\n", "[input] must be a table"),
        ("[input]\npath = 'x.csv'\n[report]\nclicks = 'y'\n", "unknown key 'clicks' in [report]"),
        ("[input]\npath = 'x.csv'\n[patches]\nsizes = [32]\n", "[patches] images"),
        ("[input]\npath = 3\n", "[input] path must be a path (text), got 3"),
    ],
)
def test_a_bad_config_names_the_file_and_the_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(CellConsensusInputError) as caught:
        load_config(path)
    assert message in str(caught.value) and "bad.toml" in str(caught.value)


def test_the_cli_reports_a_bad_config_in_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[input]\npath = 'x.csv'\n[consensus]\nepss = 3\n")
    done = subprocess.run(
        [sys.executable, "-m", "cellconsensus", "run", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "epss" in done.stderr


def test_a_bad_strategy_parameter_is_the_strategys_error(data, tmp_path):
    config = _config(tmp_path, data)
    config.write_text(config.read_text().replace('eps = "auto"', "radius = 20"))
    config.write_text(config.read_text().replace("../", str(data.root.parent) + "/"))
    with pytest.raises(InvalidParameterError, match="radius"):
        run_pipeline(config)


def test_to_toml_round_trips_what_a_config_holds():
    from cellconsensus.pipeline import to_toml

    config = {"a": {"s": 'quote " and \\ and é', "f": 0.1, "i": -3, "b": False,
                    "l": [1, 2.5], "d": {"eps": "auto", "odd key": 1}, "n": None}}  # fmt: skip
    back = tomllib.loads(to_toml(config))
    assert back == {"a": {k: v for k, v in config["a"].items() if v is not None}}


def test_the_example_is_valid_toml_that_loads(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "cellconsensus", "run", "--example"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert tomllib.loads(done.stdout) == tomllib.loads(example_config())
    path = tmp_path / "example.toml"
    path.write_text(done.stdout)
    config = load_config(path)  # every key is one the functions accept
    assert config["input"]["path"] == str(tmp_path / "task_runs.csv")
