"""``cellconsensus patches``: crop labelled patches around cells into a zarr store."""

from __future__ import annotations

import argparse
import sys

from ..images import ImageFolder
from ..io import read_cells, read_truth
from ..patches import BORDERS
from ..store import write_patches
from .options import add_classes, add_scheduler
from .runner import dask_client

NAME = "patches"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="crop labelled patches around cells into a chunked zarr store",
        description=(
            "Crop a square patch around every cell at one or more sizes and write them, with "
            "train/val/test splits and provenance, to a zarr store. Re-running resumes an "
            "interrupted build."
        ),
    )
    cells_in = p.add_mutually_exclusive_group(required=True)
    cells_in.add_argument("--cells", help="Cells table (.csv/.parquet) from 'aggregate'")
    cells_in.add_argument("--truth", help="ground truth instead: Pascal VOC folder/XML or CSV")
    p.add_argument("--images", required=True, help="folder of the images")
    add_classes(p)
    p.add_argument(
        "--pattern", default="{image_id}", help="file name of an image without extension"
    )
    p.add_argument("--store", required=True, help="zarr store to write (path or fsspec URL)")
    p.add_argument(
        "--size", type=int, action="append", required=True, help="patch side (repeatable)"
    )
    p.add_argument("--border", choices=BORDERS, default="reflect")
    p.add_argument("--channels", choices=["auto", "1", "3"], default="auto")
    p.add_argument(
        "--groups",
        choices=["image", "lookalike"],
        default="image",
        help="keep these together in one split (default: image)",
    )
    p.add_argument(
        "--fractions",
        nargs=3,
        type=float,
        default=[0.8, 0.1, 0.1],
        metavar=("TRAIN", "VAL", "TEST"),
    )
    p.add_argument("--seed", type=int, default=0, help="split seed")
    p.add_argument("--min-contrast", type=float, help="drop patches with a lower empty-patch score")
    p.add_argument("--chunk-size", type=int, help="patches per chunk (default: about 4 MiB)")
    p.add_argument(
        "--on-error",
        choices=["raise", "skip"],
        default="raise",
        help="an unreadable image stops the build, or its cells are skipped",
    )
    p.add_argument(
        "--mode",
        choices=["auto", "w", "a"],
        default="auto",
        help="auto: build or resume; w: rebuild; a: add new images",
    )
    p.add_argument("--n-jobs", type=int, default=1, help="processes (-1: all cores)")
    add_scheduler(p, "the images and the store must be reachable from every worker")
    return p


def run(args: argparse.Namespace) -> int:
    cells = read_cells(args.cells) if args.cells else read_truth(args.truth, classes=args.classes)
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
    if args.scheduler and args.mode == "a":
        raise SystemExit("--mode a (append) is not available with --scheduler")
    with dask_client(args.scheduler) as client:
        report = write_patches(
            cells,
            images,
            args.store,
            args.size,
            n_jobs=args.n_jobs,
            progress=True,
            client=client,
            **common,
        )
    print(report)
    stored = sum(r["n_patches"] for r in report.sizes.values())
    if report.sizes and stored == 0 and len(cells):
        unreadable = max((r["n_dropped_error"] for r in report.sizes.values()), default=0)
        print(
            f"error: no patch stored for {len(cells):,} cells"
            + (
                f" ({unreadable:,} on images that could not be read: check --images and --pattern)"
                if unreadable
                else ""
            ),
            file=sys.stderr,
        )
        return 1
    return 0
