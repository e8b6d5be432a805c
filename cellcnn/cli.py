"""Command line: ``cellcnn train | ensemble | evaluate | predict | train-detector | detect | demo``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from . import __version__
from .names import MODEL_NAMES

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The ``cellcnn`` argument parser (its ``--help`` is the CLI reference page; building
    it imports no TensorFlow)."""
    from cellconsensus.cli.runner import whole_number

    parser = argparse.ArgumentParser(
        prog="cellcnn", description="Train and apply a CNN on a cellconsensus patch store."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    sub = parser.add_subparsers(dest="command", required=True)

    tr = sub.add_parser("train", help="train a model on the train split, validating on val")
    tr.add_argument("store", help="patch store (path or fsspec URL)")
    tr.add_argument("--size", type=int, required=True, help="patch size to train on")
    tr.add_argument("--model", choices=MODEL_NAMES, default="compact")
    tr.add_argument("--out", required=True, help="output folder (re-run to resume)")
    tr.add_argument("--epochs", type=int, default=30)
    tr.add_argument("--batch-size", type=int, default=64)
    tr.add_argument("--learning-rate", type=float, default=1e-3)
    tr.add_argument(
        "--target",
        choices=["hard", "soft"],
        default="hard",
        help="hard labels, or the consensus class probabilities (p_alive, or p_<class>)",
    )
    tr.add_argument("--unsure", choices=["exclude", "include"], default="exclude")
    tr.add_argument(
        "--support-weights", action="store_true", help="weight samples by consensus support"
    )
    tr.add_argument("--no-augment", action="store_true")
    tr.add_argument("--patience", type=int, default=8)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--deterministic", action="store_true")
    tr.add_argument(
        "--n-models",
        type=int,
        default=1,
        help="train this many (seeds seed, seed + 1, ...) and average them (an ensemble)",
    )

    en = sub.add_parser("ensemble", help="average trained runs into one model")
    en.add_argument("out", help="the ensemble's folder")
    en.add_argument("runs", nargs="+", help="folders written by 'cellcnn train'")
    en.add_argument("--store", help="store of its validation split (default: the first run's)")

    ev = sub.add_parser("evaluate", help="metrics, ROC and reliability plots on a split")
    ev.add_argument("model_dir", help="a folder written by 'cellcnn train'")
    ev.add_argument("--store", help="default: the store the model was trained on")
    ev.add_argument("--split", default="test")
    _add_prediction_options(ev)

    pr = sub.add_parser("predict", help="classify cells at given positions in images")
    pr.add_argument("model_dir", help="a folder written by 'cellcnn train'")
    pr.add_argument("--cells", help="table with image_id, x, y (.csv/.parquet)")
    pr.add_argument(
        "--detector",
        help="without --cells: a detector folder ('cellcnn train-detector') finds the cells first",
    )
    pr.add_argument("--images", required=True, help="folder of the images")
    pr.add_argument("-o", "--out", required=True, help="table to write (.csv or .parquet)")
    _add_prediction_options(pr)

    td = sub.add_parser(
        "train-detector", help="learn to find (and classify) cells on whole images, no clicks"
    )
    td.add_argument(
        "cells",
        help="expert or consensus cells: a Cells/truth table (.csv/.parquet) or a folder of "
        "Pascal VOC XML files",
    )
    td.add_argument("--images", required=True, help="folder of the images")
    td.add_argument("--out", required=True, help="output folder of the detector")
    td.add_argument("--groups", choices=["image", "lookalike"], default="image",
                    help="split by image, or keep look-alike images in one split")  # fmt: skip
    td.add_argument("--cell-size", type=float, help="cell diameter in px (default: measured)")
    td.add_argument("--epochs", type=int, default=30)
    td.add_argument("--cache", metavar="ZARR",
                    help="copy the images into a chunked zarr store there (resumable, reused) "
                    "and read training crops from it, not every image from memory")  # fmt: skip
    td.add_argument("--seed", type=int, default=0)

    dt = sub.add_parser("detect", help="find and classify cells on images with a detector")
    dt.add_argument("detector", help="a folder written by 'cellcnn train-detector'")
    dt.add_argument("--images", required=True, help="folder of the images")
    dt.add_argument("-o", "--out", required=True, help="Cells table to write (.csv or .parquet)")
    dt.add_argument("--threshold", type=float,
                    help="lowest peak kept, everywhere (default: the detector's own, "
                         "one per side near the images' edges)")  # fmt: skip
    dt.add_argument("--classifier", help="classify the cells found with this 'cellcnn train' run")
    dt.add_argument("--draw", help="folder of PNGs: every image with its detections drawn")
    dt.add_argument("--tta", action=argparse.BooleanOptionalAction,
                    help="average the eight symmetries of every tile (default: the detector's "
                         "choice, made on its validation images)")  # fmt: skip
    dt.add_argument("--batch-size", type=whole_number(1), metavar="TILES",
                    help="tiles per forward pass (default: 4 x 768^2 pixels' worth; fewer "
                         "use less memory)")  # fmt: skip
    de = sub.add_parser(
        "demo", help="train on the store `cellconsensus demo` wrote and write an HTML report"
    )
    de.add_argument(
        "demo_dir", nargs="?", default="demo-output", help="cellconsensus demo's folder"
    )
    de.add_argument("--report", default="demo-report", help="folder of the report (index.html)")
    de.add_argument("--epochs", type=int, default=3)
    de.add_argument("--detector-epochs", type=int, default=3,
                    help="epochs of the point detector (0: none)")  # fmt: skip
    de.add_argument("--seed", type=int, default=0)
    from cellconsensus.cli.runner import show_defaults

    return show_defaults(parser)


def _add_prediction_options(p) -> None:
    """``--tta`` / ``--threshold``: override the setting the run chose on its validation split."""
    p.add_argument(
        "--tta",
        choices=["on", "off"],
        help="test-time augmentation (default: the run's own choice, made on its val split)",
    )
    p.add_argument(
        "--threshold",
        type=float,
        help="P(first class) above which a cell is called that class (default: the run's own)",
    )


def _prediction_options(args) -> dict:
    return {"tta": None if args.tta is None else args.tta == "on", "threshold": args.threshold}


def _cmd_train(args) -> int:
    from .ensemble import train_ensemble
    from .train import train

    options = dict(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        target=args.target,
        unsure=args.unsure,
        sample_weight="support" if args.support_weights else None,
        augment=not args.no_augment,
        patience=args.patience,
        deterministic=args.deterministic,
        verbose=1 if sys.stdout.isatty() else 2,  # a progress bar within each epoch on a terminal
    )
    if args.n_models > 1:
        run = train_ensemble(args.store, args.size, args.model, out_dir=args.out,
                             n_models=args.n_models, seed=args.seed, **options)  # fmt: skip
        print(f"ensemble of {args.n_models} in {args.out}: {run['prediction']}")
        return 0
    result = train(args.store, args.size, args.model, out_dir=args.out, seed=args.seed, **options)
    print(
        f"best validation ROC AUC {result.best_val_auc:.4f} after "
        f"{result.run['epochs_run']} epochs ({result.run['seconds']:.0f} s); model in {result.model_dir}"
    )
    return 0


def _cmd_ensemble(args) -> int:
    from .ensemble import make_ensemble

    run = make_ensemble(args.runs, args.out, store=args.store)
    print(f"ensemble of {len(args.runs)} in {args.out}: {run['prediction']}")
    return 0


def _cmd_evaluate(args) -> int:
    from .evaluate import evaluate

    result = evaluate(args.model_dir, args.store, args.split, progress=True,
                      **_prediction_options(args))  # fmt: skip
    shown = {k: v for k, v in result.items() if k not in ("plots", "worst_errors")}
    print(json.dumps(shown, indent=2))
    print(f"plots: {result.get('plots', {})}; worst errors: {result['worst_errors']}")
    return 0


def _cmd_predict(args) -> int:
    from cellconsensus.errors import CellConsensusInputError
    from cellconsensus.io import read_table, write_table

    from .predict import predict_cells

    if (args.cells is None) == (args.detector is None):
        both = "not both" if args.cells else "one of them"
        raise CellConsensusInputError(
            f"give --cells (positions to classify) or --detector (find the cells first), {both}"
        )
    if args.cells is not None:
        cells = read_table(args.cells)
        cells["image_id"] = cells["image_id"].astype(str)
    else:
        from .detect import detect

        cells = detect(args.detector, args.images, progress=True)
        print(f"found {len(cells)} cells on {len(cells.attrs['image_ids'])} images")
    out = predict_cells(args.model_dir, cells, args.images, progress=True,
                        **_prediction_options(args))  # fmt: skip
    write_table(out, args.out)
    counts = out["label_cnn"].value_counts(dropna=False).to_dict()
    print(f"classified {len(out)} cells: {counts} -> {args.out}")
    return 0


def _read_cells_or_truth(path: str):
    """A folder of VOC XML, a Cells table (with class probabilities) or a truth table."""
    from pathlib import Path

    from cellconsensus.io import read_cells, read_table, read_truth, read_voc

    if Path(path).is_dir():
        return read_voc(path)
    columns = read_table(path).columns
    has_proba = any(str(c).startswith("p_") and c != "p_real" for c in columns)
    return read_cells(path) if has_proba else read_truth(path)


def _cmd_train_detector(args) -> int:
    from .detect import train_detector

    cells = _read_cells_or_truth(args.cells)
    print(f"training a detector on {len(cells)} cells ({args.epochs} epochs) ...")
    result = train_detector(cells, args.images, args.out, groups=args.groups,
                            cell_size=args.cell_size, epochs=args.epochs, seed=args.seed,
                            cache=args.cache, verbose=1 if sys.stdout.isatty() else 2)  # fmt: skip
    v = result.validation
    print(f"validation: F1 {v['f1']:.3f} (precision {v['precision']:.3f}, recall "
          f"{v['recall']:.3f}), balanced label accuracy {v['balanced_label_accuracy']:.3f} at "
          f"threshold {result.record['threshold']:.2f}; detector in {result.out_dir}")  # fmt: skip
    return 0


def _cmd_detect(args) -> int:
    from cellconsensus.io import write_table

    from .detect import detect, draw_detections

    cells = detect(args.detector, args.images, threshold=args.threshold,
                   classifier=args.classifier, tta=args.tta, batch_size=args.batch_size,
                   progress=True)  # fmt: skip
    write_table(cells, args.out)
    counts = cells["label"].value_counts(dropna=False).to_dict()
    print(f"found {len(cells)} cells on {len(cells.attrs['image_ids'])} images: {counts} -> "
          f"{args.out}")  # fmt: skip
    if args.draw:
        written = draw_detections(cells, args.images, args.draw)
        print(f"drew {len(written)} images -> {args.draw}")
    return 0


def _cmd_demo(args) -> int:
    from .demo import demo_report

    print(f"training compact on {args.demo_dir}/patches.zarr ({args.epochs} epochs) ...")
    index = demo_report(args.demo_dir, args.report, epochs=args.epochs,
                        detector_epochs=args.detector_epochs, seed=args.seed, verbose=2,
                        progress=sys.stderr.isatty())  # fmt: skip
    print(f"6. the report: {index} (open it in a browser)")
    return 0


COMMANDS = {
    "train": _cmd_train,
    "ensemble": _cmd_ensemble,
    "evaluate": _cmd_evaluate,
    "predict": _cmd_predict,
    "train-detector": _cmd_train_detector,
    "detect": _cmd_detect,
    "demo": _cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Examples
    --------
    >>> main(["--help"])  # doctest: +SKIP
    """
    # TensorFlow's start-up banner is for its developers; warnings and errors still show.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from cellconsensus.cli.runner import run_command

    from .store import StoreError

    return run_command(COMMANDS, build_parser().parse_args(argv), (StoreError, FileNotFoundError))
