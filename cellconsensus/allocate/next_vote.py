"""What one more vote or click does to a cell, and the cells an image still hides.

The formulas of :mod:`~cellconsensus.allocate.uncertainty`: the expected error of the
crowd's label after one more vote, the chance that a spot so many volunteers clicked
is real, the expected error of keeping or dropping a cell after one more click, and
the empirical-Bayes count of missed cells.
"""

from __future__ import annotations

from itertools import combinations_with_replacement
from math import factorial

import numpy as np
from scipy.special import gammaln, xlog1py, xlogy

__all__ = ["symmetric_confusion", "expected_missed"]


def symmetric_confusion(k: int, accuracy: float) -> np.ndarray:
    """``L[v, c]``: the chance of answer ``v`` for a cell of class ``c``, ``accuracy`` on
    the diagonal and the rest spread evenly over the other classes.

    Examples
    --------
    >>> symmetric_confusion(3, 0.8).round(2).tolist()
    [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]]
    """
    likelihood = np.full((k, k), (1 - accuracy) / max(k - 1, 1))
    np.fill_diagonal(likelihood, accuracy)
    return likelihood


def _binomial_pmf(k: int, n: int, p):
    """The binomial probability of ``k`` successes in ``n`` trials of chance ``p``, in logs
    (scipy's ``binom.pmf`` overflows for a subnormal ``p``; ``0 ** 0`` is 1).

    Examples
    --------
    >>> float(_binomial_pmf(1, 2, 0.5)), float(_binomial_pmf(0, 3, 0.0)), float(_binomial_pmf(1, 2, 1e-308))
    (0.5, 1.0, 2e-308)
    """
    p = np.asarray(p, dtype=float)
    log = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1) + xlogy(k, p) + xlog1py(n - k, -p)
    return np.exp(log)


def _label_error_after_vote(
    proba: np.ndarray, accuracy: float, belief: np.ndarray | None = None, votes: int = 1
) -> np.ndarray:
    """Expected error of the crowd's label after ``votes`` more votes of the given accuracy
    (wrong answers spread over the other classes).

    The crowd picks the most probable class of its own posterior ``proba`` after the
    votes; the error is counted under ``belief`` (default ``proba``: then, for one vote,
    ``1 - sum_v max_c p_c L(v | c)``), which may know more (a detector's label).

    Examples
    --------
    One vote on a cell of one vote (0.85 alive) leaves its error where it was (a
    disagreement is a tie); two votes settle it:

    >>> p = np.array([[0.85, 0.15]])
    >>> [round(float(_label_error_after_vote(p, 0.85, votes=v)[0]), 3) for v in (1, 2)]
    [0.15, 0.061]
    """
    belief = proba if belief is None else belief
    k = proba.shape[1]
    # The crowd's choice depends on how many votes each class got, not on their order:
    # every count vector, its number of orders and L(counts | c) (rows, columns c).
    outcomes = [np.bincount(s, minlength=k) for s in combinations_with_replacement(range(k), votes)]
    counts = np.array(outcomes, dtype=float).reshape(-1, k)
    orders = np.array([factorial(votes) / np.prod([factorial(n) for n in row]) for row in outcomes])
    wrong = (1 - accuracy) / max(k - 1, 1)
    likelihood = orders[:, None] * accuracy**counts * wrong ** (votes - counts)
    # (cells, outcomes, class c): p_c L(outcome | c); the crowd's choice is the max over c.
    choice = (proba[:, None, :] * likelihood[None, :, :]).argmax(axis=2)
    joint = belief[:, None, :] * likelihood[None, :, :]
    return 1.0 - np.take_along_axis(joint, choice[:, :, None], axis=2)[:, :, 0].sum(axis=1)


def _label_errors_after_volunteers(
    proba: np.ndarray, accuracy: float, detection: float, most: int,
    belief: np.ndarray | None = None,
) -> list[np.ndarray]:  # fmt: skip
    """Expected error of the crowd's label after ``h`` more volunteers, for ``h`` from 0 to
    ``most``: each votes on the cell with probability ``detection`` (binomially many
    votes, each as in :func:`_label_error_after_vote`, computed once per number of votes).

    Examples
    --------
    >>> p = np.array([[0.85, 0.15]])
    >>> [round(float(e[0]), 3) for e in _label_errors_after_volunteers(p, 0.85, 1.0, 2)]
    [0.15, 0.15, 0.061]
    """
    belief = proba if belief is None else belief
    now = 1.0 - np.take_along_axis(belief, proba.argmax(axis=1)[:, None], axis=1)[:, 0]
    after_votes = [now] + [_label_error_after_vote(proba, accuracy, belief, v)
                           for v in range(1, most + 1)]  # fmt: skip
    return [sum(_binomial_pmf(v, h, detection) * after_votes[v] for v in range(h + 1))
            for h in range(most + 1)]  # fmt: skip


