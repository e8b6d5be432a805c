"""Calibrated probabilities: temperature scaling fitted on the validation split.

A network trained to separate classes is often over- (or under-) confident: its
P(alive) of 0.95 may be right 85 % of the time. Temperature scaling (Guo et al.,
2017) divides the logits by one number ``T`` chosen to minimise the validation
split's negative log-likelihood; the ranking of the cells, and so ROC AUC and the
best balanced accuracy, do not change, their probabilities do.
:func:`cellcnn.evaluate.tune_prediction` fits ``T`` with the rest of a run's
prediction setting; prediction and evaluation apply it by default.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_softmax, softmax

__all__ = ["calibrate", "fit_temperature", "expected_calibration_error", "reliability_bins"]

_EPS = 1e-7


def _logits(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p) if p.ndim == 1 else np.log(p)


def calibrate(p: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities with their logits divided by ``temperature``: ``(n,)`` P(first class)
    for two classes, ``(n, K)`` for more (NaN rows stay NaN).

    Examples
    --------
    >>> calibrate(np.array([0.9, 0.5]), 2.0).round(3).tolist()
    [0.75, 0.5]
    >>> calibrate(np.array([[0.8, 0.1, 0.1]]), 1.0).round(3).tolist()
    [[0.8, 0.1, 0.1]]
    """
    p = np.asarray(p, dtype=float)
    if temperature == 1.0:
        return p
    z = _logits(p) / temperature
    out = expit(z) if p.ndim == 1 else softmax(z, axis=1)
    return np.where(np.isnan(p), np.nan, out)


def fit_temperature(truth: np.ndarray, p: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of the true classes
    (``truth``: class indices, 0 the first class) under ``calibrate(p, T)``; between
    0.05 and 20, 1 without both outcomes.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(0, 1, 4000)
    >>> truth = (rng.random(4000) > 1 / (1 + np.exp(-z))).astype(int)  # P(class 0) = sigmoid(z)
    >>> round(fit_temperature(truth, 1 / (1 + np.exp(-3 * z))), 1)  # three times too sharp
    3.0
    """
    truth = np.asarray(truth, dtype=int)
    p = np.asarray(p, dtype=float)
    if len(np.unique(truth)) < 2:
        return 1.0
    z = _logits(p)

    def nll(log_t: float) -> float:
        scaled = z / np.exp(log_t)
        if p.ndim == 1:  # P(class 0) = sigmoid(scaled)
            sign = np.where(truth == 0, 1.0, -1.0)
            return float(np.mean(np.logaddexp(0.0, -sign * scaled)))
        return float(-np.mean(log_softmax(scaled, axis=1)[np.arange(len(truth)), truth]))

    best = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded",
                           options={"xatol": 1e-4})  # fmt: skip
    return float(np.exp(best.x))


def reliability_bins(y: np.ndarray, p: np.ndarray, bins: int = 10):
    """Equal-width bins of ``p``: the share of each non-empty bin, its mean prediction and
    its observed frequency of ``y``.

    Examples
    --------
    >>> share, predicted, observed = reliability_bins(np.array([1, 0]), np.array([0.95, 0.05]))
    >>> share.tolist(), predicted.tolist(), observed.tolist()
    ([0.5, 0.5], [0.05, 0.95], [0.0, 1.0])
    """
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    which = np.clip(np.digitize(p, np.linspace(0, 1, bins + 1)[1:-1]), 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    full = count > 0
    safe = np.maximum(count, 1)
    predicted = np.bincount(which, weights=p, minlength=bins) / safe
    observed = np.bincount(which, weights=y, minlength=bins) / safe
    return (count / max(len(p), 1))[full], predicted[full], observed[full]


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of P(alive) against hard outcomes, equal-width bins.

    Examples
    --------
    >>> round(expected_calibration_error(np.array([1, 0, 1, 0]), np.array([0.9, 0.1, 0.8, 0.3])), 3)
    0.175
    """
    share, predicted, observed = reliability_bins(y, p, bins)
    return float(np.sum(share * np.abs(observed - predicted)))
