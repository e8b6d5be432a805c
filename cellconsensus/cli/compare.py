"""``cellconsensus compare``: several strategies side by side, optionally scored."""

from __future__ import annotations

import argparse

from ..compare import compare_strategies, format_comparison
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
    return p


def run(args: argparse.Namespace) -> int:
    table = compare_strategies(
        read_input(args),
        [s.strip() for s in args.strategies.split(",") if s.strip()],
        truth=read_truth(args.truth) if args.truth else None,
        labels=aggregator(args),
        auto_scale=args.auto_scale,
        progress=True,
        **consensus_kwargs(args),
    )
    print(format_comparison(table))
    if args.out:
        write_table(table, args.out)
    return 0
