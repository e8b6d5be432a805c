"""Conformance checks for strategies and label models, ours and plugins alike.

Like scikit-learn's ``check_estimator``: a plugin author runs
:func:`check_strategy` or :func:`check_aggregator` on their class in their own
test suite; each raises ``AssertionError`` naming the first contract broken.
Our own tests run them on every built-in.

The contracts:

- **parameters** (both): keyword-only ``__init__`` parameters stored unchanged,
  ``get_params`` / ``set_params`` / ``clone`` round trips, constraints that name
  real parameters, defaults that validate, unknown names refused, a ``repr``
  that shows only what differs from the defaults;
- **strategies**: integer cluster ids (``-1`` noise) for every click, images
  clustered independently of each other, deterministic, empty input accepted,
  a valid Cells table from :func:`~cellconsensus.find_consensus`, the caller's
  object left as it was;
- **aggregators**: ``p_alive`` in [0, 1] for every task, invariant to the order
  of the votes and to renaming annotators and tasks, unanimous tasks decided
  in their direction, labels consistent with ``p_alive`` and ``unsure_margin``,
  unknown labels refused, and a ``reduction`` of ``"per-task"`` honest (such a
  model gives a task the same ``p_alive`` whatever other tasks are fitted with it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import CellConsensusInputError
from .labels import BaseAggregator, label_from_proba
from .params import BaseParams
from .strategies import BaseStrategy

__all__ = ["check_strategy", "check_aggregator", "check_params"]


def _instance(obj, base: type) -> tuple[BaseParams, str]:
    """The object to check (a class is instantiated with its defaults) and its class name,
    after the parameter contract."""
    instance = obj() if isinstance(obj, type) else obj
    assert isinstance(instance, base), f"{instance!r} is not a {base.__name__}"
    assert getattr(type(instance), "name", ""), f"{type(instance).__name__} has no registry `name`"
    check_params(instance)
    return instance, type(instance).__name__


def check_params(obj: BaseParams | type[BaseParams]) -> None:
    """The parameter contract of :class:`~cellconsensus.params.BaseParams`.

    Examples
    --------
    >>> from cellconsensus.strategies import DBSCANStrategy
    >>> check_params(DBSCANStrategy)
    """
    instance = obj() if isinstance(obj, type) else obj
    cls, owner = type(instance), type(instance).__name__
    names = cls._param_names()
    params = instance.get_params(deep=False)
    assert list(params) == names, f"{owner}.get_params() keys {list(params)} != {names}"
    for name in names:
        assert hasattr(instance, name), f"{owner} does not store its parameter {name!r}"
    unknown = set(cls._parameter_constraints) - set(names)
    assert not unknown, f"{owner}._parameter_constraints names no parameter: {sorted(unknown)}"
    default = cls()
    default._validate_params()
    assert repr(default) == f"{owner}()", f"repr of a default {owner} is {default!r}"
    # Parameters are stored as given: __init__ neither validates nor converts them.
    for name in names:
        marker = object()
        try:
            stored = cls(**{name: marker}).get_params(deep=False)[name]
        except Exception as error:  # any error is the finding
            raise AssertionError(
                f"{owner}.__init__ checks or converts {name!r} ({error!r}): store it as given, "
                "validate it in use"
            ) from None
        assert stored is marker, f"{owner}.__init__ changes the value of {name!r}"
    assert instance.set_params(**params) is instance, f"{owner}.set_params must return self"
    assert instance.get_params(deep=False) == params, f"{owner}.set_params changed parameters"
    clone = instance.clone()
    assert type(clone) is cls and clone is not instance, f"{owner}.clone() is not a new {owner}"
    assert repr(clone) == repr(instance), f"{owner}.clone() has other parameters: {clone!r}"
    try:
        instance.set_params(no_such_parameter=1)
    except ValueError:
        pass
    else:
        raise AssertionError(f"{owner}.set_params accepted an unknown parameter")


# -- strategies ---------------------------------------------------------------------


def _crowd(seed: int = 0) -> pd.DataFrame:
    from .simulate import simulate_crowd
    from .synthetic import make_truth

    return simulate_crowd(make_truth(4, cells_per_image=(3, 8), seed=seed), 4, seed=seed)


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two clusterings group the clicks alike (noise must match exactly)."""
    if not np.array_equal(a < 0, b < 0):
        return False
    kept = a >= 0
    pairs = np.unique(np.stack([a[kept], b[kept]]), axis=1)
    return len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == pairs.shape[1]


