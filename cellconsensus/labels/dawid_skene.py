"""Dawid-Skene with annotator confusions shrunk toward the crowd's pooled confusion."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np

from ..params import Interval, StrOptions
from ..tables.vocabulary import Vocabulary
from ._base import BaseAggregator
from .dawid_skene_classes import ClassMStep, class_e_step, class_m_step, class_statistics
from .dawid_skene_em import N_ANSWERS, MStep, e_step, m_step, statistics, vote_totals
from .mean import MeanAggregator

__all__ = ["DawidSkeneAggregator", "statistics", "m_step", "e_step"]

logger = logging.getLogger(__name__)


class DawidSkeneAggregator(BaseAggregator):
    """Dawid & Skene (1979) with a hierarchical prior: each annotator's confusion is shrunk
    toward the crowd's pooled confusion by a strength learnt from the data.

    True classes are ``alive`` and ``dead``; each annotator answers
    ``alive``, ``dead`` or ``unsure`` according to a 2 x 3 confusion matrix.
    Every annotator's rows have a Dirichlet prior centred on the pooled rows
    (all annotators' expected answers to each class) with ``strength_``
    pseudo-votes, so the estimate is

    ``errors_[w, c, a] = (n[w, c, a] + strength_ * pooled_errors_[c, a]) / (n[w, c] + strength_)``

    with ``n`` the annotator's expected answer counts. An annotator with one
    vote is, in effect, the pooled annotator; a prolific one earns their own
    matrix. With ``shrinkage="auto"`` the strength maximises the
    Dirichlet-multinomial marginal likelihood of the annotators' counts at
    every M-step (empirical Bayes; :func:`~cellconsensus.labels.dawid_skene_em.learn_strength`).

    Three rules keep it right on any crowd shape:

    - only cells with votes from two annotators or more teach the model (a
      lone vote cannot be checked against anyone); every cell gets a
      posterior. On a crowd of one-off runs (the Cell Spotting export: each
      run its own annotator) lone votes would otherwise fit their annotator
      to themselves and EM would drift until single ``dead`` votes read
      ``alive``. A crowd with no such cell has nothing to learn from: the
      mean rule's probabilities are returned.
    - ``unsure`` is an answer with its own pooled rate, never a pseudo-count
      added to every annotator, so it does not dilute the alive/dead evidence.
    - one strength for both classes (see :func:`~cellconsensus.labels.dawid_skene_em.learn_strength`).

    ``shrinkage=0`` is the classic maximum-likelihood Dawid-Skene (as
    crowd-kit's ``DawidSkene``, on the cells with two votes or more). EM
    starts from the mean rule, then alternates the M-step (class prior, pooled
    confusion, strength, annotator confusions) and the E-step (posterior of
    each cell: prior log-odds plus one log-likelihood ratio per vote). A
    posterior of exactly 0.5 gets the label ``unsure`` (with
    ``unsure_margin=0``).

    Parameters
    ----------
    max_iter : int, default 100
        Maximum EM iterations.
    tol : float, default 1e-6
        Stop when no posterior moves by more than this.
    shrinkage : "auto" or float >= 0, default "auto"
        Strength (pseudo-votes) of the pooled confusion in every annotator's
        estimate; ``"auto"`` learns it from the data.
    unsure_margin : float, default 0.0
        Half-width of the ``unsure`` band around 0.5.
    classes : Vocabulary or sequence of str, optional
        The true classes (default: inferred from the votes). For K classes the
        confusions are K x (K + 1) (the classes and ``unsure``) and every rule above
        holds (:mod:`~cellconsensus.labels.dawid_skene_classes`).

    Attributes
    ----------
    probas_ : ndarray of shape (n_tasks,)
        Posterior ``p_alive`` per task (alive / dead vocabulary).
    class_probas_ : ndarray of shape (n_tasks, K)
        Posterior of every class per task.
    priors_ : ndarray of shape (K,)
        Class priors (alive, dead).
    errors_ : ndarray of shape (n_workers, K, K + 1)
        Confusion matrices: ``errors_[w, c, a]`` = P(answer a | class c).
    pooled_errors_ : ndarray of shape (K, K + 1)
        The crowd's pooled confusion matrix.
    strength_ : float
        Pseudo-votes of the pooled confusion in every annotator's estimate.
    n_iter_ : int
        Iterations run.
    converged_ : bool
        False when EM stopped at ``max_iter`` with posteriors still moving by
        more than ``tol`` (logged; slow drifts of 1e-5 per iteration are
        common on weakly informative crowds).

    Examples
    --------
    >>> import pandas as pd
    >>> votes = pd.DataFrame({"task": [0, 0, 0, 1, 1, 1], "worker": [1, 2, 3, 1, 2, 3],
    ...                       "label": ["alive", "alive", "dead", "dead", "dead", "dead"]})
    >>> DawidSkeneAggregator().fit_predict(votes).tolist()
    ['alive', 'dead']
    """

    name = "dawid-skene"
    reduction = "dawid-skene-em"
    _parameter_constraints = {
        **BaseAggregator._parameter_constraints,
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "shrinkage": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
    }

    def __init__(
        self,
        *,
        max_iter: int = 100,
        tol: float = 1e-6,
        shrinkage: float | str = "auto",
        unsure_margin: float = 0.0,
        classes: Vocabulary | Sequence[str] | None = None,
    ) -> None:
        super().__init__(unsure_margin=unsure_margin, classes=classes)
        self.max_iter = max_iter
        self.tol = tol
        self.shrinkage = shrinkage

    def _fit_arrays(self, task, worker, label, n_tasks) -> np.ndarray:
        self.n_iter_, self.converged_ = 0, True
        n_workers = int(worker.max()) + 1 if len(worker) else 0
        p = MeanAggregator()._fit_arrays(task, worker, label, n_tasks)
        informative = np.bincount(task, minlength=n_tasks) >= 2
        column = worker * N_ANSWERS + label
        used = informative[task]
        taught_column, taught_task = column[used], task[used]

        total = vote_totals(taught_column, n_workers)

        def refit(p: np.ndarray, fit: MStep | None) -> MStep:
            llr = None if fit is None else fit.llr_table
            alive, cavity, p_sum, n = statistics(
                taught_column, taught_task, p, informative, n_workers, llr
            )
            return m_step(alive, cavity, total, p_sum, n, self.shrinkage)

        fit = refit(p, None)
        if informative.any():
            p, fit = self._iterate(p, fit, lambda f: e_step(task, column, n_tasks, f), refit)
        # The posteriors are those of the stored model.
        fit.store(self)
        return p

    def _iterate(self, p: np.ndarray, fit, step, refit):
        """EM from the posteriors ``p`` and the model ``fit``: E-step (``step``), then
        M-step (``refit``), until no posterior moves by more than ``tol``."""
        for _ in range(self.max_iter):
            self.n_iter_ += 1
            new = step(fit)
            delta = float(np.abs(new - p).max())
            p = new
            if delta <= self.tol:
                break
            if self.n_iter_ == self.max_iter:
                self.converged_ = False
                logger.info("Dawid-Skene stopped at max_iter=%d, posteriors still moving by "
                            "%.2g (tol=%.2g)", self.max_iter, delta, self.tol)  # fmt: skip
                break
            fit = refit(p, fit)
        return p, fit

    def _fit_classes(self, task, worker, answer, n_tasks, n_classes) -> np.ndarray:
        self.n_iter_, self.converged_ = 0, True
        n_answers = n_classes + 1
        n_workers = int(worker.max()) + 1 if len(worker) else 0
        proba = MeanAggregator()._fit_classes(task, worker, answer, n_tasks, n_classes)
        informative = np.bincount(task, minlength=n_tasks) >= 2
        column = worker * n_answers + answer
        used = informative[task]
        taught_column, taught_task = column[used], task[used]
        size = n_workers * n_answers

        def refit(proba: np.ndarray, fit: ClassMStep | None) -> ClassMStep:
            table = None if fit is None else fit.log_table
            counts, cavity, p_sum, n = class_statistics(
                taught_column, taught_task, proba, informative, size, table
            )
            return class_m_step(counts, cavity, p_sum, n, self.shrinkage)

        fit = refit(proba, None)
        if informative.any():
            proba, fit = self._iterate(
                proba, fit, lambda f: class_e_step(task, column, n_tasks, f), refit
            )
        fit.store(self)
        return proba
