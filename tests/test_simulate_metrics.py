"""The crowd simulator, the synthetic truth and ground-truth scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cellconsensus import find_consensus, make_truth, read_voc, score, simulate_crowd
from cellconsensus.metrics import classification_intervals, detection_intervals
from cellconsensus.strategies import estimate_scale


def test_simulation_is_deterministic_given_a_seed():
    truth = make_truth(10, seed=4)
    pd.testing.assert_frame_equal(truth, make_truth(10, seed=4))
    a, b = simulate_crowd(truth, seed=1), simulate_crowd(truth, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert not simulate_crowd(truth, seed=2)[["x", "y"]].equals(a[["x", "y"]])


def test_simulated_noise_and_crowd_shape():
    truth = make_truth(40, seed=0, cell_size=(30, 30))
    clicks = simulate_crowd(
        truth,
        6,
        seed=0,
        position_noise=0.1,
        miss_rate=0.0,
        spurious_rate=0.0,
        double_click_rate=0.0,
    )
    assert (clicks.groupby("image_id")["annotator_id"].nunique() == 6).all()
    assert len(clicks) == 6 * len(truth)
    order = np.lexsort(
        (clicks["annotator_id"].rank(method="dense"), clicks["image_id"].rank(method="dense"))
    )
    img = pd.factorize(clicks["image_id"], sort=True)[0][order]
    ann = pd.factorize(clicks["annotator_id"], sort=True)[0][order]
    sigma = estimate_scale(clicks[["x", "y"]].to_numpy()[order], img, ann)
    assert sigma == pytest.approx(3.0, rel=0.2)  # 0.1 x 30 px, times per-annotator factors near 1


def test_spammers_and_double_clicks_add_clicks():
    truth = make_truth(20, seed=0)
    base = len(simulate_crowd(truth, seed=0, double_click_rate=0.0))
    assert len(simulate_crowd(truth, seed=0, double_click_rate=0.5)) > base * 1.3
    spam = simulate_crowd(truth, seed=0, spammer_fraction=1.0)
    assert score(find_consensus(spam).cells, truth).f1 < 0.3


def test_score_counts_and_optimal_matching():
    truth = pd.DataFrame(
        {
            "image_id": ["a"] * 2,
            "x": [0.0, 10.0],
            "y": [0.0, 0.0],
            "size": [20.0, 20.0],
            "label": ["alive", "dead"],
        }
    )
    # A greedy matcher pairs the middle cell with the first truth and loses one match.
    cells = pd.DataFrame(
        {"image_id": ["a"] * 2, "x": [5.0, 14.0], "y": [0.0, 0.0], "label": ["alive", "alive"]}
    )
    s = score(cells, truth, tolerance=0.3)
    assert (s.tp, s.fp, s.fn) == (2, 0, 0)
    assert s.label_accuracy == 0.5 and s.balanced_label_accuracy == 0.5
    assert s.localisation_error == pytest.approx(4.5)
    empty = score(cells.iloc[:0], truth)
    assert (empty.tp, empty.fn) == (0, 2) and np.isnan(empty.precision) and empty.recall == 0


def test_perfect_crowd_scores_perfectly():
    truth = make_truth(15, seed=2)
    clicks = simulate_crowd(
        truth,
        5,
        seed=2,
        position_noise=0.02,
        miss_rate=0,
        label_noise=0,
        unsure_rate=0,
        spurious_rate=0,
        double_click_rate=0,
    )
    s = score(find_consensus(clicks).cells, truth)
    assert s.f1 == 1.0 and s.label_accuracy == 1.0


@pytest.mark.realdata
def test_every_strategy_on_real_cellspotting(cellspotting_csv):
    from cellconsensus import available_strategies, read_cellspotting_csv

    clicks = read_cellspotting_csv(cellspotting_csv)
    for name in available_strategies():
        result = find_consensus(clicks, name)
        cells = result.cells
        assert 3000 < len(cells) < len(clicks), name
        assert cells["p_alive"].between(0, 1).all() and cells["support"].between(0, 1).all()
        if name != "radius-thesis":  # the thesis' positions are weighted sums (its quirk)
            assert cells["x"].between(0, 524).all() and cells["y"].between(0, 391).all()
        # 620 images have one run: they pass through untouched (the thesis included).
        assert result.report.n_single_annotator_images == 620
        assert len(result.assignments) == len(clicks)


@pytest.mark.realdata
def test_every_strategy_on_ldc_simulated(ldc_images):
    from cellconsensus import available_strategies

    truth = read_voc(ldc_images)
    subset = truth[truth["image_id"].isin(truth.attrs["image_ids"][:300])]
    subset.attrs["image_ids"] = truth.attrs["image_ids"][:300]
    clicks = simulate_crowd(subset, 5, seed=0)
    for name in available_strategies():
        params = {"eps": "auto"} if name == "dbscan" else {}
        s = score(find_consensus(clicks, name, params=params).cells, subset)
        floor = 0.0 if name == "radius-thesis" else 0.75
        assert s.f1 >= floor and (np.isnan(s.label_accuracy) or s.label_accuracy > 0.8), (name, s)


# --- Per-image counts and bootstrap intervals of the detection figures -----------------

per_image_counts = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=8
)


def _scored(counts: list[tuple[int, int, int]]):
    """A Score with the given (tp, fp, fn) per image: matched cells on the true ones,
    extra cells far away, missed true cells without a cell."""
    truth, cells = [], []
    for k, (tp, fp, fn) in enumerate(counts):
        image = f"im{k}"
        for i in range(tp + fn):
            truth.append((image, 30.0 * i + 10, 10.0))
        for i in range(tp):
            cells.append((image, 30.0 * i + 11, 10.0))
        for i in range(fp):
            cells.append((image, 30.0 * i + 10, 500.0))
    columns = ["image_id", "x", "y"]
    truth = pd.DataFrame(truth, columns=columns).assign(size=20.0, label="alive")
    cells = pd.DataFrame(cells, columns=columns).assign(label="alive")
    ids = [f"im{k}" for k in range(len(counts))]
    return score(cells, truth, image_ids=ids)


@given(per_image_counts)
@settings(max_examples=40, deadline=None)
def test_per_image_counts_add_up_to_the_totals(counts):
    s = _scored(counts)
    assert s.per_image[["tp", "fp", "fn"]].to_numpy().tolist() == [list(c) for c in counts]
    assert s.per_image.sum().to_dict() == {"tp": s.tp, "fp": s.fp, "fn": s.fn}


@given(per_image_counts, st.integers(0, 2**16))
@settings(max_examples=40, deadline=None)
def test_intervals_are_ordered_bounded_and_reproducible(counts, seed):
    s = _scored(counts)
    a = detection_intervals(s, n_resamples=200, seed=seed)
    assert a == detection_intervals(s, n_resamples=200, seed=seed)
    for name, (low, high) in a.items():
        if np.isnan(low):
            continue
        assert 0.0 <= low <= high <= 1.0
        values = 2 * np.array([c[0] for c in counts]) if name == "f1" else None
        if values is not None and not values.any():
            assert high == 0.0  # no match on any image: F1 0 in every draw


@given(st.tuples(st.integers(1, 6), st.integers(0, 4), st.integers(0, 4)), st.integers(1, 6))
@settings(max_examples=30, deadline=None)
def test_identical_images_give_a_point_interval(counts, n):
    s = _scored([counts] * n)
    for name, (low, high) in detection_intervals(s, n_resamples=100).items():
        assert low == pytest.approx(high) == pytest.approx(getattr(s, name))


def test_intervals_narrow_with_more_images_and_widen_with_groups():
    rng = np.random.default_rng(0)
    counts = [(int(rng.integers(1, 6)), int(rng.integers(0, 3)), int(rng.integers(0, 3)))
              for _ in range(10)]  # fmt: skip
    few, many = _scored(counts), _scored(counts * 10)
    width = {k: v[1] - v[0] for k, v in detection_intervals(few).items()}
    narrower = {k: v[1] - v[0] for k, v in detection_intervals(many).items()}
    assert all(narrower[k] < width[k] / 2 for k in width)
    # The ten copies of each image drawn together: as wide as the ten images alone.
    groups = {f"im{k}": f"g{k % 10}" for k in range(100)}
    grouped = {k: v[1] - v[0] for k, v in detection_intervals(many, groups=groups).items()}
    assert all(grouped[k] == pytest.approx(width[k], abs=0.03) for k in width)
    # One group: every draw is the whole set.
    one = detection_intervals(many, groups={f"im{k}": "all" for k in range(100)})
    assert one["f1"] == pytest.approx((many.f1, many.f1))


def test_interval_arguments_are_checked():
    s = _scored([(2, 1, 0), (1, 0, 1)])
    with pytest.raises(ValueError, match="level"):
        detection_intervals(s, level=1.5)
    with pytest.raises(ValueError, match="n_resamples"):
        detection_intervals(s, n_resamples=0)
    with pytest.raises(ValueError, match="no group for image 'im1'"):
        detection_intervals(s, groups={"im0": "a"})


@given(st.data())
@settings(max_examples=60, deadline=None)
def test_weighted_auc_equals_sklearns(data):
    from sklearn.metrics import roc_auc_score

    from cellconsensus.metrics import _weighted_auc

    n = data.draw(st.integers(2, 30))
    positive = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    scores = np.array(data.draw(st.lists(st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9]),
                                         min_size=n, max_size=n)))  # fmt: skip
    weights = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), float)
    defined = (weights[positive].sum() > 0) and (weights[~positive].sum() > 0)
    got = _weighted_auc(weights[None], positive, scores)[0]
    if defined:
        assert got == pytest.approx(roc_auc_score(positive, scores, sample_weight=weights))
    else:
        assert np.isnan(got)


@given(st.integers(2, 4), st.integers(0, 2**16))
@settings(max_examples=30, deadline=None)
def test_classification_intervals_hold_the_figures_of_one_group(k, seed):
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    rng = np.random.default_rng(seed)
    truth = np.concatenate([np.arange(k), rng.integers(0, k, 30)])
    proba = rng.dirichlet(np.ones(k), len(truth))
    predicted = np.where(rng.random(len(truth)) < 0.7, truth, proba.argmax(axis=1))
    one = classification_intervals(truth, predicted, proba, groups=["all"] * len(truth),
                                   n_resamples=50)  # fmt: skip
    expected = balanced_accuracy_score(truth, predicted)
    assert one["balanced_accuracy"] == pytest.approx((expected, expected))
    auc = (roc_auc_score(truth == 0, proba[:, 0]) if k == 2
           else roc_auc_score(truth, proba, multi_class="ovr", average="macro"))  # fmt: skip
    assert one["roc_auc"] == pytest.approx((auc, auc))
    drawn = classification_intervals(truth, predicted, proba, n_resamples=300, seed=seed)
    assert drawn == classification_intervals(truth, predicted, proba, n_resamples=300, seed=seed)
    for low, high in drawn.values():
        assert 0 <= low <= high <= 1
    assert drawn["balanced_accuracy"][0] <= expected <= drawn["balanced_accuracy"][1]


def test_classification_interval_arguments_are_checked():
    with pytest.raises(ValueError, match="1-D of one length"):
        classification_intervals(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="2 entries for 3 cells"):
        classification_intervals(np.zeros(3), np.zeros(3), groups=["a", "b"])
    with pytest.raises(ValueError, match="level"):
        classification_intervals(np.zeros(3), np.zeros(3), level=0)
    # One true class: no AUC in any draw.
    out = classification_intervals(np.zeros(3), np.zeros(3), np.full((3, 2), 0.5))
    assert out["balanced_accuracy"] == (1.0, 1.0) and np.isnan(out["roc_auc"]).all()


def test_intervals_are_the_same_drawn_in_small_blocks(monkeypatch):
    """Memory is bounded by drawing in blocks; the draws do not depend on the blocks."""
    import cellconsensus.metrics as m

    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 200)
    proba = rng.dirichlet(np.ones(2), 200)
    predicted = proba.argmax(axis=1)
    groups = rng.integers(0, 40, 200)
    scored = _scored([(3, 1, 1), (2, 0, 2), (4, 2, 0), (1, 1, 1)])
    whole = (classification_intervals(truth, predicted, proba, groups=groups),
             detection_intervals(scored))  # fmt: skip
    monkeypatch.setattr(m, "_DRAW_BLOCK", 1000)  # 5 draws of 200 cells at a time
    assert (classification_intervals(truth, predicted, proba, groups=groups),
            detection_intervals(scored)) == whole  # fmt: skip
