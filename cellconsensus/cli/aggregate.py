"""``cellconsensus aggregate``: find consensus cells and write the Cells table."""

from __future__ import annotations

import argparse

from ..consensus import find_consensus
from ..io import write_cells, write_table
from .options import (
    add_consensus,
    add_input,
    add_scheduler,
    add_strategy,
    aggregator,
    consensus_kwargs,
    read_input,
)
from .runner import dask_client, parse_params

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
    if args.scheduler:
        if args.assignments or args.support_rule == "model":
            raise SystemExit(
                "--assignments and --support-rule model are not available with --scheduler"
            )
        from ..distributed import find_consensus as find_consensus_on_cluster

        with dask_client(args.scheduler) as client:
            result = find_consensus_on_cluster(
                clicks,
                args.strategy,
                aggregator(args),
                params=parse_params(args.param),
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
        aggregator(args),
        params=parse_params(args.param),
        progress=True,
        **consensus_kwargs(args),
    )
    write_cells(result.cells, args.out)
    if args.assignments:
        write_table(result.assignments, args.assignments)
    print(result.report)
    print(f"wrote {len(result.cells)} cells to {args.out}")
    return 0
