"""``cellconsensus report``: a browsable HTML report of any crowd data set."""

from __future__ import annotations

import argparse

from ..io import read_truth
from ..report import REPORT_STRATEGIES, write_report
from .options import add_input, read_input

NAME = "report"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="write a browsable HTML report: consensus, disagreement, annotators, images",
        description="Run the default consensus and the strategies to compare on a crowd "
        "export and write a folder of HTML pages that opens offline: a summary, agreement "
        "between strategies, the images that most need another annotator, the annotators, "
        "and a gallery of every reported image with its overlay.",
    )
    add_input(p)
    p.add_argument("-o", "--out", default="report", help="the report's folder (default: report)")
    p.add_argument("--images", help="image folder: overlays drawn on the pixels")
    p.add_argument("--truth", help="ground truth (VOC folder/XML or CSV/Parquet): scores, misses")
    p.add_argument(
        "--strategies",
        default=",".join(REPORT_STRATEGIES),
        help="comma-separated strategies, the report's consensus first "
        f"(default: {','.join(REPORT_STRATEGIES)})",
    )
    p.add_argument("--max-images", type=int, default=60, help="images in the gallery (default: 60)")
    p.add_argument("--title", default="Crowd consensus report", help="the report's title")
    return p


def run(args: argparse.Namespace) -> int:
    index = write_report(
        read_input(args),
        args.out,
        images=args.images,
        truth=read_truth(args.truth, classes=args.classes) if args.truth else None,
        strategies=[s.strip() for s in args.strategies.split(",") if s.strip()],
        max_images=args.max_images,
        title=args.title,
        progress=True,
    )
    print(f"report: {index} (open it in a browser)")
    return 0
