"""Base class of label aggregators and the shared vote-table handling.

Aggregators follow crowd-kit's shape: a small class with ``fit`` /
``fit_predict_proba`` / ``fit_predict`` on a tidy *vote table* with columns
``task`` (a cell), ``worker`` (an annotator) and ``label`` (``alive``,
``dead`` or ``unsure``). True classes are ``alive`` and ``dead``; ``unsure``
is an answer, not a class. Every aggregator yields ``p_alive`` in [0, 1];
the label is ``alive`` above 0.5, ``dead`` below, and ``unsure`` when
``|p_alive - 0.5| <= unsure_margin``.
"""

from __future__ import annotations

from numbers import Real
from typing import ClassVar

import numpy as np
import pandas as pd

from ..errors import CellConsensusInputError
from ..params import BaseParams, Interval
from ..tables import LABEL_DTYPE, label_codes

__all__ = ["BaseAggregator", "label_from_proba", "encode_votes"]

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


def encode_votes(votes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.Index]:
    """Integer-encode a vote table: task codes, worker codes, label codes, task index.

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
    codes = label_codes(votes["label"])
    bad = codes < 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CellConsensusInputError(
            f"unknown label {votes['label'].iloc[i]!r}",
            source="<votes>",
            row=f"row {i + 1}",
            field="label",
        )
    task_codes, tasks = pd.factorize(votes["task"], sort=True)
    worker_codes, _ = pd.factorize(votes["worker"], sort=True)
    return (
        task_codes.astype(np.int64),
        worker_codes.astype(np.int64),
        codes.astype(np.int64),
        pd.Index(tasks),
    )


class BaseAggregator(BaseParams):
    """Base class: subclasses implement ``_fit_arrays`` returning ``p_alive`` per task.

    Parameters behave as in scikit-learn (:class:`~cellconsensus.params.BaseParams`:
    ``get_params``, ``set_params``, ``clone``, ``repr``, validation when used).

    Parameters
    ----------
    unsure_margin : float, default 0.0
        Half-width of the ``unsure`` band around ``p_alive = 0.5``.
    """

    name: ClassVar[str] = ""
    #: What the model needs to see, which tells the cluster engine how to run it:
    #: ``"per-task"``: a task's ``p_alive`` depends on its own votes only (any partition of
    #: whole tasks labels its own); ``"dawid-skene-em"``: learns across tasks by EM over
    #: sufficient statistics that partitions sum (:mod:`cellconsensus.distributed`);
    #: ``"global"``: needs every vote in one process (no cluster implementation).
    reduction: ClassVar[str] = "per-task"
    _parameter_constraints: ClassVar[dict[str, list]] = {
        "unsure_margin": [Interval(Real, 0, 0.5, closed="both")]
    }

    def __init__(self, *, unsure_margin: float = 0.0) -> None:
        self.unsure_margin = unsure_margin

    def fit_arrays(
        self, task: np.ndarray, worker: np.ndarray, label: np.ndarray, n_tasks: int
    ) -> np.ndarray:
        """Fit on integer-coded votes; return ``p_alive`` for tasks ``0 .. n_tasks-1``.

        ``label`` codes are 0 alive, 1 dead, 2 unsure. Used by the consensus
        engine; :meth:`fit` is the DataFrame front end.
        """
        self._validate_params()
        p = self._fit_arrays(
            np.asarray(task, np.int64),
            np.asarray(worker, np.int64),
            np.asarray(label, np.int64),
            int(n_tasks),
        )
        self.probas_ = p
        return p

    def _fit_arrays(self, task, worker, label, n_tasks) -> np.ndarray:
        raise NotImplementedError

    def fit(self, votes: pd.DataFrame) -> BaseAggregator:
        """Fit on a vote table (columns ``task``, ``worker``, ``label``)."""
        task, worker, label, tasks = encode_votes(votes)
        self.fit_arrays(task, worker, label, len(tasks))
        self.tasks_ = tasks
        return self

    def fit_predict_proba(self, votes: pd.DataFrame) -> pd.Series:
        """Fit and return ``p_alive`` per task (a Series indexed by task)."""
        self.fit(votes)
        return pd.Series(self.probas_, index=self.tasks_, name="p_alive")

    def fit_predict(self, votes: pd.DataFrame) -> pd.Series:
        """Fit and return the label per task (a categorical Series indexed by task)."""
        p = self.fit_predict_proba(votes)
        return pd.Series(
            label_from_proba(p.to_numpy(), self.unsure_margin), index=p.index, name="label"
        )
