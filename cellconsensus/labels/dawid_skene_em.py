"""Dawid-Skene's EM steps as functions of sufficient statistics.

The same arithmetic runs on one machine
(:class:`~cellconsensus.labels.DawidSkeneAggregator`) and across the partitions
of a cluster (:mod:`cellconsensus.distributed`, which sums the statistics over
workers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, gammaln

if TYPE_CHECKING:
    from .dawid_skene import DawidSkeneAggregator

__all__ = [
    "vote_totals",
    "statistics",
    "MStep",
    "m_step",
    "pool",
    "not_adversarial",
    "learn_strength",
    "e_step",
]

N_CLASSES = 2  # true classes: alive, dead
N_ANSWERS = 3  # answers: alive, dead, unsure
#: Pseudo-votes of the pooled confusion's own prior, per row: spread like all answers, and
#: on the right answer (see :func:`m_step`).
POOLED_PRIOR = (1.0, 0.005)
#: Range searched for the learnt strength (pseudo-votes of the pooled confusion).
STRENGTH_RANGE = (1e-2, 1e6)
#: Log-likelihood per annotator that pooling may cost per unit of log strength.
PREFER_POOLING = 1e-6


def vote_totals(column: np.ndarray, n_workers: int) -> np.ndarray:
    """All votes per (worker, answer): fixed through EM, counted once.

    Examples
    --------
    >>> vote_totals(np.array([0, 4, 4]), 2).tolist()
    [1.0, 0.0, 0.0, 0.0, 2.0, 0.0]
    """
    return np.bincount(column, minlength=n_workers * N_ANSWERS).astype("float64")


def statistics(
    column: np.ndarray,
    task: np.ndarray,
    p: np.ndarray,
    informative: np.ndarray,
    n_workers: int,
    llr_table: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """The M-step's sufficient statistics, from the ``informative`` cells (two votes or more).

    A lone vote cannot be checked against anyone: it gets a posterior but
    teaches the model nothing (else EM drifts, fitting one-off annotators to
    their own answers).

    Besides the expected counts, the *cavity* counts weigh each vote by its
    cell's posterior without that vote (odds ``p / (1 - p)`` divided by the
    vote's likelihood ratio): how the annotator agrees with the others. The
    strength of pooling is learnt from them; learnt from the plain counts,
    where each annotator's own vote is a third or half of the evidence on a
    cell of 2-3 votes, every annotator looks like the consensus and EM stays
    in the pooled model even on a crowd of adversarial annotators.

    Parameters
    ----------
    column, task : ndarray
        The votes on informative cells: ``worker * 3 + answer``, and their cell.
    p : ndarray (n_tasks,)
        Current ``p_alive`` of every cell.
    informative : ndarray of bool (n_tasks,)
        Cells with two votes or more.
    n_workers : int
        Annotator codes are ``0 .. n_workers - 1``.
    llr_table : ndarray (n_workers * 3,), optional
        Log-likelihood ratio (alive : dead) of each (worker, answer) under the
        model that gave ``p`` (:attr:`MStep.llr_table`); ``None`` when ``p``
        comes from no model (the mean rule EM starts from): the cavity counts
        are the plain ones.

    Returns
    -------
    alive, cavity : ndarray (n_workers * 3,)
        Expected votes on alive cells, and the same without each vote's own
        evidence, per (worker, answer).
    p_sum : float
        Sum of ``p_alive`` over the informative cells.
    n_tasks : int
        Their number.

    Examples
    --------
    >>> informative = np.array([True, False])
    >>> alive, cavity, p_sum, n = statistics(
    ...     np.array([0, 4]), np.array([0, 0]), np.array([0.8, 1.0]), informative, 2,
    ...     llr_table=np.log([2.0, 1, 1, 1, 1, 1]))
    >>> alive.tolist(), cavity.round(3).tolist(), p_sum, n
    ([0.8, 0.0, 0.0, 0.0, 0.8, 0.0], [0.667, 0.0, 0.0, 0.0, 0.8, 0.0], 0.8, 1)
    """
    size = n_workers * N_ANSWERS
    p_vote = p[task]
    alive = np.bincount(column, weights=p_vote, minlength=size)
    if llr_table is None:
        cavity = alive
    else:
        # Odds without the vote: p / (1 - p) / ratio, as a probability. The table holds
        # |llr| <= 690 (errors are clipped at 1e-300), so its exponential stays finite, and
        # the clipped p keeps the denominator positive.
        p_vote = np.clip(p_vote, 1e-15, 1 - 1e-15)
        ratio = np.exp(llr_table)[column]
        cavity = np.bincount(
            column, weights=p_vote / (p_vote + (1 - p_vote) * ratio), minlength=size
        )
    return alive, cavity, float(p[informative].sum()), int(informative.sum())


class MStep:
    """The M-step's estimates: prior, pooled confusion, strength, annotator counts."""

    def __init__(self, prior: float, pooled: np.ndarray, strength: float, counts: np.ndarray):
        self.prior, self.pooled, self.strength, self.counts = prior, pooled, strength, counts

    @property
    def errors(self) -> np.ndarray:
        """Annotator confusions ``(counts + strength * pooled) / (row total + strength)``."""
        s = self.strength
        denominator = self.counts.sum(axis=2, keepdims=True) + s
        return np.divide(
            self.counts + s * self.pooled[None],
            denominator,
            out=np.broadcast_to(self.pooled, self.counts.shape).copy(),
            where=denominator > 0,
        )

    @property
    def llr_table(self) -> np.ndarray:
        """Log-likelihood ratio alive : dead of every (worker, answer), at ``worker * 3 + answer``."""
        log_err = np.log(np.clip(self.errors, 1e-300, None))
        return (log_err[:, 0, :] - log_err[:, 1, :]).ravel()

    def store(self, aggregator: DawidSkeneAggregator) -> None:
        """Set the aggregator's fitted attributes."""
        aggregator.priors_ = np.array([self.prior, 1 - self.prior])
        aggregator.pooled_errors_ = self.pooled
        aggregator.strength_ = self.strength
        aggregator.errors_ = self.errors


