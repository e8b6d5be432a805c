"""``cellconsensus export``: consensus cells (or truth) for napari, QuPath, Fiji or COCO."""

from __future__ import annotations

import argparse

from ..images import as_image_source
from ..io import read_cells, read_truth
from ..io.viewers import VIEWER_FORMATS, write_viewer
from .options import add_classes

NAME = "export"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="write cells for napari, QuPath, Fiji/ImageJ or COCO tools",
        description="Write a Cells table (or truth with --truth) in a format a viewer or "
        "detection tool opens: napari points CSVs, QuPath GeoJSON, Fiji Results CSVs (one "
        "file per image in the folder OUT), or one COCO keypoints JSON file.",
    )
    p.add_argument("cells", help="a Cells table (CSV/Parquet, or a cluster run's folder)")
    p.add_argument("out", help="output folder (napari, qupath, fiji) or .json file (coco)")
    p.add_argument("--format", required=True, choices=VIEWER_FORMATS, help="the export format")
    p.add_argument(
        "--truth",
        action="store_true",
        help="CELLS is a truth table or a Pascal VOC folder (default: a Cells table)",
    )
    p.add_argument(
        "--images",
        help="image folder: COCO records each image's width and height from it",
    )
    add_classes(p)
    return p


def run(args: argparse.Namespace) -> int:
    table = read_truth(args.cells, classes=args.classes) if args.truth else read_cells(args.cells)
    sizes = None
    if args.images and args.format == "coco":
        source = as_image_source(args.images)
        sizes = {}
        for image_id in sorted(set(table["image_id"].astype(str))):
            pixels, _ = source.load(image_id)
            sizes[image_id] = (pixels.shape[1], pixels.shape[0])
    path = write_viewer(table, args.out, args.format, image_sizes=sizes)
    n_images = table["image_id"].nunique()
    print(f"wrote {len(table):,} cells on {n_images:,} images as {args.format}: {path}")
    return 0
