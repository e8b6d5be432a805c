"""The benchmark's adapters to the peer libraries (run where the `bench` extra is installed)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from peers import crowdkit_aggregate, panoptes_consensus

pytestmark = pytest.mark.peers


def _clicks() -> pd.DataFrame:
    """Three annotators; cell A (all say alive), cell B (two dead, one alive)."""
    rows = []
    for k, who in enumerate(["u1", "u2", "u3"]):
        rows.append(("img", who, 10.0 + k, 10.0, "alive"))
        rows.append(("img", who, 50.0, 50.0 + k, "alive" if who == "u3" else "dead"))
    clicks = pd.DataFrame(rows, columns=["image_id", "annotator_id", "x", "y", "label"])
    clicks.attrs["runs"] = pd.DataFrame(
        {"image_id": ["img"] * 4, "annotator_id": ["u1", "u2", "u3", "u4"]}
    )
    return clicks


def test_panoptes_one_tool_per_label_splits_a_disputed_cell():
    pytest.importorskip("panoptes_aggregation")
    cells = panoptes_consensus(_clicks(), "dbscan", eps=5, min_samples=2)
    # A: one alive cluster of 3. B: a dead cluster of 2; the lone alive click is noise.
    got = sorted(zip(cells["label"], cells["support"], cells["x"].round(2), strict=True))
    assert got == [("alive", 3, 11.0), ("dead", 2, 50.0)]


def test_panoptes_one_tool_labels_by_majority():
    pytest.importorskip("panoptes_aggregation")
    cells = panoptes_consensus(_clicks(), "dbscan", per_label=False, eps=5, min_samples=2)
    assert sorted(zip(cells["label"], cells["support"], strict=True)) == [
        ("alive", 3),
        ("dead", 3),
    ]
    b = cells[cells["label"] == "dead"].iloc[0]
    assert (b["x"], b["y"]) == (50.0, 51.0)  # the mean of the three clicks


def test_panoptes_needs_enough_points():
    pytest.importorskip("panoptes_aggregation")
    lone = _clicks().iloc[:1]
    lone.attrs["runs"] = _clicks().attrs["runs"]
    assert panoptes_consensus(lone, "dbscan", eps=5, min_samples=2).empty
    with pytest.raises(ValueError, match="'dbscan' or 'hdbscan'"):
        panoptes_consensus(lone, "optics")


def test_crowdkit_majority_agrees_with_ours_without_ties():
    pytest.importorskip("crowdkit")
    from cellconsensus.labels import get_aggregator

    rng = np.random.default_rng(0)
    votes = pd.DataFrame(
        {
            "task": np.repeat(np.arange(50), 3),
            "worker": np.tile(["a", "b", "c"], 50),
            "label": rng.choice(["alive", "dead"], 150),
        }
    )
    theirs = crowdkit_aggregate(votes, "MajorityVote").sort_index()
    ours = get_aggregator("majority").fit_predict(votes).sort_index()
    assert (theirs.astype(str).to_numpy() == ours.astype(str).to_numpy()).all()
    with pytest.raises(ValueError, match="method must be one of"):
        crowdkit_aggregate(votes, "Wawa")


def test_crowdkit_and_we_agree_on_its_multiclass_fixtures():
    """crowd-kit's own three-class fixture: its DawidSkene and MajorityVote beside ours."""
    aggregation = pytest.importorskip("crowdkit.aggregation")
    from _crowdkit_fixtures import SIMPLE, SIMPLE_TRUTH

    from cellconsensus.labels import DawidSkeneAggregator, MajorityAggregator

    theirs = aggregation.DawidSkene(n_iter=100).fit_predict(SIMPLE).sort_index()
    ours = DawidSkeneAggregator().fit_predict(SIMPLE).sort_index()
    assert theirs.tolist() == SIMPLE_TRUTH.tolist() == ours.astype(str).tolist()
    their_mv = aggregation.MajorityVote().fit_predict_proba(SIMPLE).sort_index()
    our_mv = MajorityAggregator().fit_predict_class_proba(SIMPLE).sort_index()
    np.testing.assert_allclose(our_mv[their_mv.columns].to_numpy(), their_mv.to_numpy())
