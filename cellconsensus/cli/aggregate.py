"""``cellconsensus aggregate``: find consensus cells and write the Cells table."""

from __future__ import annotations

import argparse

from ..io import write_cells, write_table
from .options import (
    add_consensus,
    add_input,
    add_scheduler,
    add_strategy,
    read_input,
    run_consensus,
)
from .runner import dask_client

NAME = "aggregate"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="find consensus cells and write the Cells table")
    add_input(p)
    add_strategy(p)
    add_consensus(p)
    p.add_argument("-o", "--out", required=True, help="Cells table to write (.csv or .parquet)")
    p.add_argument(
        "--assignments", help="also write the click-to-cell assignments (.csv or .parquet)"
    )
    add_scheduler(p, "-o then names a folder of Parquet parts")
    return p


def run(args: argparse.Namespace) -> int:
    clicks = read_input(args)
    if args.scheduler and args.assignments:
        raise SystemExit("--assignments is not available with --scheduler")
    # On a cluster the cells go to a folder of Parquet parts, written by the workers.
    output = {"output": args.out, "overwrite": True} if args.scheduler else {}
    with dask_client(args.scheduler) as client:
        result = run_consensus(args, clicks, client=client, **output)
    print(result.report)
    if client is not None:
        print(f"wrote {result.report.n_cells} cells to {args.out}/ ({result.n_partitions} parts)")
        return 0
    write_cells(result.cells, args.out)
    if args.assignments:
        write_table(result.assignments, args.assignments)
    print(f"wrote {len(result.cells)} cells to {args.out}")
    return 0
