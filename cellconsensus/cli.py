"""Command line: ``cellconsensus aggregate | compare | simulate | synthetic | patches | inspect | demo``.

Every sub-command has ``--help``. Errors in the input are reported as one line
naming the file, record and field, with exit status 2.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from . import __version__, defaults
from .annotators import ANNOTATOR_COLUMNS
from .compare import compare_strategies
from .consensus import find_consensus
from .errors import CellConsensusInputError
from .images import ImageFolder
from .io import (
    read_cells,
    read_cellspotting_csv,
    read_clicks,
    read_pybossa,
    read_truth,
    read_voc,
    write_cells,
    write_clicks,
)
from .io._files import atomic_write, read_csv_strings
from .labels import available_aggregators, get_aggregator
from .patches import BORDERS
from .simulate import simulate_crowd
from .store import contact_sheet, inspect_store, store_info, write_patches
from .strategies import available_strategies
from .synthetic import STYLES, make_truth, write_synthetic
from .tables import OUT_OF_CANVAS_POLICIES

__all__ = ["main", "run_command"]

FORMATS = ("auto", "cellspotting", "pybossa", "clicks")


def _value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _params(items: Sequence[str]) -> dict[str, Any]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"error: --param expects NAME=VALUE, got {item!r}")
        out[key.strip()] = _value(value.strip())
    return out


def _detect(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return "pybossa"
    if suffix in (".parquet", ".pq"):
        return "clicks"
    columns = set(read_csv_strings(path).columns)
    if {"task", "alive_array"} <= columns:
        return "cellspotting"
    if "task_id" in columns:
        return "pybossa"
    return "clicks"


def _read_input(args: argparse.Namespace) -> pd.DataFrame:
    fmt = _detect(args.input) if args.format == "auto" else args.format
    canvas = tuple(args.canvas) if args.canvas else None
    if fmt == "cellspotting":
        kwargs = {"canvas": canvas} if canvas else {}
        return read_cellspotting_csv(args.input, out_of_canvas=args.out_of_canvas, **kwargs)
    if fmt == "pybossa":
        return read_pybossa(args.input, args.tasks, canvas=canvas, out_of_canvas=args.out_of_canvas)
    return read_clicks(args.input, canvas=canvas, out_of_canvas=args.out_of_canvas)


def _add_input(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "input", help="clicks: Cell Spotting CSV, PyBossa JSON/CSV, or a Clicks CSV/Parquet"
    )
    p.add_argument(
        "--format", choices=FORMATS, default="auto", help="input format (default: detect)"
    )
    p.add_argument("--tasks", help="PyBossa task list (JSON/CSV) giving each task's image link")
    p.add_argument(
        "--canvas", nargs=2, type=float, metavar=("W", "H"), help="canvas size in pixels"
    )
    p.add_argument(
        "--out-of-canvas",
        choices=OUT_OF_CANVAS_POLICIES,
        default="clip",
        help="policy for clicks outside the canvas (default: clip)",
    )


def _add_strategy(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--strategy",
        choices=available_strategies(),
        default=defaults.STRATEGY,
        help=f"consensus strategy (default: {defaults.STRATEGY} with its own defaults)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="strategy parameter, e.g. eps=auto (repeatable)",
    )


def _add_consensus(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--labels",
        choices=available_aggregators(),
        default=defaults.LABELS,
        help=f"label aggregation (default: {defaults.LABELS})",
    )
    p.add_argument(
        "--unsure-margin", type=float, default=0.0, help="half-width of the unsure band around 0.5"
    )
    p.add_argument(
        "--min-support",
        type=float,
        default=defaults.MIN_SUPPORT,
        help="drop cells clicked by fewer than this fraction of the image's annotators",
    )
    p.add_argument(
        "--min-annotators",
        type=int,
        default=defaults.MIN_ANNOTATORS,
        help="drop cells with fewer annotators",
    )
    p.add_argument(
        "--support-rule",
        choices=["threshold", "model"],
        default=None,
        help="which clusters are cells: the two options above, or a model of each annotator's "
        f"detection and stray-click rates (default: {defaults.SUPPORT_RULE}; threshold with "
        "--scheduler)",
    )
    p.add_argument("--n-jobs", type=int, default=1, help="processes (-1: all cores)")


def _add_scheduler(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help=f"run on a Dask cluster: a scheduler address (tcp://host:8786) or local:N for "
        f"N local worker processes; {what} (needs the 'distributed' extra)",
    )


@contextlib.contextmanager
def _dask_client(spec: str):
    """A ``distributed.Client`` for ``--scheduler``: an address, or ``local:N``."""
    from distributed import Client, LocalCluster

    if spec.startswith("local:"):
        n = int(spec.split(":", 1)[1])
        with (
            LocalCluster(n_workers=n, threads_per_worker=1, dashboard_address=":0") as cluster,
            Client(cluster) as client,
        ):
            print(f"Dask: LocalCluster of {n} worker(s), dashboard {client.dashboard_link}")
            yield client
    else:
        with Client(spec) as client:
            print(f"Dask: {spec}, {len(client.scheduler_info()['workers'])} worker(s)")
            yield client


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cellconsensus",
        description="Turn crowd clicks on microscopy images into consensus cells.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    sub = parser.add_subparsers(dest="command", required=True)

    agg = sub.add_parser("aggregate", help="find consensus cells and write the Cells table")
    _add_input(agg)
    _add_strategy(agg)
    _add_consensus(agg)
    agg.add_argument("-o", "--out", required=True, help="Cells table to write (.csv or .parquet)")
    agg.add_argument(
        "--assignments", help="also write the click-to-cell assignments (.csv or .parquet)"
    )
    _add_scheduler(agg, "-o then names a folder of Parquet parts")

    ann = sub.add_parser(
        "annotators",
        help="how reliable each annotator is (sensitivity, specificity, detection, spam)",
    )
    _add_input(ann)
    _add_strategy(ann)
    _add_consensus(ann)
    ann.add_argument(
        "--sort",
        choices=list(ANNOTATOR_COLUMNS),
        default="spammer_score",
        help="order of the rows, worst first (default: spammer_score, lowest first)",
    )
    ann.add_argument("--top", type=int, default=20, help="rows to print (default: 20)")
    ann.add_argument("-o", "--out", help="write the whole table (.csv or .parquet)")

    cmp_ = sub.add_parser("compare", help="run several strategies side by side, optionally scored")
    _add_input(cmp_)
    cmp_.add_argument(
        "--strategies",
        default=",".join(available_strategies()),
        help="comma-separated strategy names (default: all)",
    )
    cmp_.add_argument(
        "--truth",
        help="ground truth: Pascal VOC folder/XML, or CSV/Parquet with image_id,x,y,label[,size]",
    )
    cmp_.add_argument(
        "--auto-scale",
        action="store_true",
        help="also run each strategy with its scale set to auto",
    )
    _add_consensus(cmp_)
    cmp_.add_argument("-o", "--out", help="write the comparison table (.csv)")

    sim = sub.add_parser("simulate", help="simulate a crowd clicking ground-truth cells")
    src = sim.add_mutually_exclusive_group(required=True)
    src.add_argument("--truth", help="ground truth: Pascal VOC folder/XML, or CSV/Parquet")
    src.add_argument("--synthetic", type=int, metavar="N", help="use N built-in synthetic images")
    sim.add_argument("--n-annotators", type=int, default=5)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument(
        "--position-noise", type=float, default=0.1, help="click noise, fraction of cell size"
    )
    sim.add_argument("--miss-rate", type=float, default=0.1)
    sim.add_argument("--label-noise", type=float, default=0.1)
    sim.add_argument("--spammer-fraction", type=float, default=0.0)
    sim.add_argument("--double-click-rate", type=float, default=0.02)
    sim.add_argument("-o", "--out", required=True, help="Clicks table to write (.csv or .parquet)")
    sim.add_argument("--truth-out", help="with --synthetic: also write the truth table (.csv)")

    syn = sub.add_parser(
        "synthetic",
        help="write synthetic microscopy images, their truth and a simulated crowd export",
        description=(
            "Write OUT/images/*.png, OUT/annotations/*.xml (Pascal VOC), OUT/truth.csv, "
            "OUT/crowd/task_runs.json and tasks.json (PyBossa) and OUT/manifest.json."
        ),
    )
    syn.add_argument("out", help="folder to create")
    syn.add_argument("--style", choices=sorted(STYLES), default="fluorescence")
    syn.add_argument("--n-images", type=int, default=20)
    syn.add_argument(
        "--cells", nargs=2, type=int, metavar=("MIN", "MAX"), help="cells per image (style default)"
    )
    syn.add_argument(
        "--cell-size", nargs=2, type=float, metavar=("MIN", "MAX"), help="cell diameter in px"
    )
    syn.add_argument("--dead-fraction", type=float, default=0.35)
    syn.add_argument("--noise", type=float, default=1.0, help="noise scale (0: clean images)")
    syn.add_argument(
        "--n-annotators", type=int, default=5, help="simulated annotators per image (0: none)"
    )
    syn.add_argument("--label-noise", type=float, default=0.1)
    syn.add_argument("--spammer-fraction", type=float, default=0.0)
    syn.add_argument("--seed", type=int, default=0)
    syn.add_argument("--n-jobs", type=int, default=1, help="processes (-1: all cores)")
    syn.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")

    pat = sub.add_parser(
        "patches",
        help="crop labelled patches around cells into a chunked zarr store",
        description=(
            "Crop a square patch around every cell at one or more sizes and write them, with "
            "train/val/test splits and provenance, to a zarr store. Re-running resumes an "
            "interrupted build."
        ),
    )
    cells_in = pat.add_mutually_exclusive_group(required=True)
    cells_in.add_argument("--cells", help="Cells table (.csv/.parquet) from 'aggregate'")
    cells_in.add_argument("--truth", help="ground truth instead: Pascal VOC folder/XML or CSV")
    pat.add_argument("--images", required=True, help="folder of the images")
    pat.add_argument(
        "--pattern", default="{image_id}", help="file name of an image without extension"
    )
    pat.add_argument("--store", required=True, help="zarr store to write (path or fsspec URL)")
    pat.add_argument(
        "--size", type=int, action="append", required=True, help="patch side (repeatable)"
    )
    pat.add_argument("--border", choices=BORDERS, default="reflect")
    pat.add_argument("--channels", choices=["auto", "1", "3"], default="auto")
    pat.add_argument(
        "--groups",
        choices=["image", "lookalike"],
        default="image",
        help="keep these together in one split (default: image)",
    )
    pat.add_argument(
        "--fractions",
        nargs=3,
        type=float,
        default=[0.8, 0.1, 0.1],
        metavar=("TRAIN", "VAL", "TEST"),
    )
    pat.add_argument("--seed", type=int, default=0, help="split seed")
    pat.add_argument(
        "--min-contrast", type=float, help="drop patches with a lower empty-patch score"
    )
    pat.add_argument("--chunk-size", type=int, help="patches per chunk (default: about 4 MiB)")
    pat.add_argument(
        "--on-error",
        choices=["raise", "skip"],
        default="raise",
        help="an unreadable image stops the build, or its cells are skipped",
    )
    pat.add_argument(
        "--mode",
        choices=["auto", "w", "a"],
        default="auto",
        help="auto: build or resume; w: rebuild; a: add new images",
    )
    pat.add_argument("--n-jobs", type=int, default=1, help="processes (-1: all cores)")
    _add_scheduler(pat, "the images and the store must be reachable from every worker")

    ins = sub.add_parser("inspect", help="summarise a patch store (counts, padding, provenance)")
    ins.add_argument("store", help="zarr store (path or fsspec URL)")
    ins.add_argument("--sheet", help="also write a contact sheet PNG of random patches per class")
    ins.add_argument("--size", type=int, help="patch size for the sheet (default: the smallest)")

    demo = sub.add_parser(
        "demo",
        help="synthetic images -> simulated crowd export -> consensus, every strategy compared",
    )
    demo.add_argument("--n-images", type=int, default=300)
    demo.add_argument("--n-annotators", type=int, default=5)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--out", default="demo-output", help="folder for the demo's files")
    demo.add_argument("--n-jobs", type=int, default=-1, help="processes (-1: all cores)")
    return parser


def _aggregator(args):
    return get_aggregator(args.labels, unsure_margin=args.unsure_margin)


def _consensus_kwargs(args) -> dict:
    return {
        "min_support": args.min_support,
        "min_annotators": args.min_annotators,
        "support_rule": args.support_rule or defaults.SUPPORT_RULE,
        "n_jobs": args.n_jobs,
    }


def _cmd_aggregate(args) -> int:
    clicks = _read_input(args)
    if args.scheduler:
        if args.assignments or args.support_rule == "model":
            raise SystemExit(
                "--assignments and --support-rule model are not available with --scheduler"
            )
        from .distributed import find_consensus as find_consensus_on_cluster

        with _dask_client(args.scheduler) as client:
            result = find_consensus_on_cluster(
                clicks,
                args.strategy,
                _aggregator(args),
                params=_params(args.param),
                output=args.out,
                min_support=args.min_support,
                min_annotators=args.min_annotators,
                overwrite=True,
                client=client,
            )
        print(result.report)
        print(f"wrote {result.report.n_cells} cells to {args.out}/ ({result.n_partitions} parts)")
        return 0
    result = find_consensus(
        clicks,
        args.strategy,
        _aggregator(args),
        params=_params(args.param),
        progress=True,
        **_consensus_kwargs(args),
    )
    write_cells(result.cells, args.out)
    if args.assignments:
        _write_table(result.assignments, args.assignments)
    print(result.report)
    print(f"wrote {len(result.cells)} cells to {args.out}")
    return 0


def _write_table(table: pd.DataFrame, path: str) -> None:
    """Write a table atomically: Parquet for ``.parquet``/``.pq``, else CSV."""
    parquet = path.endswith((".parquet", ".pq"))
    atomic_write(
        path,
        lambda tmp: (
            table.to_parquet(tmp, index=False) if parquet else table.to_csv(tmp, index=False)
        ),
    )


def _cmd_annotators(args) -> int:
    clicks = _read_input(args)
    result = find_consensus(
        clicks,
        args.strategy,
        _aggregator(args),
        params=_params(args.param),
        progress=True,
        **_consensus_kwargs(args),
    )
    # Worst first: low rates and scores, high stray-click and unsure rates.
    worst_high = args.sort in ("stray_click_rate", "unsure_rate")
    table = result.annotators_.sort_values(args.sort, ascending=not worst_high, kind="stable")
    with pd.option_context(
        "display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format
    ):
        print(table.head(args.top).to_string())
    if len(table) > args.top:
        print(f"... {len(table) - args.top} more annotator(s); -o writes them all")
    if args.out:
        _write_table(table.reset_index(), args.out)
        print(f"wrote {len(table)} annotators to {args.out}")
    return 0


def _print_table(table: pd.DataFrame) -> None:
    shown = table.drop(columns=["params"])
    with pd.option_context(
        "display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format
    ):
        print(shown.to_string(index=False))


def _cmd_compare(args) -> int:
    clicks = _read_input(args)
    truth = read_truth(args.truth) if args.truth else None
    table = compare_strategies(
        clicks,
        [s.strip() for s in args.strategies.split(",") if s.strip()],
        truth=truth,
        labels=_aggregator(args),
        auto_scale=args.auto_scale,
        progress=True,
        **_consensus_kwargs(args),
    )
    _print_table(table)
    if args.out:
        atomic_write(args.out, lambda tmp: table.to_csv(tmp, index=False))
    return 0


def _cmd_simulate(args) -> int:
    truth = make_truth(args.synthetic, seed=args.seed) if args.synthetic else read_truth(args.truth)
    clicks = simulate_crowd(
        truth,
        args.n_annotators,
        seed=args.seed,
        position_noise=args.position_noise,
        miss_rate=args.miss_rate,
        label_noise=args.label_noise,
        spammer_fraction=args.spammer_fraction,
        double_click_rate=args.double_click_rate,
    )
    write_clicks(clicks, args.out)
    if args.truth_out:
        atomic_write(args.truth_out, lambda tmp: truth.to_csv(tmp, index=False))
    print(
        f"simulated {len(clicks)} clicks by {clicks['annotator_id'].nunique()} annotators "
        f"on {clicks['image_id'].nunique()} images -> {args.out}"
    )
    return 0


def _cmd_synthetic(args) -> int:
    data = write_synthetic(
        args.out,
        args.n_images,
        style=args.style,
        cells_per_image=tuple(args.cells) if args.cells else None,
        cell_size=tuple(args.cell_size) if args.cell_size else None,
        dead_fraction=args.dead_fraction,
        noise=args.noise,
        n_annotators=args.n_annotators,
        crowd={"label_noise": args.label_noise, "spammer_fraction": args.spammer_fraction},
        seed=args.seed,
        n_jobs=args.n_jobs,
        overwrite=args.overwrite,
        progress=True,
    )
    counts = data.manifest["counts"]
    print(
        f"wrote {counts['images']} {args.style} images with {counts['cells']} cells "
        f"({counts['dead']} dead) and {counts['clicks']} simulated clicks to {data.root}"
    )
    if args.n_annotators:
        print(
            f"next: cellconsensus compare {data.task_runs} --tasks {data.tasks} "
            f"--truth {data.annotations}"
        )
    return 0


def _cmd_patches(args) -> int:
    cells = read_cells(args.cells) if args.cells else read_truth(args.truth)
    images = ImageFolder(args.images, pattern=args.pattern)
    common = {
        "groups": args.groups,
        "fractions": tuple(args.fractions),
        "seed": args.seed,
        "border": args.border,
        "channels": args.channels if args.channels == "auto" else int(args.channels),
        "min_contrast": args.min_contrast,
        "chunk_size": args.chunk_size,
        "on_error": args.on_error,
        "mode": args.mode,
        "provenance": {"cells_file": args.cells or args.truth, "images": args.images},
    }
    if args.scheduler:
        if args.mode == "a":
            raise SystemExit("--mode a (append) is not available with --scheduler")
        from .distributed import write_patches as write_patches_on_cluster

        with _dask_client(args.scheduler) as client:
            report = write_patches_on_cluster(
                cells, images, args.store, args.size, client=client, **common
            )
    else:
        report = write_patches(
            cells, images, args.store, args.size, n_jobs=args.n_jobs, progress=True, **common
        )
    print(report)
    return 0


def _cmd_inspect(args) -> int:
    info = store_info(args.store)
    prov = info.get("provenance", {})
    print(
        f"{args.store}: {info['format']} v{info['format_version']}, sizes {info['settings']['sizes']}, "
        f"{info['channels']} channel(s), created {info['created']}, updated {info.get('updated')}"
    )
    consensus = prov.get("consensus") or {}
    if consensus.get("strategy"):
        print(f"consensus: {consensus['strategy']}; labels: {consensus.get('labels')}")
    inputs = prov.get("inputs", {})
    print(
        f"cells: {inputs.get('cells', {}).get('n_cells')} (sha256 {inputs.get('cells', {}).get('sha256', '')[:12]}...); "
        f"images: {inputs.get('images', {}).get('n_images')} (sha256 {inputs.get('images', {}).get('sha256', '')[:12]}...)"
    )
    split = prov.get("split", {})
    print(f"crop: {prov.get('crop')}; split: {split}\n")
    table = inspect_store(args.store)
    with pd.option_context("display.width", 200, "display.float_format", "{:.2f}".format):
        print(table.to_string(index=False))
    if args.sheet:
        path = contact_sheet(args.store, args.sheet, args.size or min(info["settings"]["sizes"]))
        print(f"\ncontact sheet: {path}")
    return 0


def _cmd_demo(args) -> int:
    print(
        f"cellconsensus {__version__} demo: {args.n_images} synthetic fluorescence images, "
        f"{args.n_annotators} simulated annotators each (seed {args.seed})\n"
    )
    data = write_synthetic(
        Path(args.out) / "synthetic",
        args.n_images,
        n_annotators=args.n_annotators,
        seed=args.seed,
        n_jobs=args.n_jobs,
        overwrite=True,
        progress=True,
    )
    print(f"1. images, truth and crowd export written to {data.root}")
    clicks = read_pybossa(data.task_runs, data.tasks)
    truth = read_voc(data.annotations)
    print(
        f"2. read back: {len(clicks)} clicks from {data.task_runs.name}; "
        f"truth: {len(truth)} cells ({(truth['label'] == 'dead').mean():.0%} dead) "
        f"from {len(truth.attrs['image_ids'])} VOC files\n"
    )
    print("3. consensus, every strategy against the truth:")
    table = compare_strategies(
        clicks, truth=truth, auto_scale=True, n_jobs=args.n_jobs, progress=True
    )
    _print_table(table)
    table.to_csv(Path(args.out) / "strategies.csv", index=False)
    best = table.sort_values("f1", ascending=False).iloc[0]
    thesis_f1 = table.loc[table["strategy"] == "radius-thesis", "f1"].iloc[0]
    print(f"\nbest F1: {best['strategy']} ({best['f1']:.3f}); the thesis' rule: {thesis_f1:.3f}")
    # On the Cell Spotting canvas the scale is estimated from the clicks (see the README).
    result = find_consensus(clicks, "dbscan", params={"eps": "auto"}, n_jobs=args.n_jobs)
    cells_path = write_cells(result.cells, Path(args.out) / "cells.parquet")
    print(f"\n4. consensus cells, {result.strategy!r} with the scale estimated from the clicks:")
    print(result.report)
    print(f"written to {cells_path}")

    store = Path(args.out) / "patches.zarr"
    print(f"\n5. labelled patches (95 px, split by image 80:10:10) into {store}:")
    built = write_patches(
        result.cells, data.images, store, 95, mode="w", n_jobs=args.n_jobs, progress=True
    )
    print(built)
    table = inspect_store(store)
    with pd.option_context("display.width", 200, "display.float_format", "{:.2f}".format):
        print(table.to_string(index=False))
    sheet = contact_sheet(store, Path(args.out) / "patches.png", 95, per_class=10)
    print(f"contact sheet of random patches per class: {sheet}")
    summary = {
        "images": args.n_images,
        "annotators per image": args.n_annotators,
        "clicks": len(clicks),
        "true cells": len(truth),
        "consensus cells (dbscan, auto scale)": result.report.n_cells,
        "best strategy (F1)": f"{best['strategy']} ({best['f1']:.3f})",
        "thesis' rule (F1)": f"{thesis_f1:.3f}",
        "patches (95 px)": built.sizes[95]["n_patches"],
        "seed": args.seed,
    }
    (Path(args.out) / "summary.json").write_text(json.dumps(summary, indent=2))
    return 0


COMMANDS = {
    "aggregate": _cmd_aggregate,
    "annotators": _cmd_annotators,
    "compare": _cmd_compare,
    "simulate": _cmd_simulate,
    "synthetic": _cmd_synthetic,
    "patches": _cmd_patches,
    "inspect": _cmd_inspect,
    "demo": _cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Examples
    --------
    >>> main(["--version"])  # doctest: +SKIP
    cellconsensus 0.1.0
    """
    return run_command(COMMANDS, _parser().parse_args(argv), (FileExistsError,))


def run_command(
    commands: dict[str, Any], args: argparse.Namespace, handled: tuple[type, ...] = ()
) -> int:
    """Run ``commands[args.command](args)`` with logging set by ``args.verbose``.

    Bad input (:class:`CellConsensusInputError` and the ``handled`` exception
    types) is reported as one line on standard error with exit status 2,
    never as a traceback. Shared by the ``cellconsensus`` and ``cellcnn`` CLIs.
    """
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return commands[args.command](args)
    except (CellConsensusInputError, *handled) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
