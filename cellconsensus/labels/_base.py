"""Base class of label aggregators and the shared vote-table handling.

Aggregators follow crowd-kit's shape: a small class with ``fit`` /
``fit_predict_proba`` / ``fit_predict`` on a tidy *vote table* with columns
``task`` (a cell), ``worker`` (an annotator) and ``label``. By default the true
classes are ``alive`` and ``dead`` and ``unsure`` is an answer, not a class:
every aggregator yields ``p_alive`` in [0, 1]; the label is ``alive`` above 0.5,
``dead`` below, and ``unsure`` when ``|p_alive - 0.5| <= unsure_margin``.

Any other label set works too (:class:`~cellconsensus.labels.Vocabulary`: given as
``classes=`` or inferred from the votes): :meth:`BaseAggregator.fit_predict_class_proba`
gives one probability per class (a column each, as crowd-kit's ``fit_predict_proba``)
and ``fit_predict`` the most probable class, ``unsure`` when the two most probable
are within ``2 * unsure_margin`` (for two classes: the same band as above).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import ClassVar

import numpy as np
import pandas as pd

from ..errors import CellConsensusInputError
from ..params import BaseParams, Interval
from ..tables import LABEL_DTYPE
from ..tables.vocabulary import ALIVE_DEAD, Vocabulary, as_vocabulary

__all__ = [
    "cell_label_columns",
    "BaseAggregator",
    "label_from_proba",
    "label_from_class_proba",
    "encode_votes",
    "class_counts",
    "normalise_rows",
]

#: Codes of the answers in vote arrays (``label_codes``): alive, dead, unsure.
ALIVE, DEAD, UNSURE = 0, 1, 2


def label_from_proba(p_alive: np.ndarray, unsure_margin: float = 0.0) -> pd.Categorical:
    """Turn ``p_alive`` into labels with an ``unsure`` band around 0.5.

    Examples
    --------
    >>> list(label_from_proba(np.array([0.9, 0.5, 0.45, 0.1]), unsure_margin=0.1))
    ['alive', 'unsure', 'unsure', 'dead']
    """
    p = np.asarray(p_alive, dtype="float64")
    codes = np.where(np.abs(p - 0.5) <= unsure_margin, UNSURE, np.where(p > 0.5, ALIVE, DEAD))
    return pd.Categorical.from_codes(codes, dtype=LABEL_DTYPE)


def label_from_class_proba(
    proba: np.ndarray, vocabulary: Vocabulary, unsure_margin: float = 0.0
) -> pd.Categorical:
    """The most probable class of each row of ``proba`` (n_tasks, K); the vocabulary's
    unsure answer where the two most probable classes are within ``2 * unsure_margin``.

    Examples
    --------
    >>> birds = Vocabulary(("goose", "parrot", "chicken"))
    >>> list(label_from_class_proba(np.array([[0.2, 0.7, 0.1], [0.4, 0.4, 0.2]]), birds))
    ['parrot', 'unsure']
    """
    proba = np.asarray(proba, dtype="float64")
    best = np.argmax(proba, axis=1)
    top = np.sort(proba, axis=1)
    tie = (top[:, -1] - top[:, -2]) <= 2 * unsure_margin
    answers = list(vocabulary.answers)
    unsure = vocabulary.unsure
    if unsure is None:
        unsure, answers = "unsure", [*answers, "unsure"]
    codes = np.where(tie, answers.index(unsure), best)
    return pd.Categorical.from_codes(codes, categories=answers)


def cell_label_columns(
    proba: np.ndarray, vocabulary: Vocabulary, unsure_margin: float = 0.0
) -> tuple[dict[str, np.ndarray], pd.Categorical]:
    """The Cells columns of class probabilities and the label: ``p_alive`` for alive /
    dead (``proba`` its column, or ``(n, 2)``), else ``p_<class>`` per class.

    Examples
    --------
    >>> columns, label = cell_label_columns(np.array([[0.2, 0.7, 0.1]]), Vocabulary(("a", "b", "c")))
    >>> list(columns), list(label)
    (['p_a', 'p_b', 'p_c'], ['b'])
    >>> list(cell_label_columns(np.array([0.9]), ALIVE_DEAD)[0])
    ['p_alive']
    """
    proba = np.asarray(proba, dtype="float64")
    if vocabulary.is_alive_dead:
        p_alive = proba if proba.ndim == 1 else proba[:, 0]
        return {"p_alive": np.clip(p_alive, 0.0, 1.0)}, label_from_proba(p_alive, unsure_margin)
    columns = {f"p_{c}": np.clip(proba[:, k], 0.0, 1.0) for k, c in enumerate(vocabulary.classes)}
    return columns, label_from_class_proba(proba, vocabulary, unsure_margin)


def class_counts(
    task: np.ndarray, answer: np.ndarray, n_tasks: int, n_classes: int, unsure_weight: float
) -> np.ndarray:
    """Votes per (task, class) (n_tasks, K); an unsure answer counts ``unsure_weight`` for
    every class.

    Examples
    --------
    >>> class_counts(np.array([0, 0, 1]), np.array([0, 3, 2]), 2, 3, 0.5).tolist()
    [[1.5, 0.5, 0.5], [0.0, 0.0, 1.0]]
    """
    counts = np.zeros((n_tasks, n_classes))
    sure = answer < n_classes
    np.add.at(counts, (task[sure], answer[sure]), 1.0)
    if unsure_weight:
        counts += (np.bincount(task[~sure], minlength=n_tasks) * unsure_weight)[:, None]
    return counts


def normalise_rows(counts: np.ndarray) -> np.ndarray:
    """Rows divided by their sums; a row of zeros becomes uniform (no evidence).

    Examples
    --------
    >>> normalise_rows(np.array([[1.0, 3.0], [0.0, 0.0]])).tolist()
    [[0.25, 0.75], [0.5, 0.5]]
    """
    total = counts.sum(axis=1, keepdims=True)
    uniform = np.full_like(counts, 1.0 / counts.shape[1])
    return np.divide(counts, total, out=uniform, where=total > 0)


def encode_votes(
    votes: pd.DataFrame, vocabulary: Vocabulary = ALIVE_DEAD
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.Index]:
    """Integer-encode a vote table: task codes, worker codes, answer codes (of
    ``vocabulary``: 0 alive, 1 dead, 2 unsure by default), task index.

    Examples
    --------
    >>> v = pd.DataFrame({"task": ["b", "a"], "worker": [1, 2], "label": ["dead", "alive"]})
    >>> t, w, r, tasks = encode_votes(v)
    >>> t.tolist(), r.tolist(), list(tasks)
    ([1, 0], [1, 0], ['a', 'b'])
    """
    missing = [c for c in ("task", "worker", "label") if c not in votes.columns]
    if missing:
        raise CellConsensusInputError(
            f"vote table lacks column(s) {', '.join(missing)}", source="<votes>"
        )
    codes = vocabulary.encode(votes["label"])
    task_codes, tasks = pd.factorize(votes["task"], sort=True)
    worker_codes, _ = pd.factorize(votes["worker"], sort=True)
    return task_codes.astype(np.int64), worker_codes.astype(np.int64), codes, pd.Index(tasks)


def _int64(*arrays) -> list[np.ndarray]:
    return [np.asarray(a, np.int64) for a in arrays]


class BaseAggregator(BaseParams):
    """Base class: subclasses implement ``_fit_arrays`` returning ``p_alive`` per task.

    Parameters behave as in scikit-learn (:class:`~cellconsensus.params.BaseParams`:
    ``get_params``, ``set_params``, ``clone``, ``repr``, validation when used).

    Parameters
    ----------
    unsure_margin : float, default 0.0
        Half-width of the ``unsure`` band around ``p_alive = 0.5`` (for K classes: the two
        most probable within ``2 * unsure_margin``).
    classes : Vocabulary or sequence of str, optional
        The true classes in order (default: inferred from the votes, ``alive`` / ``dead``
        when those are the labels).
    """

    name: ClassVar[str] = ""
    #: What the model needs to see, which tells the cluster engine how to run it:
    #: ``"per-task"``: a task's ``p_alive`` depends on its own votes only (any partition of
    #: whole tasks labels its own); ``"dawid-skene-em"``: learns across tasks by EM over
    #: sufficient statistics that partitions sum (:mod:`cellconsensus.distributed`);
    #: ``"global"``: needs every vote in one process (no cluster implementation).
    reduction: ClassVar[str] = "per-task"
    _parameter_constraints: ClassVar[dict[str, list]] = {
        "unsure_margin": [Interval(Real, 0, 0.5, closed="both")],
        "classes": [None, Vocabulary, tuple, list],
    }

    def __init__(
        self, *, unsure_margin: float = 0.0, classes: Vocabulary | Sequence[str] | None = None
    ) -> None:
        self.unsure_margin = unsure_margin
        self.classes = classes

    def fit_arrays(
        self, task: np.ndarray, worker: np.ndarray, label: np.ndarray, n_tasks: int
    ) -> np.ndarray:
        """Fit on integer-coded votes; return ``p_alive`` for tasks ``0 .. n_tasks-1``.

        ``label`` codes are 0 alive, 1 dead, 2 unsure. Used by the consensus
        engine; :meth:`fit` is the DataFrame front end.
        """
        self._validate_params()
        p = self._fit_arrays(*_int64(task, worker, label), int(n_tasks))
        self.probas_ = p
        return p

    def _fit_arrays(self, task, worker, label, n_tasks) -> np.ndarray:
        raise NotImplementedError

    def fit_classes(
        self, task: np.ndarray, worker: np.ndarray, answer: np.ndarray, n_tasks: int, n_classes: int
    ) -> np.ndarray:
        """Fit on integer-coded votes of K classes; return P(class) (n_tasks, K).

        ``answer`` codes are ``0 .. K-1`` the classes, ``K`` the unsure answer. For the
        alive / dead vocabulary, column 0 agrees with :meth:`fit_arrays`' ``p_alive``
        (to rounding; :meth:`fit` uses ``fit_arrays`` there).
        """
        self._validate_params()
        proba = self._fit_classes(*_int64(task, worker, answer), int(n_tasks), int(n_classes))
        self.class_probas_ = proba
        return proba

    def _fit_classes(self, task, worker, answer, n_tasks, n_classes) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no model for K classes")

    def fit(self, votes: pd.DataFrame) -> BaseAggregator:
        """Fit on a vote table (columns ``task``, ``worker``, ``label``).

        Sets ``vocabulary_`` (the classes), ``tasks_``, ``class_probas_`` (n_tasks, K)
        and, for the alive / dead vocabulary, ``probas_`` (``p_alive``).
        """
        labels = votes["label"] if "label" in votes.columns else []
        vocabulary = as_vocabulary(self.classes, labels)
        self.vocabulary_ = vocabulary
        task, worker, answer, tasks = encode_votes(votes, vocabulary)
        if vocabulary.is_alive_dead:
            p = self.fit_arrays(task, worker, answer, len(tasks))
            self.class_probas_ = np.column_stack([p, 1.0 - p])
        else:
            self.fit_classes(task, worker, answer, len(tasks), vocabulary.n_classes)
            self.probas_ = None
        self.tasks_ = pd.Index(tasks)
        return self

    def fit_predict_proba(self, votes: pd.DataFrame) -> pd.Series:
        """Fit and return ``p_alive`` per task (a Series indexed by task); for another
        vocabulary, use :meth:`fit_predict_class_proba`."""
        self.fit(votes)
        if not self.vocabulary_.is_alive_dead:
            raise CellConsensusInputError(
                f"p_alive needs the alive / dead classes, these are "
                f"{', '.join(self.vocabulary_.classes)}: use fit_predict_class_proba",
                source="<votes>",
            )
        return pd.Series(self.probas_, index=self.tasks_, name="p_alive")

    def fit_predict_class_proba(self, votes: pd.DataFrame) -> pd.DataFrame:
        """Fit and return the probability of every class per task: a DataFrame indexed by
        task with one column per class (as crowd-kit's ``fit_predict_proba``).

        Examples
        --------
        >>> from cellconsensus.labels import MajorityAggregator
        >>> votes = pd.DataFrame({"task": [0, 0, 0], "worker": [1, 2, 3],
        ...                       "label": ["goose", "goose", "parrot"]})
        >>> MajorityAggregator().fit_predict_class_proba(votes).round(3).to_dict("records")
        [{'goose': 0.667, 'parrot': 0.333}]
        """
        self.fit(votes)
        table = pd.DataFrame(self.class_probas_, index=self.tasks_,
                             columns=pd.Index(self.vocabulary_.classes, name="label"))  # fmt: skip
        table.index.name = "task"
        return table

    def fit_predict(self, votes: pd.DataFrame) -> pd.Series:
        """Fit and return the label per task (a categorical Series indexed by task)."""
        self.fit(votes)
        if self.vocabulary_.is_alive_dead:
            labels = label_from_proba(self.probas_, self.unsure_margin)
        else:
            labels = label_from_class_proba(
                self.class_probas_, self.vocabulary_, self.unsure_margin
            )
        return pd.Series(labels, index=self.tasks_, name="label")
