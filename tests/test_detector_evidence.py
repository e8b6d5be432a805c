"""A detector's cells as evidence of where the crowd is wrong (cellconsensus.allocate)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cellconsensus import find_consensus, make_truth, simulate_crowd
from cellconsensus.allocate import (
    CrowdRates,
    DetectorRates,
    detector_rates,
    image_uncertainty,
    next_tasks,
)
from cellconsensus.allocate.detector_evidence import (
    label_update,
    match_detections,
    missed_by_crowd,
    real_update,
)
from cellconsensus.allocate.simulate import simulate_allocation
from cellconsensus.cli import main
from cellconsensus.errors import CellConsensusInputError
from cellconsensus.io import write_pybossa, write_table

SETTINGS = settings(max_examples=80, deadline=None)
unit = st.floats(0.02, 0.98)
rates = st.builds(DetectorRates, unit, unit, unit, st.just(10.0))


def _detections(truth: pd.DataFrame, recall: float, flip: float, seed: int = 0) -> pd.DataFrame:
    """The truth as a detector of known quality would find it."""
    rng = np.random.default_rng(seed)
    found = truth[rng.random(len(truth)) < recall].copy()
    flipped = rng.random(len(found)) < flip
    found.loc[flipped, "label"] = found.loc[flipped, "label"].map(
        {"alive": "dead", "dead": "alive"}
    )
    found = found[["image_id", "x", "y", "label"]].reset_index(drop=True)
    found.attrs = {"image_ids": sorted(truth["image_id"].unique()),
                   "detector": {"min_distance": 10.0, "validation": {
                       "precision": 0.95, "recall": recall, "label_accuracy": 1 - flip}}}  # fmt: skip
    return found


@SETTINGS
@given(
    proba=arrays(float, (5, 3), elements=st.floats(0.01, 1.0)),
    labels=st.lists(st.sampled_from(["a", "b", "c", "other", None]), min_size=5, max_size=5),
    accuracy=st.floats(0.4, 0.99),
)
def test_a_detector_label_moves_the_belief_toward_it(proba, labels, accuracy):
    proba = proba / proba.sum(axis=1, keepdims=True)
    after = label_update(proba, np.array(labels, dtype=object), ["a", "b", "c"], accuracy)
    assert np.allclose(after.sum(axis=1), 1.0)
    for row, label in enumerate(labels):
        if label in ("a", "b", "c"):
            k = "abc".index(label)
            # Better than chance: the class it names gains, never loses.
            assert after[row, k] >= proba[row, k] - 1e-12
        else:  # unsure, or not a class: nothing learnt
            assert np.allclose(after[row], proba[row])


@SETTINGS
@given(p=st.floats(0.0, 1.0), rates=rates)
def test_found_or_not_moves_the_odds_of_being_real(p, rates):
    found, lost = real_update(np.array([p, p]), np.array([True, False]), rates)
    assert 0.0 <= lost <= 1.0 and 0.0 <= found <= 1.0
    informative = rates.recall > 1 - rates.precision  # finds real cells more than false ones
    if informative:
        assert lost <= p + 1e-12 <= found + 2e-12
    # In expectation over the detector's answer, belief is kept (a martingale).
    expected_found = p * rates.recall + (1 - p) * (1 - rates.precision)
    assert expected_found * found + (1 - expected_found) * lost == pytest.approx(p, abs=1e-9)


@SETTINGS
@given(miss=arrays(float, 6, elements=st.floats(0.0, 1.0)), rates=rates)
def test_a_cell_only_the_detector_found_is_as_likely_as_the_crowd_missed_it(miss, rates):
    real = missed_by_crowd(miss, rates)
    assert ((real >= 0) & (real <= rates.precision + 1e-12)).all()
    order = np.argsort(miss, kind="stable")
    assert (np.diff(real[order]) >= -1e-12).all()


def test_detections_are_matched_to_cells_then_to_lone_clicks():
    cells = pd.DataFrame({"image_id": ["a", "a", "b"], "x": [10.0, 50, 10], "y": [10.0, 50, 10],
                          "label": ["alive", "dead", "alive"]})  # fmt: skip
    found = pd.DataFrame({"image_id": ["a", "a", "b", "c"], "x": [12.0, 90, 40, 5],
                          "y": [10.0, 90, 40, 5], "label": ["dead", "alive", "alive", "dead"]})  # fmt: skip
    lone = pd.DataFrame({"image_id": ["a", "b"], "x": [91.0, 0], "y": [91.0, 0],
                         "label": ["alive", "alive"]})  # fmt: skip
    evidence = match_detections(found, cells, lone, 5.0)
    assert evidence.cell_found.tolist() == [True, False, False]
    assert evidence.cell_label.tolist() == ["dead", None, None]
    assert evidence.click_found.tolist() == [True, False]
    assert sorted(evidence.unmatched_image.tolist()) == ["b", "c"]


def test_rates_come_with_the_detections_or_are_an_error():
    cells = pd.DataFrame(columns=["image_id", "x", "y", "label"])
    with pytest.raises(ValueError, match="validation figures"):
        detector_rates(cells)
    record = {"min_distance": 9.0, "validation": {"precision": 1.0, "recall": 0.5,
                                                  "label_accuracy": 0.9}}  # fmt: skip
    rates = detector_rates(record)
    assert rates.precision < 1.0 and rates.match_distance == 9.0  # never certain
    with pytest.raises(ValueError, match="recall"):
        DetectorRates(0.9, 1.5, 0.9, 10.0)
    with pytest.raises(ValueError, match="match_distance"):
        DetectorRates(0.9, 0.9, 0.9, 0.0)


@pytest.fixture(scope="module")
def lone():
    """Every image seen by one volunteer, and a good detector on them."""
    truth = make_truth(40, style="brightfield", seed=3)
    clicks = simulate_crowd(truth, 1, seed=0, label_noise=0.2, miss_rate=0.2)
    return truth, clicks, find_consensus(clicks)


def test_a_detector_points_at_the_images_where_the_crowd_erred(lone):
    from cellconsensus.report.rankings import errors_per_image

    truth, clicks, result = lone
    runs = clicks.attrs["runs"]
    plain = image_uncertainty(result, runs=runs).set_index("image_id")
    seen = image_uncertainty(result, runs=runs, detections=_detections(truth, 0.95, 0.02))
    seen = seen.set_index("image_id")
    errors = errors_per_image(result.cells, truth).set_index("image_id")["errors"]
    errors = errors.reindex(seen.index, fill_value=0)
    # Alone, the crowd cannot tell its right images from its wrong ones as well.
    wrong, right = errors > 0, errors == 0
    assert wrong.any() and right.any()
    with_detector = seen["expected_errors"][wrong].mean() - seen["expected_errors"][right].mean()
    without = plain["expected_errors"][wrong].mean() - plain["expected_errors"][right].mean()
    assert with_detector > without
    # And its ranking sends the next volunteers to the wrong images more often.
    budget = int(wrong.sum())
    hits = {name: errors[plan.set_index("image_id")["extra"] > 0].gt(0).mean()
            for name, plan in (("plain", next_tasks(result, budget, runs=runs, max_per_image=1)),
                               ("seen", next_tasks(result, budget, runs=runs, max_per_image=1,
                                                   detections=_detections(truth, 0.95, 0.02))))}  # fmt: skip
    assert hits["seen"] > hits["plain"]


def test_images_only_the_detector_searched_are_ranked(lone):
    truth, clicks, result = lone
    extra = truth[truth["image_id"] == truth["image_id"].iloc[0]].assign(image_id="unseen")
    found = pd.concat([_detections(truth, 0.95, 0.02), extra[["image_id", "x", "y", "label"]]])
    found.attrs = _detections(truth, 0.95, 0.02).attrs
    found.attrs["image_ids"] = [*found.attrs["image_ids"], "unseen"]
    table = image_uncertainty(result, runs=clicks.attrs["runs"], detections=found)
    row = table.set_index("image_id").loc["unseen"]
    assert row["annotators"] == 0 and row["expected_missed"] > 0


def test_the_loop_takes_a_detector(lone):
    truth, _, _ = lone
    ids = sorted(truth["image_id"].unique())[:10]
    part = truth[truth["image_id"].isin(ids)].copy()
    part.attrs["image_ids"] = ids
    rounds = simulate_allocation(part, "ours", pool=3, batch=5, seed=0,
                                 detections=_detections(part, 0.95, 0.02))  # fmt: skip
    assert rounds["runs"].iloc[-1] == 3 * len(ids)
    assert rounds["predicted_gain"].iloc[:-1].notna().all()


def test_the_command_line_takes_detections_with_their_detector(tmp_path, capsys):
    truth = make_truth(10, seed=0)
    clicks = simulate_crowd(truth, 1, seed=0)
    runs_path, tasks_path = write_pybossa(clicks, tmp_path / "runs.json", tmp_path / "tasks.json")
    found = _detections(truth, 0.9, 0.05)
    write_table(found.assign(score=0.9), tmp_path / "found.csv")
    detector = tmp_path / "det"
    detector.mkdir()
    (detector / "detector.json").write_text(json.dumps(found.attrs["detector"]))
    args = ["allocate", str(runs_path), "--tasks", str(tasks_path), "--budget", "4"]
    assert main([*args, "--detections", str(tmp_path / "found.csv"), "--detector",
                 str(detector)]) == 0  # fmt: skip
    assert "4 runs to" in capsys.readouterr().out
    assert main([*args, "--detections", str(tmp_path / "found.csv")]) == 2
    assert "go together" in capsys.readouterr().err
    (detector / "detector.json").write_text("{}")
    assert main([*args, "--detections", str(tmp_path / "found.csv"), "--detector",
                 str(detector)]) == 2  # fmt: skip
    assert "detector.json" in capsys.readouterr().err


def test_bad_detections_name_the_row(lone):
    truth, clicks, result = lone
    found = _detections(truth, 0.9, 0.05)
    found.loc[3, "x"] = np.nan
    with pytest.raises(CellConsensusInputError, match="row 4.*finite"):
        image_uncertainty(result, detections=found)
    with pytest.raises(CellConsensusInputError, match="label"):
        image_uncertainty(result, detections=found.drop(columns="label"))


def test_the_detector_is_measured_where_two_volunteers_looked():
    from cellconsensus.allocate.detector_evidence import (
        VALIDATION_CELLS,
        DetectorEvidence,
        measured_rates,
    )

    n = 10 * VALIDATION_CELLS
    found = np.arange(n) % 2 == 0  # finds half of the crowd's cells
    labels = np.where(found, "alive", None).astype(object)
    evidence = DetectorEvidence(found, labels, np.zeros(0, bool), np.zeros(0, object))
    proba = np.tile([[0.0, 1.0]], (n, 1))  # the crowd says dead: the detector always disagrees
    validation = DetectorRates(0.9, 0.9, 0.9, 10.0)
    alone = measured_rates(validation, evidence, proba, ["alive", "dead"],
                           np.zeros(n, bool), np.zeros(0, bool), 0)  # fmt: skip
    assert alone == validation  # nobody's second look yet: its validation figures
    shared = measured_rates(validation, evidence, proba, ["alive", "dead"],
                            np.ones(n, bool), np.zeros(0, bool), n // 2)  # fmt: skip
    # Shrunk toward the validation figures as if they were VALIDATION_CELLS cells.
    half = (n / 2 + VALIDATION_CELLS * 0.9) / (n + VALIDATION_CELLS)
    assert shared.recall == pytest.approx(half) and shared.precision == pytest.approx(half)
    assert shared.label_accuracy == pytest.approx(
        VALIDATION_CELLS * 0.9 / (n / 2 + VALIDATION_CELLS)
    )


def test_a_lone_volunteers_cell_the_detector_misses_is_worth_two_more_volunteers(lone):
    """One clicker of two keeps a cell, so a second volunteer cannot drop a lone
    volunteer's cell; two more can, and the next one is credited with half of that."""
    truth, clicks, result = lone
    runs = clicks.attrs["runs"]
    image = result.cells["image_id"].value_counts().index[0]
    cells = result.cells[result.cells["image_id"] == image]
    seen = _detections(truth, 1.0, 0.0)
    seen = pd.concat([seen[seen["image_id"] != image],
                      cells[["image_id", "x", "y", "label"]]], ignore_index=True)  # fmt: skip
    seen.attrs = _detections(truth, 1.0, 0.0).attrs
    doubted = seen.drop(seen.index[-1])  # the detector does not see the image's last cell
    doubted.attrs = seen.attrs

    # A crowd known to find 90 % of cells (a lone crowd alone says nothing of it).
    rates = CrowdRates(pd.Series(dtype=float), new_detection=0.9, accuracy=0.8)

    def row(found):
        table = image_uncertainty(result, runs=runs, detections=found, rates=rates)
        return table.set_index("image_id").loc[image]

    sure, unsure = row(seen), row(doubted)
    assert unsure["annotators"] == 1
    assert unsure["cells_in_doubt"] > sure["cells_in_doubt"] + 0.1
    assert unsure["detection_gain"] > sure["detection_gain"] + 0.05
