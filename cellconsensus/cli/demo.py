"""``cellconsensus demo``: the whole consensus pipeline on built-in synthetic data."""

from __future__ import annotations

import argparse

from ..demo import run_demo

NAME = "demo"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="synthetic images -> simulated crowd export -> consensus, every strategy compared",
    )
    p.add_argument("--n-images", type=int, default=300)
    p.add_argument("--n-annotators", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="demo-output", help="folder for the demo's files")
    p.add_argument("--n-jobs", type=int, default=-1, help="processes (-1: all cores)")
    return p


def run(args: argparse.Namespace) -> int:
    run_demo(
        args.out,
        n_images=args.n_images,
        n_annotators=args.n_annotators,
        seed=args.seed,
        n_jobs=args.n_jobs,
        echo=print,
        progress=True,
    )
    return 0
