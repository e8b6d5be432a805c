"""``cellconsensus annotators``: how reliable each annotator is."""

from __future__ import annotations

import argparse

import pandas as pd

from ..annotators import ANNOTATOR_COLUMNS
from ..io import write_table
from .options import add_consensus, add_input, add_strategy, read_input, run_consensus

NAME = "annotators"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME, help="how reliable each annotator is (sensitivity, specificity, detection, spam)"
    )
    add_input(p)
    add_strategy(p)
    add_consensus(p)
    p.add_argument(
        "--sort",
        choices=list(ANNOTATOR_COLUMNS),
        default="spammer_score",
        help="order of the rows, worst first (default: spammer_score, lowest first)",
    )
    p.add_argument("--top", type=int, default=20, help="rows to print (default: 20)")
    p.add_argument("-o", "--out", help="write the whole table (.csv or .parquet)")
    return p


def run(args: argparse.Namespace) -> int:
    result = run_consensus(args, read_input(args))
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
        write_table(table.reset_index(), args.out)
        print(f"wrote {len(table)} annotators to {args.out}")
    return 0
