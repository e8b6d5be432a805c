"""The defaults: what a user who passes nothing gets, in the library and on the command line."""

from __future__ import annotations

import re

import pandas as pd

from cellconsensus import defaults, find_consensus, make_truth, simulate_crowd
from cellconsensus.cli import _parser
from cellconsensus.labels import DawidSkeneAggregator
from cellconsensus.strategies import DBSCANStrategy


def test_no_parameter_gives_the_defaults_and_auto_shows_its_scale():
    clicks = simulate_crowd(make_truth(20, seed=2), 5, seed=2)
    plain = find_consensus(clicks)
    assert repr(plain.strategy) == "DBSCANStrategy()"
    assert isinstance(plain.aggregator, DawidSkeneAggregator)
    result = find_consensus(clicks, params={"eps": "auto"})
    assert isinstance(result.strategy, DBSCANStrategy)
    # The resolved scale shows in the repr, the report and the provenance.
    assert re.fullmatch(r"DBSCANStrategy\(eps=\d+\.\d+\)", repr(result.strategy))
    assert result.report.strategy == repr(result.strategy)
    assert result.report.scale is not None and result.strategy.eps == 3 * result.report.scale
    assert isinstance(result.aggregator, DawidSkeneAggregator)
    assert result.cells.attrs["provenance"]["strategy"] == repr(result.strategy)
    assert repr(DBSCANStrategy(eps="auto")) == "DBSCANStrategy(eps='auto')"


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
    args = _parser().parse_args(["aggregate", "clicks.csv", "-o", "cells.csv"])
    assert args.strategy == defaults.STRATEGY and args.labels == defaults.LABELS
    assert args.min_support == defaults.MIN_SUPPORT
    assert args.min_annotators == defaults.MIN_ANNOTATORS
    assert args.support_rule == defaults.SUPPORT_RULE
