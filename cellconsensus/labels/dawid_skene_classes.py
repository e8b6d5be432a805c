"""Dawid-Skene's EM steps for K classes (K x (K + 1) confusions: the classes and unsure).

The same model and the same rules as the two-class steps of
:mod:`~cellconsensus.labels.dawid_skene_em` (which the alive / dead vocabulary
keeps, as its fast path): only cells with two votes or more teach the model, EM
starts from the mean rule, every annotator's confusion is shrunk toward the
crowd's pooled one by a strength learnt from the cavity counts, the pooled
confusion is not adversarial, and ``unsure`` is an answer with its own rate. Here
a posterior is a vector: the prior's log plus each vote's log-likelihood under
every class, normalised. For two classes the numbers agree with the two-class
steps to rounding (a property test holds them to it).
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from .dawid_skene_em import MStep, pool

__all__ = ["ClassMStep", "class_statistics", "class_m_step", "class_e_step"]


class ClassMStep(MStep):
    """The M-step's estimates for K classes: ``prior`` is a vector (K,)."""

    @property
    def log_table(self) -> np.ndarray:
        """log P(answer | class) of every (worker, answer), rows at ``worker * (K + 1) + answer``."""
        log_err = np.log(np.clip(self.errors, 1e-300, None))  # (workers, K, answers)
        return log_err.transpose(0, 2, 1).reshape(-1, log_err.shape[1])

    def store(self, aggregator) -> None:
        aggregator.priors_ = self.prior
        aggregator.pooled_errors_ = self.pooled
        aggregator.strength_ = self.strength
        aggregator.errors_ = self.errors


def _by_class(table: np.ndarray, n_answers: int) -> np.ndarray:
    """(n_workers * answers, K) -> (n_workers, K, answers)."""
    return table.reshape(-1, n_answers, table.shape[1]).transpose(0, 2, 1)


def class_statistics(
    column: np.ndarray,
    task: np.ndarray,
    proba: np.ndarray,
    informative: np.ndarray,
    size: int,
    log_table: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Expected votes per (worker, answer) and class, with and without each vote's own
    evidence (the cavity counts), and the summed posteriors of the informative cells.

    Parameters
    ----------
    column, task : ndarray
        Votes on informative cells: ``worker * (K + 1) + answer``, and their cell.
    proba : ndarray (n_tasks, K)
        Current posteriors.
    informative : ndarray of bool (n_tasks,)
        Cells with two votes or more.
    size : int
        ``n_workers * (K + 1)``.
    log_table : ndarray (size, K), optional
        :attr:`ClassMStep.log_table` of the model that gave ``proba`` (None: the cavity
        counts are the plain ones).

    Examples
    --------
    >>> counts, cavity, p_sum, n = class_statistics(
    ...     np.array([0, 4]), np.array([0, 0]), np.array([[0.8, 0.2]]), np.array([True]), 6)
    >>> counts.tolist(), p_sum.tolist(), n
    ([[0.8, 0.2], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.8, 0.2], [0.0, 0.0]], [0.8, 0.2], 1)
    """
    n_classes = proba.shape[1]
    weights = proba[task]
    counts = np.stack(
        [np.bincount(column, weights=weights[:, c], minlength=size) for c in range(n_classes)],
        axis=1,
    )
    if log_table is None:
        cavity = counts
    else:
        # The posterior without the vote: divided by the vote's likelihood, normalised.
        log_w = np.log(np.clip(weights, 1e-300, None)) - log_table[column]
        without = np.exp(log_w - logsumexp(log_w, axis=1, keepdims=True))
        cavity = np.stack(
            [np.bincount(column, weights=without[:, c], minlength=size) for c in range(n_classes)],
            axis=1,
        )
    return counts, cavity, proba[informative].sum(axis=0), int(informative.sum())


def class_m_step(
    counts: np.ndarray,
    cavity: np.ndarray,
    p_sum: np.ndarray,
    n_tasks: int,
    shrinkage: float | str,
) -> ClassMStep:
    """Class prior, pooled confusion, strength and annotator counts for K classes.

    Examples
    --------
    >>> counts = np.array([[2.0, 0, 0], [0, 2.0, 0], [0, 0, 2.0], [0, 0, 0]] * 2)
    >>> fit = class_m_step(counts, counts, np.array([2.0, 2, 2]), 6, 0.0)
    >>> fit.errors.shape, fit.errors[0].argmax(axis=1).tolist()
    ((2, 3, 4), [0, 1, 2])
    """
    n_classes = counts.shape[1]
    n_answers = n_classes + 1
    prior = np.clip(p_sum / n_tasks, 1e-6, None) if n_tasks else np.ones(n_classes)
    prior = prior / prior.sum()
    by_class = _by_class(counts, n_answers)
    pooled, strength = pool(by_class, lambda: _by_class(cavity, n_answers), shrinkage)
    return ClassMStep(prior, pooled, strength, by_class)


def class_e_step(task: np.ndarray, column: np.ndarray, n_tasks: int, fit: ClassMStep) -> np.ndarray:
    """Posteriors (n_tasks, K): log prior plus each vote's log-likelihood, normalised.

    Examples
    --------
    >>> counts = np.array([[2.0, 0, 0], [0, 2.0, 0], [0, 0, 2.0], [0, 0, 0]])
    >>> fit = class_m_step(counts, counts, np.array([1.0, 1, 1]), 3, 0.0)
    >>> class_e_step(np.array([0]), np.array([1]), 1, fit).argmax(axis=1).tolist()
    [1]
    """
    table = fit.log_table
    scores = np.stack(
        [np.bincount(task, weights=table[column, c], minlength=n_tasks)
         for c in range(table.shape[1])],
        axis=1,
    ) + np.log(fit.prior)  # fmt: skip
    return np.exp(scores - logsumexp(scores, axis=1, keepdims=True))
