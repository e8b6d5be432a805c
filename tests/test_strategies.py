"""Strategies: parameters, registry, scikit-learn equivalence, scale estimation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import DBSCAN

from cellconsensus.strategies import (
    BaseStrategy,
    DBSCANStrategy,
    available_strategies,
    estimate_scale,
    get_strategy,
    register_strategy,
)

BUILTIN = ["agglomerative", "dbscan", "hdbscan", "kmeans", "radius", "radius-thesis"]


def test_registry_lists_builtins():
    assert set(BUILTIN) <= set(available_strategies())
    with pytest.raises(ValueError, match="unknown strategy 'nope'; available: .*dbscan"):
        get_strategy("nope")


@pytest.mark.parametrize("name", BUILTIN)
def test_params_repr_and_validation(name):
    strategy = get_strategy(name)
    params = strategy.get_params()
    assert params and repr(strategy) == f"{type(strategy).__name__}()"
    assert get_strategy(strategy) == strategy and get_strategy(strategy) is not strategy
    with pytest.raises(ValueError, match="Invalid parameter 'bogus'"):
        get_strategy(name, bogus=1)
    first = next(iter(strategy._parameter_constraints))
    with pytest.raises(
        ValueError, match=f"The '{first}' parameter of {type(strategy).__name__} must be"
    ):
        get_strategy(name, **{first: -7.5})


def test_auto_scale_resolution():
    strategy = get_strategy("dbscan", eps="auto")
    assert strategy.needs_scale
    with pytest.raises(ValueError, match="'auto'"):
        strategy.fit_predict(np.zeros((3, 2)))
    assert strategy.with_scale(2.0).eps == pytest.approx(6.0)


def test_entry_point_plugins_are_loaded(monkeypatch):
    class EntryPoint:
        name = "plugin-one-cell"
        value = "pkg:OneCell"

        def load(self):
            class OneCell(BaseStrategy):
                name = "plugin-one-cell"

                def __init__(self):
                    pass

                def _cluster_image(self, X, annotators):
                    return np.zeros(len(X), np.int64)

            return OneCell

    class Broken(EntryPoint):
        name = "broken"

        def load(self):
            raise ImportError("missing dependency")

    import cellconsensus.strategies.registry as registry

    monkeypatch.setattr(registry, "entry_points", lambda group: [EntryPoint(), Broken()])
    assert "plugin-one-cell" in available_strategies() and "broken" not in available_strategies()
    assert get_strategy("plugin-one-cell").fit_predict(np.ones((4, 2))).tolist() == [0, 0, 0, 0]


def test_register_strategy_rejects_non_strategies():
    with pytest.raises(TypeError):
        register_strategy(dict)


points = st.lists(
    st.tuples(st.integers(0, 400).map(lambda v: v / 4), st.integers(0, 400).map(lambda v: v / 4)),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(points, st.sampled_from([1.5, 3.0, 7.25, 20.0]), st.integers(1, 5))
def test_dbscan_equals_scikit_learn(pts, eps, min_samples):
    X = np.array(pts, dtype="float64")
    ours = DBSCANStrategy(eps=eps, min_samples=min_samples).fit_predict(X)
    theirs = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(X)
    np.testing.assert_array_equal(ours, theirs)


@settings(max_examples=50, deadline=None)
@given(st.lists(points, min_size=1, max_size=6), st.sampled_from([2.0, 6.0]))
def test_dbscan_batch_never_links_images(images, eps):
    X = np.concatenate([np.array(p, dtype="float64") for p in images])
    img = np.repeat(np.arange(len(images)), [len(p) for p in images])
    batch = DBSCANStrategy(eps=eps).fit_predict_batch(X, img, np.zeros(len(X), np.int64))
    for i in range(len(images)):
        alone = DBSCANStrategy(eps=eps).fit_predict(X[img == i])
        got = batch[img == i]
        # Same partition up to renaming.
        assert len(set(zip(alone.tolist(), got.tolist(), strict=True))) == len(set(alone.tolist()))
        assert ((alone == -1) == (got == -1)).all()


@pytest.mark.parametrize("sigma", [1.5, 4.0, 11.0])
def test_estimate_scale_recovers_noise(sigma):
    rng = np.random.default_rng(1)
    centres = rng.uniform(0, 3000, (3000, 2))
    X = np.repeat(centres, 5, axis=0) + rng.normal(0, sigma, (15000, 2))
    ann = np.tile(np.arange(5), 3000)
    keep = rng.random(15000) > 0.1  # missed cells
    img = np.repeat(np.arange(60), 250)[keep]
    order = np.argsort(img, kind="stable")
    est = estimate_scale(X[keep][order], img[order], ann[keep][order])
    assert est == pytest.approx(sigma, rel=0.2)


def test_estimate_scale_needs_two_annotators():
    with pytest.raises(ValueError, match="two annotators"):
        estimate_scale(np.zeros((3, 2)), np.zeros(3, np.int64), np.zeros(3, np.int64))
