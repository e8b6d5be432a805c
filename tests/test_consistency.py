"""The ``"auto"`` scale's choice by the crowd's one-click-per-cell rule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cellconsensus import find_consensus, make_truth, simulate_crowd
from cellconsensus.metrics import score
from cellconsensus.strategies import DBSCANStrategy, estimate_scale
from cellconsensus.strategies.consistency import AUTO_FACTORS, crowd_consistency
from cellconsensus.strategies.scale import FALLBACK_SCALE, MIN_SCALE_SAMPLES

clicks = st.lists(
    st.tuples(st.integers(0, 3), st.integers(-1, 4), st.integers(0, 4)), min_size=1, max_size=60
)


def _arrays(rows):
    rows = sorted(rows)
    image, label, annotator = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=True))
    return label, image, annotator


@settings(max_examples=100, deadline=None)
@given(rows=clicks)
def test_consistency_adds_up_over_images(rows):
    """A cluster can split a table by whole images and add the parts' values."""
    label, image, annotator = _arrays(rows)
    parts = sum(
        crowd_consistency(label[image == i], image[image == i], annotator[image == i])
        for i in np.unique(image)
    )
    assert parts == crowd_consistency(label, image, annotator)


@settings(max_examples=100, deadline=None)
@given(rows=clicks, data=st.data())
def test_consistency_ignores_names(rows, data):
    """Renaming clusters, annotators or images changes nothing."""
    label, image, annotator = _arrays(rows)
    clusters = data.draw(st.permutations(range(5)))
    people = data.draw(st.permutations(range(5)))
    renamed = np.where(label >= 0, np.array(clusters)[np.maximum(label, 0)], -1)
    expected = crowd_consistency(label, image, annotator)
    assert crowd_consistency(renamed, image, np.array(people)[annotator]) == expected
    assert crowd_consistency(label, image + 7, annotator) == expected


@settings(max_examples=100, deadline=None)
@given(n_cells=st.integers(2, 6), n_annotators=st.integers(2, 6), data=st.data())
def test_true_cells_beat_any_merge_or_split(n_cells, n_annotators, data):
    """Every annotator clicked every cell once: merging two cells or splitting one scores less."""
    annotator = np.tile(np.arange(n_annotators), n_cells)
    truth = np.repeat(np.arange(n_cells), n_annotators)
    image = np.zeros(len(truth), np.int64)
    best = crowd_consistency(truth, image, annotator)
    a, b = data.draw(st.lists(st.integers(0, n_cells - 1), min_size=2, max_size=2, unique=True))
    merged = np.where(truth == b, a, truth)
    assert crowd_consistency(merged, image, annotator) < best
    split = truth.copy()
    members = np.flatnonzero(truth == a)
    k = data.draw(st.integers(1, n_annotators - 1))
    split[members[:k]] = n_cells  # a new cluster of some of a's clicks
    assert crowd_consistency(split, image, annotator) < best


def test_auto_keeps_neighbouring_cells_apart():
    """Clicks scattered over a third of the cell size: three times the noise chains
    neighbours; the chosen multiple does not, and finds the cells."""
    truth = make_truth(30, seed=4)
    crowd = simulate_crowd(truth, 10, seed=4, position_noise=0.3)
    auto = find_consensus(crowd, support_rule="threshold")
    plain = find_consensus(crowd, params={"eps": 3 * auto.report.scale}, support_rule="threshold")
    assert auto.strategy.eps < 3 * auto.report.scale
    assert auto.strategy.eps in {round(3 * f * auto.report.scale, 2) for f in AUTO_FACTORS}
    assert score(auto.cells, truth).f1 > score(plain.cells, truth).f1 + 0.1


def test_auto_finds_well_separated_cells_in_one_image():
    rng = np.random.default_rng(0)
    centres = rng.uniform(0, 5000, (300, 2))
    X = np.repeat(centres, 4, axis=0) + rng.normal(0, 2.0, (1200, 2))
    ann = np.tile(np.arange(4), 300)
    labels = DBSCANStrategy().fit_predict(X, ann)
    assert len(set(labels.tolist()) - {-1}) == 300


def test_fit_predict_resolves_auto_from_its_clicks_or_says_what_it_needs():
    X = np.array([[10.0, 10.0], [11.0, 10.0], [80.0, 80.0], [81.0, 79.0]])
    assert DBSCANStrategy().fit_predict(X, np.array([0, 1, 0, 1])).tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="two annotators or more"):
        DBSCANStrategy().fit_predict(X)


def test_too_few_clicks_give_the_fallback_scale():
    """A handful of clicks (two of them coinciding) says nothing reliable of the noise."""
    X = np.array([[30.0, 30.0], [30.0, 30.0], [90.0, 31.0], [92.0, 28.0]])
    ann, img = np.array([0, 1, 0, 1]), np.zeros(4, np.int64)
    assert estimate_scale(X, img, ann) == FALLBACK_SCALE
    n = MIN_SCALE_SAMPLES
    many = np.tile(X, (n, 1)) + np.repeat(np.arange(n), 4)[:, None] * [1000.0, 0.0]
    images = np.repeat(np.arange(n), 4)
    assert estimate_scale(many, images, np.tile(ann, n)) != FALLBACK_SCALE


@settings(max_examples=50, deadline=None)
@given(
    points=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 160), st.integers(0, 160), st.integers(0, 3)),
        min_size=1,
        max_size=40,
    ),
    sigma=st.sampled_from([0.5, 1.0, 2.5, 4.0]),
)
def test_dbscan_at_several_scales_equals_one_scale_at_a_time(points, sigma):
    """Pairs found once at the largest eps and filtered give each scale's own clustering."""
    points = sorted(points)
    image = np.array([p[0] for p in points])
    X = np.array([[p[1] / 4, p[2] / 4] for p in points])
    ann = np.array([p[3] for p in points])
    sigmas = [sigma * f for f in AUTO_FACTORS]
    together = DBSCANStrategy().fit_predict_scales(X, image, ann, sigmas)
    for s, labels in zip(sigmas, together, strict=True):
        alone = DBSCANStrategy().with_scale(s).fit_predict_batch(X, image, ann)
        np.testing.assert_array_equal(labels, alone)
