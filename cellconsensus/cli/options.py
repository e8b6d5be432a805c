"""Options several commands share: the crowd export, the strategy, the consensus, a cluster."""

from __future__ import annotations

import argparse
from typing import Any

import pandas as pd

from .. import defaults
from ..consensus import find_consensus
from ..io import EXPORT_FORMATS, read_export
from ..labels import BaseAggregator, available_aggregators, get_aggregator
from ..strategies import available_strategies
from ..tables import OUT_OF_CANVAS_POLICIES
from .runner import parse_params

__all__ = [
    "add_classes",
    "add_input",
    "read_input",
    "add_strategy",
    "add_consensus",
    "add_scheduler",
    "aggregator",
    "consensus_kwargs",
    "run_consensus",
]


def add_input(p: argparse.ArgumentParser) -> None:
    """The crowd export to read (see :func:`read_input`)."""
    p.add_argument(
        "input",
        help="clicks: Cell Spotting CSV, PyBossa JSON/CSV, Zooniverse classification export, "
        "or a Clicks CSV/Parquet",
    )
    p.add_argument(
        "--format", choices=EXPORT_FORMATS, default="auto", help="input format (default: detect)"
    )
    p.add_argument("--tasks", help="PyBossa task list (JSON/CSV) giving each task's image link")
    p.add_argument(
        "--workflow", help="Zooniverse: the workflow id to read (when the export holds several)"
    )
    p.add_argument(
        "--canvas", nargs=2, type=float, metavar=("W", "H"), help="canvas size in pixels"
    )
    p.add_argument(
        "--out-of-canvas",
        choices=OUT_OF_CANVAS_POLICIES,
        default="clip",
        help="policy for clicks outside the canvas (default: clip)",
    )
    add_classes(p)


def add_classes(p: argparse.ArgumentParser) -> None:
    """``--classes``: the label set of the clicks or truth, when it is not alive / dead."""
    p.add_argument(
        "--classes",
        nargs="+",
        metavar="CLASS",
        help="the label set when it is not alive / dead, in order (e.g. --classes alive dead "
        "mitotic); each class is read as itself",
    )


def read_input(args: argparse.Namespace) -> pd.DataFrame:
    """The Clicks table of :func:`add_input`'s options."""
    return read_export(
        args.input,
        format=args.format,
        tasks=args.tasks,
        canvas=tuple(args.canvas) if args.canvas else None,
        out_of_canvas=args.out_of_canvas,
        workflow_id=args.workflow,
        classes=args.classes,
    )


def add_strategy(p: argparse.ArgumentParser) -> None:
    """``--strategy`` and its ``--param NAME=VALUE`` options."""
    p.add_argument(
        "--strategy",
        choices=available_strategies(),
        default=defaults.STRATEGY,
        help=f"consensus strategy (default: {defaults.STRATEGY} with its own defaults)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="strategy parameter, e.g. eps=auto (repeatable)",
    )


def add_consensus(p: argparse.ArgumentParser) -> None:
    """Label model, which clusters are cells, and processes."""
    p.add_argument(
        "--labels",
        choices=available_aggregators(),
        default=defaults.LABELS,
        help=f"label aggregation (default: {defaults.LABELS})",
    )
    p.add_argument(
        "--unsure-margin", type=float, default=0.0, help="half-width of the unsure band around 0.5"
    )
    p.add_argument(
        "--min-support",
        type=float,
        default=defaults.MIN_SUPPORT,
        help="drop cells clicked by fewer than this fraction of the image's annotators",
    )
    p.add_argument(
        "--min-annotators",
        type=int,
        default=defaults.MIN_ANNOTATORS,
        help="drop cells with fewer annotators",
    )
    p.add_argument(
        "--support-rule",
        choices=["threshold", "model"],
        default=defaults.SUPPORT_RULE,
        help="which clusters are cells: the two options above, or a model of each annotator's "
        f"detection and stray-click rates (default: {defaults.SUPPORT_RULE})",
    )
    p.add_argument("--n-jobs", type=int, default=1, help="processes (-1: all cores)")


def add_scheduler(p: argparse.ArgumentParser, what: str) -> None:
    """``--scheduler``: run on a Dask cluster."""
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help=f"run on a Dask cluster: a scheduler address (tcp://host:8786) or local:N for "
        f"N local worker processes; {what} (needs the 'distributed' extra)",
    )


def aggregator(args: argparse.Namespace) -> BaseAggregator:
    """The label model of :func:`add_consensus`'s options."""
    return get_aggregator(args.labels, unsure_margin=args.unsure_margin)


def consensus_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """:func:`~cellconsensus.find_consensus` keywords of :func:`add_consensus`'s options.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_consensus(p)
    >>> consensus_kwargs(p.parse_args([]))["min_support"] == defaults.MIN_SUPPORT
    True
    """
    return {
        "min_support": args.min_support,
        "min_annotators": args.min_annotators,
        "support_rule": args.support_rule,
        "n_jobs": args.n_jobs,
    }


def run_consensus(args: argparse.Namespace, clicks: pd.DataFrame, **extra: Any):
    """:func:`~cellconsensus.find_consensus` with the options of :func:`add_strategy` and
    :func:`add_consensus` (``extra``: e.g. a ``client`` and its ``output``)."""
    return find_consensus(
        clicks,
        args.strategy,
        aggregator(args),
        params=parse_params(args.param),
        progress=True,
        **consensus_kwargs(args),
        **extra,
    )
