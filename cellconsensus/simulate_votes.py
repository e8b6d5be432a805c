"""Simulated vote tables for any label set: the label models' test bench.

:func:`~cellconsensus.simulate_crowd` simulates clicks on images (alive / dead);
:func:`simulate_votes` simulates what a label model sees, for K classes: tasks
with a true class, a pool of annotators with their own error rates, a few votes
per task. It is Dawid and Skene's generative model: an honest annotator gives
the true class with probability ``1 - e`` (``e`` their own error rate, drawn
around ``label_noise``) and otherwise a uniformly random other class; a spammer
answers uniformly at random; any vote may be the unsure answer instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .simulate import _beta
from .tables.vocabulary import ALIVE_DEAD, Vocabulary, as_vocabulary

__all__ = ["simulate_votes"]


def simulate_votes(
    n_tasks: int,
    classes: Vocabulary | Sequence[str] = ALIVE_DEAD,
    *,
    n_annotators: int = 5,
    pool_size: int = 50,
    label_noise: float = 0.1,
    spammer_fraction: float = 0.0,
    unsure_rate: float = 0.0,
    class_weights: Sequence[float] | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.Series]:
    """A vote table of a simulated crowd, and the true class of every task.

    Parameters
    ----------
    n_tasks : int
        Tasks (cells) to label.
    classes : Vocabulary or sequence of str, default alive / dead
        The true classes (and the unsure answer).
    n_annotators : int, default 5
        Distinct annotators voting on each task, drawn from the pool.
    pool_size : int, default 50
        Annotators in the pool (each votes on about ``n_tasks * n_annotators /
        pool_size`` tasks, so their error rates can be learnt).
    label_noise : float in [0, 1), default 0.1
        Mean error rate of honest annotators (each drawn from a Beta around it).
    spammer_fraction : float in [0, 1], default 0.0
        Annotators of the pool who answer uniformly at random.
    unsure_rate : float in [0, 1], default 0.0
        Probability that a vote is the unsure answer.
    class_weights : sequence of float, optional
        Relative frequency of the classes (default: equal).
    seed : int, default 0
        Seed of everything.

    Returns
    -------
    votes : DataFrame
        ``task, worker, label``: one vote per (task, annotator).
    truth : Series
        The true class of every task, indexed by task.

    Examples
    --------
    >>> votes, truth = simulate_votes(100, ["goose", "parrot", "chicken"], seed=1)
    >>> len(votes), sorted(truth.unique())
    (500, ['chicken', 'goose', 'parrot'])
    """
    vocabulary = as_vocabulary(classes, [])
    k = vocabulary.n_classes
    if n_tasks < 0 or not 1 <= n_annotators <= pool_size:
        raise ValueError(
            f"need n_tasks >= 0 and 1 <= n_annotators <= pool_size, got {n_tasks}, "
            f"{n_annotators}, {pool_size}"
        )
    for name, value in (("label_noise", label_noise), ("spammer_fraction", spammer_fraction),
                        ("unsure_rate", unsure_rate)):  # fmt: skip
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    if unsure_rate and vocabulary.unsure is None:
        raise ValueError("unsure_rate > 0 needs a vocabulary with an unsure answer")
    weights = np.ones(k) if class_weights is None else np.asarray(class_weights, float)
    if weights.shape != (k,) or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"class_weights must be {k} non-negative numbers, got {class_weights}")
    rng = np.random.default_rng(seed)
    spammer = rng.random(pool_size) < spammer_fraction
    error = _beta(rng, label_noise, pool_size)
    true = rng.choice(k, size=n_tasks, p=weights / weights.sum())
    workers = np.argsort(rng.random((n_tasks, pool_size)), axis=1)[:, :n_annotators].ravel()
    task = np.repeat(np.arange(n_tasks), n_annotators)
    right = true[task]
    wrong = (right + rng.integers(1, k, size=len(task))) % k  # a uniformly random other class
    honest = np.where(rng.random(len(task)) < error[workers], wrong, right)
    answer = np.where(spammer[workers], rng.integers(0, k, size=len(task)), honest)
    answer = np.where(rng.random(len(task)) < unsure_rate, k, answer)
    names = np.array(vocabulary.answers, dtype=object)
    votes = pd.DataFrame(
        {"task": task, "worker": [f"w{w:04d}" for w in workers], "label": names[answer]}
    )
    truth = pd.Series(names[true], index=pd.RangeIndex(n_tasks, name="task"), name="label")
    return votes, truth
