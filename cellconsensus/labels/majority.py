"""Majority vote between alive and dead; unsure votes abstain."""

from __future__ import annotations

import numpy as np

from ._base import ALIVE, DEAD, BaseAggregator, class_counts, normalise_rows

__all__ = ["MajorityAggregator"]


class MajorityAggregator(BaseAggregator):
    """``p_alive`` = alive votes / (alive + dead votes); ``unsure`` votes abstain.

    The label is the majority; a tie (or only ``unsure`` votes) gives
    ``p_alive = 0.5`` and the label ``unsure``. For K classes: each class's share of
    the decided votes (uniform without any), as crowd-kit's ``MajorityVote``.

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
    >>> votes = pd.DataFrame({"task": [0, 0, 0, 1, 1], "worker": [1, 2, 3, 1, 2],
    ...                       "label": ["alive", "dead", "alive", "dead", "alive"]})
    >>> MajorityAggregator().fit_predict(votes).tolist()
    ['alive', 'unsure']
    """

    name = "majority"

    def _fit_arrays(self, task, worker, label, n_tasks) -> np.ndarray:
        alive = np.bincount(task[label == ALIVE], minlength=n_tasks)
        dead = np.bincount(task[label == DEAD], minlength=n_tasks)
        decided = alive + dead
        return np.divide(alive, decided, out=np.full(n_tasks, 0.5), where=decided > 0)

    def _fit_classes(self, task, worker, answer, n_tasks, n_classes) -> np.ndarray:
        return normalise_rows(class_counts(task, answer, n_tasks, n_classes, 0.0))
