"""The classes a model predicts: its output, probability columns and labels, for any label set.

A store's label set (:class:`~cellconsensus.tables.Vocabulary`, recorded in its
provenance) fixes the model's head:

- two classes: one sigmoid output, the probability of the *first* class
  (``P(alive)`` for alive / dead, as always);
- K > 2 classes: a softmax over the K classes, in the vocabulary's order.

Predictions become table columns as Cells tables have them: ``p_alive`` alone for
alive / dead, else one ``p_<class>`` column per class.
"""

from __future__ import annotations

import numpy as np

from cellconsensus.tables import ALIVE_DEAD, Vocabulary

__all__ = ["run_vocabulary", "n_outputs", "class_proba", "probability_columns", "labels_of"]


def run_vocabulary(run: dict) -> Vocabulary:
    """The label set a training run learnt (alive / dead for runs that predate label sets).

    Examples
    --------
    >>> run_vocabulary({"classes": ["a", "b", "c"], "unsure": None}).classes
    ('a', 'b', 'c')
    >>> run_vocabulary({}) == ALIVE_DEAD
    True
    """
    if not run.get("classes"):
        return ALIVE_DEAD
    return Vocabulary(tuple(run["classes"]), run.get("unsure", "unsure"))


def n_outputs(vocabulary: Vocabulary) -> int:
    """Units of the model's last layer: 1 (a sigmoid) for two classes, else K (a softmax).

    Examples
    --------
    >>> n_outputs(ALIVE_DEAD), n_outputs(Vocabulary(("a", "b", "c")))
    (1, 3)
    """
    return 1 if vocabulary.n_classes == 2 else vocabulary.n_classes


def class_proba(p: np.ndarray) -> np.ndarray:
    """``(n, K)`` class probabilities from a model's output (``(n,)`` for two classes:
    the first class's probability).

    Examples
    --------
    >>> class_proba(np.array([0.75, 0.0])).tolist()
    [[0.75, 0.25], [0.0, 1.0]]
    """
    p = np.asarray(p, dtype=float)
    return np.column_stack([p, 1.0 - p]) if p.ndim == 1 else p


def probability_columns(vocabulary: Vocabulary, p: np.ndarray, suffix: str = "") -> dict:
    """Table columns of predictions: ``p_alive`` for alive / dead, else ``p_<class>``
    for every class (each name followed by ``suffix``).

    Examples
    --------
    >>> sorted(probability_columns(ALIVE_DEAD, np.array([0.9]), "_cnn"))
    ['p_alive_cnn']
    >>> probability_columns(Vocabulary(("a", "b")), np.array([0.9]))["p_b"].round(2).tolist()
    [0.1]
    """
    proba = class_proba(p)
    names = vocabulary.classes[:1] if vocabulary.is_alive_dead else vocabulary.classes
    return {f"p_{name}{suffix}": proba[:, k] for k, name in enumerate(names)}


def labels_of(vocabulary: Vocabulary, p: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """The predicted class of each row (``None`` where the prediction is NaN): for two
    classes the first when its probability is above ``threshold``, else the most probable.

    Examples
    --------
    >>> labels_of(ALIVE_DEAD, np.array([0.7, 0.2, np.nan]), threshold=0.5).tolist()
    ['alive', 'dead', None]
    >>> labels_of(Vocabulary(("a", "b", "c")), np.array([[0.2, 0.5, 0.3]])).tolist()
    ['b']
    """
    p = np.asarray(p, dtype=float)
    names = np.asarray(vocabulary.classes, dtype=object)
    if p.ndim == 1:
        index = np.where(p > threshold, 0, 1)
        missing = np.isnan(p)
    else:
        missing = np.isnan(p).any(axis=1)
        index = np.argmax(np.where(missing[:, None], 0.0, p), axis=1)
    return np.where(missing, None, names[index])