def m_step(
    alive: np.ndarray,
    cavity: np.ndarray,
    total: np.ndarray,
    p_sum: float,
    n_tasks: int,
    shrinkage: float | str,
) -> MStep:
    """Class prior, pooled confusion and strength from expected counts.

    Parameters
    ----------
    alive, cavity, total : ndarray (n_workers * 3,)
        Expected votes on alive cells (with and without each vote's own
        evidence) and all votes per (worker, answer), see :func:`statistics` and
        :func:`vote_totals`.
    p_sum, n_tasks : float, int
        Sum of ``p_alive`` over the cells that teach the model, and their number.
    shrinkage : "auto" or float
        Strength of the pooled confusion (``"auto"``: learnt from the cavity counts).

    Returns
    -------
    MStep
        ``prior`` (P(alive)), ``pooled`` (2, 3), ``strength`` (2,), ``counts``
        (n_workers, 2, 3) and ``errors`` with ``errors[w, c, a]`` = P(answer a | class c).

    Examples
    --------
    >>> alive = np.array([2.0, 0, 0, 1, 0, 0])
    >>> fit = m_step(alive, alive, np.array([2.0, 1, 0, 1, 1, 0]), 1.5, 2, 0.0)
    >>> fit.errors.round(2).tolist()
    [[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]
    """
    prior = float(np.clip(p_sum / n_tasks, 1e-6, 1 - 1e-6)) if n_tasks else 0.5
    counts = _by_class(alive, total)
    pooled, strength = pool(counts, lambda: _by_class(cavity, total), shrinkage)
    return MStep(prior, pooled, strength, counts)