def _real_odds(clickers, annotators, detection: float, stray: float) -> np.ndarray:
    """Chance that a spot ``clickers`` of an image's ``annotators`` clicked is a real cell:
    ``d^j (1 - d)^(k - j)`` against a stray's ``f^j (1 - f)^(k - j)``.

    Examples
    --------
    >>> _real_odds(np.array([1, 1, 2]), np.array([1, 3, 3]), 0.9, 0.02).round(3).tolist()
    [0.978, 0.319, 0.995]
    """
    j = np.asarray(clickers, dtype=float)
    detection, stray = np.clip([detection, stray], 1e-9, 1 - 1e-9)
    k = np.maximum(np.asarray(annotators, dtype=float), j)
    log_real = j * np.log(detection) + (k - j) * np.log1p(-detection)
    log_false = j * np.log(stray) + (k - j) * np.log1p(-stray)
    return 1.0 / (1.0 + np.exp(np.clip(log_false - log_real, -700, 700)))


def _doubt_after_click(
    p_real: np.ndarray, detection: float, stray: float, belief: np.ndarray | None = None
) -> np.ndarray:
    """Expected error of keeping or dropping a cell after one more annotator clicks it or
    not: the crowd decides on its own ``p_real``; the error is counted under ``belief``
    (default ``p_real``: then the expected ``min(p, 1 - p)``)."""
    belief = p_real if belief is None else belief
    error = np.zeros(len(p_real))
    for real, false in ((detection, stray), (1 - detection, 1 - stray)):
        keep = p_real * real >= (1 - p_real) * false
        error += np.where(keep, (1 - belief) * false, belief * real)
    return error


def _lone_doubt_after(belief: np.ndarray, detection: float, stray: float, volunteers: int = 2):
    """Expected error of keeping or dropping a lone volunteer's cell after ``volunteers``
    more volunteers click it or not: with ``j`` of them clicking it is kept where ``1 + j``
    clickers of ``1 + volunteers`` have the odds of a real cell (:func:`_real_odds`); the
    error is counted under ``belief`` (the chance that it is real).

    Examples
    --------
    A second volunteer cannot drop it (one clicker of two keeps a cell); two more can:

    >>> b = np.array([0.3])
    >>> [round(float(_lone_doubt_after(b, 0.9, 0.02, v)[0]), 3) for v in (1, 2)]
    [0.7, 0.031]
    """
    error = np.zeros(len(belief))
    for j in range(volunteers + 1):
        if_real, if_stray = _binomial_pmf(j, volunteers, np.array([detection, stray]))
        keep = _real_odds(1 + j, 1 + volunteers, detection, stray) >= 0.5
        error += np.where(keep, (1 - belief) * if_stray, belief * if_real)
    return error


def expected_missed(found: np.ndarray, miss: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Expected true cells still missed per image, from the cells found and the chance
    ``miss`` that all of its volunteers miss a cell (empirical Bayes).

    Each image's true cells are Poisson with its own rate, the rates Gamma across
    images (shape and rate fitted by moments on the images ``seen``); the cells found
    are then Poisson with the rate times ``1 - miss``, so the missed ones have the
    expectation ``miss (alpha + found) / (beta + 1 - miss)``: the image's own count
    where it says much, the crowd's where it says little (an image where a lone
    volunteer found nothing is not an image without cells). An image nobody has seen
    (``miss`` 1) is expected to hold the crowd's mean.

    Examples
    --------
    >>> expected_missed(np.array([4.0, 0.0, 0.0]), np.array([0.1, 0.1, 1.0]),
    ...                 np.array([True, True, False])).round(2).tolist()
    [0.33, 0.11, 2.22]
    """
    found = np.asarray(found, dtype=float)
    miss = np.clip(np.asarray(miss, dtype=float), 0.0, 1.0)
    seen = np.asarray(seen, dtype=bool) & (miss < 1.0)
    if not seen.any():
        return np.zeros(len(found))
    exposure = 1.0 - miss[seen]
    rates = found[seen] / exposure
    mean = float(rates.mean())
    # The spread of the rates beyond the Poisson noise of each count.
    spread = float(rates.var() - np.mean(mean / exposure))
    spread = max(spread, 0.01 * mean, 1e-9)
    beta = mean / spread if mean > 0 else 1.0
    alpha = mean * beta
    return miss * (alpha + found) / (beta + 1.0 - miss)
