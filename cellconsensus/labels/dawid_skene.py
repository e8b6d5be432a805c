"""Dawid-Skene: EM over per-annotator confusion matrices, across all images."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy.sparse import csr_matrix
from scipy.special import expit

from ..strategies._validation import Interval
from ._base import BaseAggregator
from .mean import MeanAggregator

__all__ = ["DawidSkeneAggregator"]

N_CLASSES = 2  # true classes: alive, dead
N_ANSWERS = 3  # answers: alive, dead, unsure


class DawidSkeneAggregator(BaseAggregator):
    """Dawid & Skene (1979): learn each annotator's confusion matrix and the cells' labels jointly.

    True classes are ``alive`` and ``dead``; each annotator answers
    ``alive``, ``dead`` or ``unsure`` according to a 2 x 3 confusion matrix.
    EM starts from the mean rule, then alternates the M-step (class priors and
    confusion matrices, with ``smoothing`` pseudo-counts) and the E-step
    (posterior of each cell's class). With two classes the E-step is one
    log-likelihood ratio per (annotator, answer), summed per cell. The vote
    counts are one sparse (cell x annotator-answer) matrix built once, so each
    EM iteration is two sparse products. When the data has no annotator ids,
    readers make each run its own annotator.

    Parameters
    ----------
    max_iter : int, default 100
        Maximum EM iterations.
    tol : float, default 1e-6
        Stop when no posterior moves by more than this.
    smoothing : float, default 0.01
        Dirichlet pseudo-count added to every confusion-matrix cell, so that an
        annotator with few votes never gets a probability of exactly 0.
    unsure_margin : float, default 0.0
        Half-width of the ``unsure`` band around 0.5.

    Attributes
    ----------
    probas_ : ndarray of shape (n_tasks,)
        Posterior ``p_alive`` per task.
    priors_ : ndarray of shape (2,)
        Class priors (alive, dead).
    errors_ : ndarray of shape (n_workers, 2, 3)
        Confusion matrices: ``errors_[w, c, a]`` = P(answer a | class c).
    n_iter_ : int
        Iterations run.

    Examples
    --------
    >>> import pandas as pd
    >>> votes = pd.DataFrame({"task": [0, 0, 0, 1, 1, 1], "worker": [1, 2, 3, 1, 2, 3],
    ...                       "label": ["alive", "alive", "dead", "dead", "dead", "dead"]})
    >>> DawidSkeneAggregator().fit_predict(votes).tolist()
    ['alive', 'dead']
    """

    name = "dawid-skene"
    per_task = False
    _parameter_constraints = {
        **BaseAggregator._parameter_constraints,
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "smoothing": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        max_iter: int = 100,
        tol: float = 1e-6,
        smoothing: float = 0.01,
        unsure_margin: float = 0.0,
    ) -> None:
        super().__init__(unsure_margin=unsure_margin)
        self.max_iter = max_iter
        self.tol = tol
        self.smoothing = smoothing

    def _fit_arrays(self, task, worker, label, n_tasks) -> np.ndarray:
        if n_tasks == 0:
            self.n_iter_, self.priors_, self.errors_ = (
                0,
                np.full(N_CLASSES, 0.5),
                np.zeros((0, N_CLASSES, N_ANSWERS)),
            )
            return np.zeros(0)
        n_workers = int(worker.max()) + 1
        p = MeanAggregator()._fit_arrays(task, worker, label, n_tasks)
        # Vote counts per (task, (worker, answer)), built once: both EM steps are
        # then one sparse product each.
        votes = vote_matrix(task, worker, label, n_tasks, n_workers)
        votes_t = votes.T.tocsr()
        total = np.asarray(votes.sum(axis=0)).ravel()
        self.n_iter_ = 0
        for _ in range(self.max_iter):
            self.n_iter_ += 1
            prior, errors = m_step(votes_t @ p, total, p.sum(), len(p), self.smoothing)
            new = e_step(votes, prior, errors)
            delta = float(np.abs(new - p).max())
            p = new
            if delta <= self.tol:
                break
        self.priors_ = np.array([prior, 1 - prior])
        self.errors_ = errors
        return p


# The two EM steps as functions of sufficient statistics, so that the same arithmetic runs
# on one machine (above) and across the partitions of a cluster
# (:mod:`cellconsensus.distributed`, which sums the statistics over workers).


def vote_matrix(task, worker, label, n_tasks: int, n_workers: int) -> csr_matrix:
    """Sparse vote counts: rows tasks, columns ``worker * 3 + answer``."""
    return csr_matrix(
        (np.ones(len(task)), (task, worker * N_ANSWERS + label)),
        shape=(n_tasks, n_workers * N_ANSWERS),
    )


def m_step(
    alive: np.ndarray, total: np.ndarray, p_sum: float, n_tasks: int, smoothing: float
) -> tuple[float, np.ndarray]:
    """Class prior and confusion matrices from the expected counts.

    Parameters
    ----------
    alive : ndarray (n_workers * 3,)
        Expected votes per (worker, answer) on alive cells: ``votes.T @ p_alive``.
    total : ndarray (n_workers * 3,)
        All votes per (worker, answer).
    p_sum, n_tasks : float, int
        Sum of ``p_alive`` over the tasks, and their number.
    smoothing : float
        Dirichlet pseudo-count.

    Returns
    -------
    prior : float
        P(alive).
    errors : ndarray (n_workers, 2, 3)
        ``errors[w, c, a]`` = P(answer a | class c).
    """
    prior = float(np.clip(p_sum / n_tasks, 1e-6, 1 - 1e-6))
    # With two classes, the dead counts are the totals minus the alive ones.
    dead = np.maximum(total - alive, 0.0)
    errors = np.stack([alive, dead], axis=1).reshape(-1, N_ANSWERS, N_CLASSES)
    errors = errors.transpose(0, 2, 1) + smoothing
    errors /= errors.sum(axis=2, keepdims=True)
    return prior, errors


def e_step(votes: csr_matrix, prior: float, errors: np.ndarray) -> np.ndarray:
    """Posterior ``p_alive``: prior log-odds plus the sum of the votes' log-likelihood ratios."""
    log_err = np.log(np.clip(errors, 1e-300, None))
    llr = (log_err[:, 0, :] - log_err[:, 1, :]).ravel()
    return expit(np.log(prior / (1 - prior)) + votes @ llr)