def pool(counts: np.ndarray, cavity, shrinkage: float | str) -> tuple[np.ndarray, float]:
    """The pooled confusion and the strength of pooling, from the annotators' expected
    counts (n_workers, K, K + 1); ``cavity`` gives the cavity counts (called only to learn
    the strength). Shared by the two-class and the K-class M-steps.

    Examples
    --------
    >>> counts = np.array([[[9.0, 1.0, 0.0], [1.0, 9.0, 0.0]]] * 3)
    >>> pooled, strength = pool(counts, lambda: counts, 0.0)
    >>> pooled.round(2).tolist(), strength
    ([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0]], 0.0)
    """
    n_classes, n_answers = counts.shape[1:]
    pooled_counts = counts.sum(axis=0)
    # The pooled rows' own prior (POOLED_PRIOR pseudo-votes per row):
    # - one vote spread like all the answers ("votes may tell nothing"): on a small crowd it
    #   keeps EM from purifying a row (P(dead answer | alive) -> 0, after which one dead vote
    #   outweighs any number of alive ones); it leaves a crowd whose votes do tell nothing
    #   exactly there (crowd-kit's "overlap" crowd stays at p = 2/3);
    # - a whisper on the right answer, which decides only a row no vote falls in ("annotators
    #   are more often right than wrong", Dawid-Skene's usual identifying assumption).
    overall = (pooled_counts.sum(axis=0) + 1e-12) / (pooled_counts.sum() + n_answers * 1e-12)
    uninformative, right = POOLED_PRIOR
    prior_votes = uninformative * overall + right * np.eye(n_classes, n_answers)
    pooled = not_adversarial(pooled_counts + prior_votes)
    # ``unsure`` (the last answer) when nobody gave it on a cell that teaches the model says
    # nothing of the class.
    if pooled_counts[:, -1].sum() == 0:
        pooled[:, -1] = pooled[:, -1].min()
    strength = learn_strength(cavity(), pooled) if shrinkage == "auto" else float(shrinkage)
    return pooled, strength


def not_adversarial(counts: np.ndarray) -> np.ndarray:
    """The pooled confusion from its (2, 3) counts, constrained so that the crowd as a whole
    is not adversarial: an ``alive`` answer is at least as likely from an alive cell as from
    a dead one, and the same for ``dead`` (for K classes, (K, K + 1) counts: answer k is at
    least as likely from class k as from any other class).

    Unconstrained, EM on a small or uninformative crowd can settle where the classes differ
    only by who says ``unsure`` and a ``dead`` vote counts for alive (an agreeing vote then
    lowers its class). Where an answer breaks the constraint, its rate is shared by both
    rows; this is the maximum-likelihood estimate under the constraint (the other answers
    keep their proportions in each row). Individual annotators may still be adversarial.

    Examples
    --------
    >>> not_adversarial(np.array([[8.0, 2.0, 0.0], [3.0, 6.0, 1.0]])).round(2).tolist()
    [[0.8, 0.2, 0.0], [0.3, 0.6, 0.1]]
    >>> not_adversarial(np.array([[4.0, 5.0, 1.0], [3.0, 4.0, 3.0]])).round(3).tolist()
    [[0.44, 0.45, 0.11], [0.275, 0.45, 0.275]]
    """
    rows = counts.sum(axis=1, keepdims=True)
    rates = counts / rows
    n_classes, n_answers = counts.shape
    shared = np.zeros(n_answers, dtype=bool)
    for answer in range(n_classes):  # answer k is evidence for class k (alive 0, dead 1)
        others = np.delete(rates[:, answer], answer)
        shared[answer] = rates[answer, answer] < others.max()
    if not shared.any():
        return rates
    t = counts[:, shared].sum(axis=0) / rows.sum()
    rest = counts[:, ~shared]
    out = np.empty_like(rates)
    out[:, shared] = t
    kept = rest.sum(axis=1, keepdims=True)
    out[:, ~shared] = (1.0 - t.sum()) * np.divide(
        rest, kept, out=np.zeros_like(rest), where=kept > 0
    )
    return out


