"""The public conformance suite (cellconsensus.testing) on every built-in, and proof that it
catches what it is meant to catch."""

from __future__ import annotations

from numbers import Real

import numpy as np
import pytest

from cellconsensus.labels import MajorityAggregator, available_aggregators, get_aggregator
from cellconsensus.params import Interval
from cellconsensus.strategies import DBSCANStrategy, available_strategies, get_strategy
from cellconsensus.testing import check_aggregator, check_params, check_strategy


@pytest.mark.parametrize("name", available_strategies())
def test_every_strategy_meets_the_contract(name):
    check_strategy(type(get_strategy(name)))


@pytest.mark.parametrize("name", available_aggregators())
def test_every_aggregator_meets_the_contract(name):
    check_aggregator(type(get_aggregator(name)))
    check_aggregator(get_aggregator(name, unsure_margin=0.1))


def test_get_aggregator_never_changes_the_callers_object():
    mine = MajorityAggregator()
    got = get_aggregator(mine, unsure_margin=0.2)
    assert got is not mine and mine.unsure_margin == 0.0 and got.unsure_margin == 0.2


def test_nested_parameters_reach_into_parameters():
    class Wrapper(DBSCANStrategy):
        name = "wrapper"

        def __init__(self, *, eps="auto", min_samples=1, inner=None):
            super().__init__(eps=eps, min_samples=min_samples)
            self.inner = inner

    w = Wrapper(inner=MajorityAggregator())
    assert w.get_params()["inner__unsure_margin"] == 0.0
    w.set_params(inner__unsure_margin=0.25)
    assert w.inner.unsure_margin == 0.25
    clone = w.clone()
    assert clone.inner is not w.inner and clone.inner.unsure_margin == 0.25


# -- the checks fail where they should -------------------------------------------------


class _ConvertsInInit(DBSCANStrategy):
    name = "converts"

    def __init__(self, *, eps=10, min_samples=1):
        super().__init__(eps=float(eps), min_samples=min_samples)


class _Unnamed(DBSCANStrategy):
    name = ""


class _Spans(DBSCANStrategy):
    """Groups every four clicks in table order, across image boundaries."""

    name = "spans"

    def fit_predict_batch(self, X, image_index, annotators):
        return np.arange(len(X), dtype=np.int64) // 4


class _BadConstraint(DBSCANStrategy):
    name = "bad-constraint"
    _parameter_constraints = {"radius": [Interval(Real, 0, None)]}


class _Flipped(MajorityAggregator):
    """Calls alive dead."""

    name = "flipped"

    def _fit_arrays(self, task, worker, label, n_tasks):
        return 1.0 - super()._fit_arrays(task, worker, label, n_tasks)


class _FalselyPerTask(MajorityAggregator):
    """Claims to be per-task, but a task's p_alive depends on how many tasks there are."""

    name = "falsely-per-task"

    def _fit_arrays(self, task, worker, label, n_tasks):
        p = super()._fit_arrays(task, worker, label, n_tasks)
        return np.clip(p + 0.001 * n_tasks, 0, 1)


class _OrderSensitive(MajorityAggregator):
    name = "order-sensitive"
    reduction = "global"

    def _fit_arrays(self, task, worker, label, n_tasks):
        p = super()._fit_arrays(task, worker, label, n_tasks)
        return np.clip(p + 0.01 * (label[0] == 0), 0, 1)


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (_ConvertsInInit, "converts 'eps'"),
        (_Unnamed, "no registry `name`"),
        (_Spans, "differently when other images are present"),
        (_BadConstraint, "names no parameter"),
    ],
)
def test_check_strategy_catches_broken_strategies(broken, message):
    with pytest.raises(AssertionError, match=message):
        check_strategy(broken)


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (_Flipped, "is not decided"),
        (_FalselyPerTask, "says reduction='per-task'"),
        (_OrderSensitive, "order of the votes"),
    ],
)
def test_check_aggregator_catches_broken_aggregators(broken, message):
    with pytest.raises(AssertionError, match=message):
        check_aggregator(broken)


def test_check_params_wants_a_plain_repr_for_defaults():
    class Loud(MajorityAggregator):
        name = "loud"

        def __repr__(self):
            return "Loud!"

    with pytest.raises(AssertionError, match="repr of a default"):
        check_params(Loud)
