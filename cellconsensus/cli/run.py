"""``cellconsensus run``: a reproducible pipeline from a configuration file."""

from __future__ import annotations

import argparse

from ..pipeline import REPLAY, example_config, run_pipeline

NAME = "run"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="run the pipeline a TOML configuration file describes (reproducible)",
        description="Read the crowd export, find consensus cells and, as configured, write "
        "the report and the patch store; every output and run.json (the configuration as "
        "run, input checksums, versions) go to the configured folder. Each section holds "
        "the keyword arguments of one library function; `--example` prints a template.",
    )
    p.add_argument("config", nargs="?", help="the configuration file (.toml)")
    p.add_argument("--config", dest="config_option", metavar="FILE", help="the same, as an option")
    p.add_argument("--example", action="store_true", help="print a commented template and exit")
    return p


def run(args: argparse.Namespace) -> int:
    if args.example:
        print(example_config(), end="")
        return 0
    config = args.config or args.config_option
    if not config or (args.config and args.config_option):
        raise SystemExit("error: give one configuration file, or --example for a template")
    record = run_pipeline(config, progress=True)
    counts = ", ".join(f"{k} {v}" for k, v in record["counts"].items())
    print(f"{record['strategy']}, labels {record['labels']}: {counts}")
    for name, path in record["outputs"].items():
        print(f"  {name}: {path}")
    folder = record["config"]["output"]["dir"]
    print(f"  run record: {folder}/run.json; replay: cellconsensus run {folder}/{REPLAY}")
    return 0
