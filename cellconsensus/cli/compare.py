"""``cellconsensus compare``: several strategies side by side, optionally scored."""

from __future__ import annotations

import argparse

from ..compare import comparison_table, format_comparison, run_strategies
from ..disagreement import image_disagreement
from ..io import read_truth, write_table
from ..strategies import available_strategies
from .options import add_consensus, add_input, aggregator, consensus_kwargs, read_input

NAME = "compare"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="run several strategies side by side, optionally scored")
    add_input(p)
    p.add_argument(
        "--strategies",
        default=",".join(available_strategies()),
        help="comma-separated strategy names (default: all)",
    )
    p.add_argument(
        "--truth",
        help="ground truth: Pascal VOC folder/XML, or CSV/Parquet with image_id,x,y,label[,size]",
    )
    p.add_argument(
        "--auto-scale",
        action="store_true",
        help="also run each strategy with its scale set to auto",
    )
    add_consensus(p)
    p.add_argument("-o", "--out", help="write the comparison table (.csv or .parquet)")
    p.add_argument(
        "--images-out",
        help="write every image's agreement between the strategies (.csv or .parquet)",
    )
    p.add_argument(
        "--top",
        type=int,
        default=10,
        help="images shown where the strategies disagree most (default: 10)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    results = run_strategies(
        read_input(args),
        [s.strip() for s in args.strategies.split(",") if s.strip()],
        labels=aggregator(args),
        auto_scale=args.auto_scale,
        progress=True,
        **consensus_kwargs(args),
    )
    table = comparison_table(
        results, read_truth(args.truth, classes=args.classes) if args.truth else None
    )
    print(format_comparison(table))
    if args.out:
        write_table(table, args.out)
    if len(results) > 1:
        images = image_disagreement({name: r.cells for name, r in results.items()})
        if args.top > 0:
            print(
                f"\nImages where the strategies disagree most (agreement: mean detection F1 "
                f"between strategies on the image; {len(images):,} images in all):"
            )
            print(format_comparison(images.head(args.top)))
        if args.images_out:
            write_table(images, args.images_out)
    return 0
