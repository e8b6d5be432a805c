"""The defaults: what a user who passes nothing gets, in the library and on the command line."""

from __future__ import annotations

import re

import pandas as pd

from cellconsensus import defaults, find_consensus, make_truth, simulate_crowd
from cellconsensus.cli import build_parser
from cellconsensus.cli.options import consensus_kwargs
from cellconsensus.labels import DawidSkeneAggregator
from cellconsensus.strategies import DBSCANStrategy
from cellconsensus.strategies.consistency import AUTO_FACTORS


def test_no_parameter_gives_the_defaults_and_auto_shows_its_scale():
    clicks = simulate_crowd(make_truth(20, seed=2), 5, seed=2)
    result = find_consensus(clicks)
    assert isinstance(result.strategy, DBSCANStrategy)
    assert isinstance(result.aggregator, DawidSkeneAggregator)
    # The resolved scale shows in the repr, the report and the provenance: a multiple of the
    # estimated noise, to 0.01 px.
    assert re.fullmatch(r"DBSCANStrategy\(eps=\d+\.\d+\)", repr(result.strategy))
    assert result.report.strategy == repr(result.strategy)
    scale = result.report.scale
    assert result.strategy.eps in {round(3 * f * scale, 2) for f in AUTO_FACTORS}
    assert result.cells.attrs["provenance"]["strategy"] == repr(result.strategy)
    # Cells are kept by the annotator model, whose posterior is a column.
    assert result.cells.attrs["provenance"]["support_rule"] == defaults.SUPPORT_RULE == "model"
    assert result.cells["p_real"].between(0, 1).all()
    assert repr(DBSCANStrategy()) == "DBSCANStrategy()" and DBSCANStrategy().eps == "auto"


def test_defaults_work_without_any_image_two_annotators_clicked():
    """Nothing to cluster and no scale to estimate: every click is its own cell."""
    clicks = pd.DataFrame(
        {
            "image_id": ["a", "a", "b"],
            "annotator_id": ["u1", "u1", "u2"],
            "x": [10.0, 50, 20],
            "y": [10.0, 50, 20],
            "label": ["alive", "dead", "alive"],
        }
    )
    result = find_consensus(clicks, params={"eps": "auto"})
    assert len(result.cells) == 3 and result.report.scale is None
    assert result.cells["label"].tolist() == ["alive", "dead", "alive"]


def test_command_line_defaults_are_the_library_defaults():
    args = build_parser().parse_args(["aggregate", "clicks.csv", "-o", "cells.csv"])
    assert args.strategy == defaults.STRATEGY and args.labels == defaults.LABELS
    assert args.min_support == defaults.MIN_SUPPORT
    assert args.min_annotators == defaults.MIN_ANNOTATORS
    # The same support rule on one process and a cluster since both run the annotator model.
    assert consensus_kwargs(args)["support_rule"] == defaults.SUPPORT_RULE