def check_strategy(strategy: BaseStrategy | type[BaseStrategy]) -> None:
    """Run the strategy contract (see the module docstring) on a strategy class or instance.

    Raises
    ------
    AssertionError
        Naming the first contract the strategy breaks.

    Examples
    --------
    >>> from cellconsensus.strategies import DBSCANStrategy
    >>> check_strategy(DBSCANStrategy)
    """
    from .consensus import find_consensus
    from .tables import validate_cells

    instance, owner = _instance(strategy, BaseStrategy)
    clicks = _crowd()
    before = repr(instance)
    cells = find_consensus(clicks, instance, "majority", support_rule="threshold").cells
    validate_cells(cells)
    assert repr(instance) == before, f"find_consensus changed the caller's {owner}"
    if type(instance).make_cells is BaseStrategy.make_cells:  # own rules may find none
        assert len(cells) > 0, f"{owner} found no cell in a crowd of {len(clicks)} clicks"
    resolved = instance.with_scale(3.0) if instance.needs_scale else instance
    ordered = clicks.sort_values(["image_id", "annotator_id"], kind="stable")
    X = ordered[["x", "y"]].to_numpy(float)
    image = pd.factorize(ordered["image_id"], sort=True)[0].astype(np.int64)
    ann = pd.factorize(ordered["annotator_id"], sort=True)[0].astype(np.int64)
    labels = resolved.fit_predict_batch(X, image, ann)
    assert isinstance(labels, np.ndarray) and labels.shape == (len(X),), (
        f"{owner}.fit_predict_batch must return one id per click"
    )
    assert np.issubdtype(labels.dtype, np.integer) and labels.min() >= -1, (
        f"{owner}.fit_predict_batch ids must be integers >= -1 (-1: noise)"
    )
    again = resolved.fit_predict_batch(X, image, ann)
    assert np.array_equal(labels, again), f"{owner} is not deterministic"
    for i in np.unique(image):
        mine = image == i
        alone = resolved.fit_predict_batch(X[mine], np.zeros(mine.sum(), np.int64), ann[mine])
        assert _same_partition(labels[mine], alone), (
            f"{owner} clusters image {i} differently when other images are present"
        )
    empty = resolved.fit_predict_batch(np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(0, int))
    assert len(empty) == 0, f"{owner} returned ids for no clicks"
    one = image == 0
    single = resolved.fit_predict(X[one], ann[one])
    assert _same_partition(np.asarray(single), labels[one]), (
        f"{owner}.fit_predict (one image) disagrees with fit_predict_batch"
    )


# -- aggregators --------------------------------------------------------------------


def _votes(seed: int = 0, n_tasks: int = 40, n_workers: int = 6) -> pd.DataFrame:
    """A crowd of mostly reliable workers: three votes per task, some unanimous tasks."""
    rng = np.random.default_rng(seed)
    truth = rng.random(n_tasks) < 0.6
    rows = []
    for t in range(n_tasks):
        for w in rng.choice(n_workers, 3, replace=False):
            right = rng.random() < (0.85 if w else 0.6)
            alive = truth[t] if right else not truth[t]
            answer = "unsure" if rng.random() < 0.05 else ("alive" if alive else "dead")
            rows.append((f"t{t:02d}", f"w{w}", answer))
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


def check_aggregator(aggregator: BaseAggregator | type[BaseAggregator]) -> None:
    """Run the aggregator contract (see the module docstring) on a class or instance.

    Raises
    ------
    AssertionError
        Naming the first contract the aggregator breaks.

    Examples
    --------
    >>> from cellconsensus.labels import MajorityAggregator
    >>> check_aggregator(MajorityAggregator)
    """
    instance, owner = _instance(aggregator, BaseAggregator)
    votes = _votes()
    p = instance.clone().fit_predict_proba(votes)
    tasks = sorted(votes["task"].unique())
    assert list(p.index) == tasks, f"{owner}: p_alive must be indexed by the sorted tasks"
    values = p.to_numpy(float)
    assert np.isfinite(values).all() and ((values >= 0) & (values <= 1)).all(), (
        f"{owner}: p_alive outside [0, 1]"
    )
    shuffled = votes.sample(frac=1.0, random_state=1)
    assert np.allclose(instance.clone().fit_predict_proba(shuffled).to_numpy(), values), (
        f"{owner}: p_alive depends on the order of the votes"
    )
    renamed = votes.assign(worker="annotator-" + votes["worker"].str[::-1])
    assert np.allclose(instance.clone().fit_predict_proba(renamed).to_numpy(), values), (
        f"{owner}: p_alive depends on the annotators' names"
    )
    mapping = dict(zip(tasks, reversed(tasks), strict=True))
    moved = instance.clone().fit_predict_proba(votes.assign(task=votes["task"].map(mapping)))
    assert np.allclose(moved.loc[[mapping[t] for t in tasks]].to_numpy(), values), (
        f"{owner}: p_alive depends on the tasks' names"
    )
    answers = votes.groupby("task")["label"].agg(lambda s: frozenset(s))
    for answer, side in (("alive", 1.0), ("dead", -1.0)):
        unanimous = answers[answers == frozenset([answer])].index
        assert (side * (p.loc[unanimous] - 0.5) >= 0).all(), (
            f"{owner}: a task every vote calls {answer} is not decided {answer}"
        )
    fitted = instance.clone()
    labels = fitted.fit_predict(votes)
    expected = label_from_proba(values, fitted.unsure_margin)
    assert list(labels.astype(str)) == list(expected.astype(str)), (
        f"{owner}: fit_predict disagrees with p_alive and unsure_margin"
    )
    if type(instance).reduction == "per-task":
        half = votes[votes["task"].isin(tasks[::2])]
        alone = instance.clone().fit_predict_proba(half).to_numpy()
        assert np.allclose(alone, values[::2]), (
            f"{owner} says reduction='per-task' but a task's p_alive depends on the other tasks"
        )
    bad = votes.assign(label=votes["label"].where(votes.index != 3, "maybe"))
    try:
        instance.clone().fit(bad)
    except CellConsensusInputError:
        pass
    else:
        raise AssertionError(f"{owner} accepted an unknown label")
