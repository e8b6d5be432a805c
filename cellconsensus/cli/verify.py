"""``cellconsensus verify``: check every chunk of a patch store against its checksums."""

from __future__ import annotations

import argparse

from ..store import verify_store

NAME = "verify"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME, help="check a patch store's chunks against the checksums recorded at its build"
    )
    p.add_argument("store", help="zarr store (path or fsspec URL)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="only check that every chunk file exists (default: read and hash every chunk)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    report = verify_store(args.store, full=not args.quick)
    print(report)
    return 0 if report.ok else 1