def _by_class(alive: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Counts (n_workers, 2, 3) from alive and total votes per (worker, answer)."""
    dead = np.maximum(total - alive, 0.0)  # two classes: dead = total - alive
    return np.stack([alive, dead], axis=1).reshape(-1, N_ANSWERS, N_CLASSES).transpose(0, 2, 1)


def learn_strength(counts: np.ndarray, pooled: np.ndarray) -> float:
    """Strength ``s`` maximising the Dirichlet-multinomial likelihood of the annotators' counts.

    Each annotator's answers to true class ``c`` are modelled as drawn from a
    Dirichlet(``s * pooled[c]``) row, one ``s`` for both classes (per-class
    strengths let one class become a catch-all for disagreements, and EM
    drift into it on crowds of one-off annotators). ``s`` is searched in
    :data:`STRENGTH_RANGE` on a log scale, with a faint preference
    (:data:`PREFER_POOLING`) for pooling: where the likelihood cannot tell (it
    is flat, e.g. one vote per annotator) the strongest pooling wins.

    Parameters
    ----------
    counts : ndarray (n_workers, 2, 3)
        Expected answers per annotator and true class ((n_workers, K, K + 1) for K classes).
    pooled : ndarray (2, 3)
        The pooled confusion ((K, K + 1)).

    Examples
    --------
    >>> alike = np.array([[[9.0, 1.0, 0.0], [1.0, 9.0, 0.0]]] * 50)
    >>> learn_strength(alike, np.array([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0]])) > 1e3
    True
    >>> differ = np.array([[[10.0, 0.0, 0.0], [0.0, 10.0, 0.0]], [[0.0, 10.0, 0.0], [10.0, 0.0, 0.0]]] * 25)
    >>> learn_strength(differ, np.full((2, 3), 0.5) * [1, 1, 0]) < 1
    True
    """
    parts = []
    for c in range(counts.shape[1]):
        n = counts[:, c].sum(axis=1)
        used, answers = n > 1e-12, pooled[c] > 0
        parts.append((counts[used][:, c][:, answers], n[used], pooled[c][answers]))
    if not any(len(n) for _, n, _ in parts):
        return STRENGTH_RANGE[1]

    # A slope of 1e-6 per annotator toward pooling: where the likelihood is flat (within
    # rounding) the data cannot tell, and the pooled model wins; elsewhere the optimum moves
    # continuously with the data (a hard "is it flat?" test would flip on rounding noise).
    slope = PREFER_POOLING * (1.0 + sum(len(n) for _, n, _ in parts))

    def objective(log_s: float) -> float:
        s = np.exp(log_s)
        total = 0.0
        for k, n, alpha in parts:
            total += np.sum(gammaln(s) - gammaln(n + s))
            total += np.sum(gammaln(k + s * alpha) - gammaln(s * alpha))
        return -float(total) - slope * log_s

    low, high = np.log(STRENGTH_RANGE[0]), np.log(STRENGTH_RANGE[1])
    best = minimize_scalar(objective, bounds=(low, high), method="bounded", options={"xatol": 1e-9})
    # Brent stops within its tolerance of a bound; the bound itself is the answer there.
    return STRENGTH_RANGE[1] if high - best.x < 1e-6 else float(np.exp(best.x))


def e_step(task: np.ndarray, column: np.ndarray, n_tasks: int, fit: MStep) -> np.ndarray:
    """Posterior ``p_alive``: prior log-odds plus the sum of the votes' log-likelihood ratios.

    ``column`` is each vote's ``worker * 3 + answer``.

    Examples
    --------
    >>> alive = np.array([1.0, 0, 0])
    >>> fit = m_step(alive, alive, np.array([1.0, 1, 0]), 1.0, 2, 0.0)
    >>> e_step(np.array([0, 1]), np.array([0, 1]), 2, fit).round(3).tolist()
    [1.0, 0.0]
    """
    votes = np.bincount(task, weights=fit.llr_table[column], minlength=n_tasks)
    return expit(np.log(fit.prior / (1 - fit.prior)) + votes)
