"""``cellconsensus allocate``: which images need another volunteer, and the files to send."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from ..allocate import (
    DetectorRates,
    detector_rates,
    next_tasks,
    write_pybossa_updates,
    write_zooniverse_retirement,
)
from ..allocate.detector_evidence import validate_detections
from ..allocate.plan import COSTS, DETECTION_WEIGHT
from ..errors import CellConsensusInputError
from ..io import read_table, write_table
from .options import add_consensus, add_input, add_strategy, read_input, run_consensus
from .runner import whole_number

NAME = "allocate"


def _weight(text: str) -> float:
    """A positive, finite number (argparse's error otherwise: exit status 2)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="the images where the next volunteers remove most expected errors",
        description=(
            "Find the consensus of INPUT, estimate per image the errors still expected "
            "(missed cells, wrong labels, cells in doubt) and what one more volunteer "
            "would remove, and spread BUDGET volunteer runs over the images where they "
            "remove most. Writes the plan, PyBossa task updates (n_answers per task) and a "
            "Zooniverse retirement / subject CSV on request."
        ),
    )
    add_input(p)
    add_strategy(p)
    add_consensus(p)
    p.add_argument("--budget", type=whole_number(0, "a whole number of runs"), required=True,
                   help="volunteer runs to send")  # fmt: skip
    p.add_argument("--max-per-image", type=whole_number(1, "a whole number of runs"),
                   help="at most this many extra runs per image")  # fmt: skip
    p.add_argument(
        "--detection-weight",
        type=_weight,
        default=DETECTION_WEIGHT,
        help="wrong labels a missed cell or a cell in doubt counts for when ranking images",
    )
    p.add_argument(
        "--cost",
        choices=COSTS,
        default="runs",
        help="rank runs by the errors they remove per run (default) or per click they cost "
        "(the image's cells, plus one for opening it)",
    )
    p.add_argument(
        "--detections",
        metavar="CSV",
        help="an automatic detector's cells on the same images (cellcnn detect -o), as "
        "evidence of where the crowd is wrong; needs --detector",
    )
    p.add_argument(
        "--detector",
        metavar="DIR",
        help="the detector's folder: its detector.json says how far to trust --detections",
    )
    p.add_argument("--top", type=int, default=20, help="rows to print (default: 20)")
    p.add_argument("-o", "--out", help="write the whole plan (.csv or .parquet)")
    p.add_argument(
        "--pybossa-updates",
        metavar="JSON",
        help="write {id, n_answers} per task (task ids from --tasks when given)",
    )
    p.add_argument("--zooniverse", metavar="CSV", help="write subject_id, retire, extras")
    return p


def _detections(args: argparse.Namespace) -> tuple[pd.DataFrame | None, DetectorRates | None]:
    """The ``--detections`` table and the ``--detector``'s rates (both or neither)."""
    if (args.detections is None) != (args.detector is None):
        raise CellConsensusInputError("--detections and --detector go together")
    if args.detections is None:
        return None, None
    record = Path(args.detector) / "detector.json"
    try:
        meta = json.loads(record.read_text())
        rates = detector_rates(meta)
    except (OSError, ValueError) as error:
        raise CellConsensusInputError(f"{record}: {error}") from error
    return validate_detections(read_table(args.detections), source=args.detections), rates


def run(args: argparse.Namespace) -> int:
    detections, rates = _detections(args)
    clicks = read_input(args)
    result = run_consensus(args, clicks)
    plan = next_tasks(result, args.budget, runs=clicks.attrs.get("runs"),
                      max_per_image=args.max_per_image,
                      detection_weight=args.detection_weight, cost=args.cost,
                      detections=detections, detector=rates)  # fmt: skip
    sent = plan[plan["extra"] > 0]
    print(
        f"{len(plan)} images, {plan['expected_errors'].sum():.1f} expected errors; "
        f"{int(sent['extra'].sum())} runs to {len(sent)} images remove "
        f"{plan['expected_gain'].sum():.1f} of them; {int(plan['retire'].sum())} images to retire"
    )
    with pd.option_context(
        "display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format
    ):
        print(plan.head(args.top).to_string(index=False))
    if len(plan) > args.top:
        print(f"... {len(plan) - args.top} more image(s); -o writes them all")
    if args.out:
        write_table(plan, args.out)
        print(f"wrote the plan to {args.out}")
    if args.pybossa_updates:
        write_pybossa_updates(plan, args.pybossa_updates, tasks=args.tasks)
        print(f"wrote PyBossa task updates to {args.pybossa_updates}")
    if args.zooniverse:
        write_zooniverse_retirement(plan, args.zooniverse)
        print(f"wrote the Zooniverse subject CSV to {args.zooniverse}")
    return 0
