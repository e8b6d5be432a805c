"""The thesis' rule: the mean of alive = 1, dead = 0, unsure = 0.5."""

from __future__ import annotations

import numpy as np

from ..tables import LABEL_VALUES, LABELS
from ._base import BaseAggregator, class_counts, normalise_rows

__all__ = ["MeanAggregator"]

_VALUES = np.array([LABEL_VALUES[name] for name in LABELS])


class MeanAggregator(BaseAggregator):
    """``p_alive`` = mean of the votes with alive 1, dead 0, unsure 0.5 (the thesis' rule).

    For K classes: each class's share of the votes, an unsure vote counting 1/K for
    every class (for alive / dead: the same numbers).

    Parameters
    ----------
    unsure_margin : float, default 0.0
        Half-width of the ``unsure`` band around 0.5.
    classes : Vocabulary or sequence of str, optional
        The true classes (default: inferred from the votes).

    Attributes
    ----------
    probas_ : ndarray
        ``p_alive`` per task after ``fit``.

    Examples
    --------
    >>> import pandas as pd
    >>> votes = pd.DataFrame({"task": [0, 0, 0, 1], "worker": [1, 2, 3, 1],
    ...                       "label": ["alive", "alive", "unsure", "dead"]})
    >>> MeanAggregator().fit_predict_proba(votes).round(3).tolist()
    [0.833, 0.0]
    """

    name = "mean"

    def _fit_arrays(self, task, worker, label, n_tasks) -> np.ndarray:
        total = np.bincount(task, weights=_VALUES[label], minlength=n_tasks)
        count = np.bincount(task, minlength=n_tasks)
        return np.divide(total, count, out=np.full(n_tasks, 0.5), where=count > 0)

    def _fit_classes(self, task, worker, answer, n_tasks, n_classes) -> np.ndarray:
        return normalise_rows(class_counts(task, answer, n_tasks, n_classes, 1.0 / n_classes))
