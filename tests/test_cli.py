"""The command line: every sub-command end to end, help, and error reporting."""

from __future__ import annotations

import pandas as pd
import pytest

from cellconsensus.cli import COMMANDS, main


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "usage: cellconsensus" in capsys.readouterr().out


def test_simulate_aggregate_compare(tmp_path, capsys):
    clicks, truth, cells = (
        tmp_path / "clicks.parquet",
        tmp_path / "truth.csv",
        tmp_path / "cells.csv",
    )
    assert (
        main(
            [
                "simulate",
                "--synthetic",
                "8",
                "--seed",
                "1",
                "-o",
                str(clicks),
                "--truth-out",
                str(truth),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "aggregate",
                str(clicks),
                "--strategy",
                "dbscan",
                "--param",
                "eps=auto",
                "-o",
                str(cells),
                "--assignments",
                str(tmp_path / "a.csv"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "estimated click noise" in out and "wrote" in out
    table = pd.read_csv(cells)
    assert len(table) > 50 and table["p_alive"].between(0, 1).all()
    assert len(pd.read_csv(tmp_path / "a.csv")) == len(pd.read_parquet(clicks))
    assert (
        main(
            [
                "compare",
                str(clicks),
                "--truth",
                str(truth),
                "--strategies",
                "dbscan,radius-thesis",
                "-o",
                str(tmp_path / "cmp.csv"),
            ]
        )
        == 0
    )
    result = pd.read_csv(tmp_path / "cmp.csv")
    assert result["strategy"].tolist() == ["dbscan", "radius-thesis"]
    assert result.loc[0, "f1"] > 0.9
    # Without truth: agreement between the strategies, and the images they dispute.
    capsys.readouterr()
    images = tmp_path / "images.csv"
    args = ["compare", str(clicks), "--strategies", "dbscan,kmeans", "--top", "3"]
    assert main([*args, "--images-out", str(images)]) == 0
    out = capsys.readouterr().out
    assert "agreement" in out and "Images where the strategies disagree most" in out
    ranking = pd.read_csv(images)
    assert ranking["agreement"].is_monotonic_increasing and ranking["agreement"].iloc[-1] <= 1
    assert {"n_dbscan", "n_kmeans"} <= set(ranking.columns)
    modelled = tmp_path / "modelled.csv"
    assert main(["aggregate", str(clicks), "--support-rule", "model", "-o", str(modelled)]) == 0
    assert pd.read_csv(modelled)["p_real"].between(0.5, 1).all()


def test_bad_input_is_one_line_with_exit_2(tmp_path, capsys):
    bad = tmp_path / "runs.csv"
    bad.write_text("alive_array,task\n\"[[u'alive', 1\",http://h/a\n")
    assert main(["aggregate", str(bad), "-o", str(tmp_path / "c.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "record 1, field 'alive_array'" in err
    assert not (tmp_path / "c.csv").exists()


def test_real_cellspotting_via_cli(cellspotting_csv, tmp_path, capsys):
    assert (
        main(
            [
                "aggregate",
                str(cellspotting_csv),
                "--strategy",
                "radius-thesis",
                "-o",
                str(tmp_path / "c.csv"),
            ]
        )
        == 0
    )
    assert "clipped: 1" in capsys.readouterr().out


def test_synthetic_then_compare_from_the_written_files(tmp_path, capsys):
    out = tmp_path / "syn"
    args = ["synthetic", str(out), "--n-images", "6", "--style", "brightfield", "--seed", "2"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "6 brightfield images" in printed and "next: cellconsensus compare" in printed
    # The printed next step works as printed.
    command = printed.split("next: cellconsensus ")[1].split()
    assert main([*command, "--strategies", "dbscan"]) == 0
    table = capsys.readouterr().out
    assert "dbscan" in table and "f1" in table
    # An existing folder is not replaced without --overwrite.
    assert main(args) == 2
    assert "exists; pass overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--n-annotators", "0"]) == 0
    assert not (out / "crowd").exists()


def test_demo_runs_the_pipeline_from_files(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--n-images", "12", "--out", str(out), "--n-jobs", "1"]) == 0
    printed = capsys.readouterr().out
    for step in ("1. images", "2. read back", "3. consensus", "4. consensus cells", "5. labelled"):
        assert step in printed
    assert (out / "synthetic" / "manifest.json").exists()
    # Every file the demo wrote is named in demo.json, which the next step reads.
    from cellconsensus.demo import DemoRun

    run = DemoRun.load(out)
    assert run.store == out / "patches.zarr" and run.summary["images"] == 12
    (out / "cells.parquet").rename(out / "moved.parquet")
    with pytest.raises(FileNotFoundError, match="lacks cells"):
        DemoRun.load(out)
    (out / "moved.parquet").rename(out / "cells.parquet")
    assert pd.read_parquet(out / "cells.parquet")["label"].isin(["alive", "dead", "unsure"]).all()
    assert (out / "patches.png").exists()
    from cellconsensus.store import open_patches

    ds = open_patches(out / "patches.zarr")
    assert ds.sizes["cell"] == len(pd.read_parquet(out / "cells.parquet"))
    assert "DBSCANStrategy" in ds.attrs["provenance"]["consensus"]["strategy"]


def test_patches_then_inspect_with_a_contact_sheet(tmp_path, capsys):
    syn = tmp_path / "syn"
    assert main(["synthetic", str(syn), "--n-images", "6", "--style", "brightfield"]) == 0
    cells = tmp_path / "cells.parquet"  # Parquet keeps the consensus provenance, CSV cannot
    assert (
        main(
            [
                "aggregate",
                str(syn / "crowd" / "task_runs.json"),
                "--tasks",
                str(syn / "crowd" / "tasks.json"),
                "-o",
                str(cells),
            ]
        )
        == 0
    )
    store = tmp_path / "p.zarr"
    args = [
        "patches",
        "--cells",
        str(cells),
        "--images",
        str(syn / "images"),
        "--store",
        str(store),
        "--size",
        "32",
        "--size",
        "48",
    ]
    assert main(args) == 0
    assert "built" in capsys.readouterr().out
    assert main(args) == 0
    assert "up to date" in capsys.readouterr().out
    sheet = tmp_path / "sheet.png"
    assert main(["inspect", str(store), "--sheet", str(sheet)]) == 0
    out = capsys.readouterr().out
    assert "sizes [32, 48]" in out and "DBSCANStrategy" in out and sheet.exists()
    # A store built from other cells is refused with a one-line error.
    assert main(["patches", "--truth", str(syn / "truth.csv"), *args[3:]]) == 2
    assert "--mode w" in capsys.readouterr().err  # the flag, not only the Python keyword
    assert main(["inspect", str(tmp_path / "nothing.zarr")]) == 2
    # Every image unreadable under --on-error skip: once "success" with 0 patches.
    (tmp_path / "no_images").mkdir()
    skip = ["patches", "--cells", str(cells), "--images", str(tmp_path / "no_images"),
            "--store", str(tmp_path / "empty.zarr"), "--size", "32", "--on-error", "skip"]  # fmt: skip
    assert main(skip) == 1
    assert "no patch stored" in capsys.readouterr().err


def test_aggregate_and_patches_on_a_local_cluster(tmp_path, capsys):
    pytest.importorskip("distributed")
    from cellconsensus.distributed import read_cells

    syn = tmp_path / "syn"
    assert main(["synthetic", str(syn), "--n-images", "6", "--style", "brightfield"]) == 0
    export = [str(syn / "crowd" / "task_runs.json"), "--tasks", str(syn / "crowd" / "tasks.json")]
    single, parts = tmp_path / "cells.parquet", tmp_path / "cells-parts"
    # The same defaults (the annotator model among them) on one process and a cluster.
    assert main(["aggregate", *export, "-o", str(single)]) == 0
    assert main(["aggregate", *export, "-o", str(parts), "--scheduler", "local:2"]) == 0
    assert "LocalCluster of 2 worker(s)" in capsys.readouterr().out
    # What a cluster cannot write is said before any work starts.
    with pytest.raises(SystemExit, match="--assignments"):
        main(["aggregate", *export, "-o", str(parts), "--scheduler", "local:2",
              "--assignments", str(tmp_path / "a.csv")])  # fmt: skip
    expected = pd.read_parquet(single).sort_values(["image_id", "cell_id"], ignore_index=True)
    got = read_cells(parts)
    pd.testing.assert_frame_equal(
        got[["image_id", "cell_id", "x", "y", "label"]],
        expected[["image_id", "cell_id", "x", "y", "label"]],
        check_dtype=False,
        check_categorical=False,
    )
    store = tmp_path / "p.zarr"
    args = ["patches", "--cells", str(single), "--images", str(syn / "images"), "--store"]
    assert main([*args, str(store), "--size", "32", "--scheduler", "local:2"]) == 0
    assert "built" in capsys.readouterr().out
    assert main(["inspect", str(store)]) == 0


def test_bad_input_and_parameters_are_one_line_with_exit_2(tmp_path, capsys):
    """Each once ended in a traceback (a 7-frame one for the unknown parameter)."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    syn = tmp_path / "syn"
    assert main(["synthetic", str(syn), "--n-images", "2"]) == 0
    export = str(syn / "crowd" / "task_runs.json")
    cases = {
        "nested too deeply": ["aggregate", str(deep), "-o", str(tmp_path / "c.csv")],
        "a folder, not a file": ["aggregate", str(tmp_path), "-o", str(tmp_path / "c.csv")],
        "Invalid parameter 'radius' for DBSCANStrategy": [
            "aggregate", export, "-o", str(tmp_path / "c.csv"), "--param", "radius=20"
        ],
        "'eps' parameter of DBSCANStrategy must be": [
            "aggregate", export, "-o", str(tmp_path / "c.csv"), "--param", "eps=-3"
        ],
        "not a cellconsensus patch store": ["verify", str(tmp_path)],
    }  # fmt: skip
    capsys.readouterr()
    for message, argv in cases.items():
        assert main(argv) == 2, message
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and err.count("\n") == 1, err


def test_cellcnn_help_and_version_import_no_tensorflow():
    """`cellcnn --help` once took 10-20 s on 2 cores importing TensorFlow; no --version."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from cellcnn.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "try:\n    main(['train', '--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow imported'\n"
        "assert 'keras' not in sys.modules, 'Keras imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("cellcnn ") and "--model {compact,thesis_vgg}" in done.stdout


def test_help_states_the_defaults(capsys):
    """--help once showed no default (e.g. `aggregate`'s min support, `cellcnn train`'s epochs)."""
    from cellcnn.cli import main as cnn_main

    with pytest.raises(SystemExit):
        main(["aggregate", "--help"])
    assert "(default: 0.3)" in capsys.readouterr().out  # --min-support
    with pytest.raises(SystemExit):
        cnn_main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--epochs EPOCHS default: 30" in text and "--seed SEED default: 0" in text
