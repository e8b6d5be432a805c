"""Exact order statistics of values spread over the workers of a cluster.

The values stay where they are; the client narrows an interval around the
wanted ranks from counts the workers return, then gathers only the few values
left inside it. Used for the global median of the ``"auto"`` scale samples.
"""

from __future__ import annotations

import numpy as np

__all__ = ["distributed_median"]

#: Gather the values once no more than this many lie inside the interval (8 MB of floats;
#: the ``"auto"`` scale's samples are about SCALE_SAMPLE_CLICKS = 200,000 values in all,
#: so they come in one round: two tasks per partition).
GATHER_LIMIT = 1_000_000
#: Candidate thresholds each partition proposes per round.
PROPOSALS = 32


def _count(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many values lie below each threshold (values sorted)."""
    return np.searchsorted(values, thresholds, side="left")


def _inside(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return values[np.searchsorted(values, lo, "left") : np.searchsorted(values, hi, "left")]


def _propose(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    inside = _inside(values, lo, hi)
    if not len(inside):
        return inside
    picks = inside[np.linspace(0, len(inside) - 1, PROPOSALS).astype(int)]
    # A threshold just above each pick splits runs of equal values.
    return np.concatenate([picks, np.nextafter(picks, np.inf)])


def distributed_median(client, samples: list) -> tuple[float, int]:
    """Median of the union of sorted 1-D arrays held as futures, exactly as ``np.median``.

    Parameters
    ----------
    client : distributed.Client
        The cluster to run on.
    samples : list of Future
        Each resolves to a sorted float array.

    Returns
    -------
    median : float
        The median (NaN when there are no values).
    n : int
        The number of values.

    Examples
    --------
    >>> from distributed import Client
    >>> with Client(processes=False, n_workers=1, dashboard_address=":0") as client:
    ...     parts = [client.scatter(np.array(v, float), hash=False) for v in ([1, 5, 9], [2, 3], [])]
    ...     distributed_median(client, parts)
    (3.0, 5)
    """
    n = int(sum(client.gather(client.map(len, samples, pure=False))))
    if n == 0:
        return float("nan"), 0
    ranks = sorted({(n - 1) // 2, n // 2})
    if n <= GATHER_LIMIT:  # one round: every value to the client
        values = np.concatenate(client.gather(samples))
        return float(np.mean(np.partition(values, ranks)[ranks])), n
    return float(np.mean([_select(client, samples, r) for r in ranks])), n


def _select(client, samples: list, rank: int) -> float:
    """The value of the given rank (0-based) in the union of the sorted arrays."""
    lo, hi, below = -np.inf, np.inf, 0
    while True:
        counts = client.gather(
            client.map(lambda v, a, b: int(len(_inside(v, a, b))), samples, a=lo, b=hi, pure=False)
        )
        if sum(counts) <= GATHER_LIMIT:
            values = np.concatenate(
                client.gather(client.map(_inside, samples, lo=lo, hi=hi, pure=False))
            )
            return float(np.partition(values, rank - below)[rank - below])
        proposals = client.gather(client.map(_propose, samples, lo=lo, hi=hi, pure=False))
        thresholds = np.unique(np.concatenate([p for p in proposals if len(p)]))
        below_each = np.sum(
            client.gather(client.map(_count, samples, thresholds=thresholds, pure=False)), axis=0
        )
        before = (lo, hi)
        # The tightest [lo, hi) that still holds the rank: it shrinks every round unless
        # every value inside is equal, and then that value is the answer.
        fits_lo = below_each <= rank
        fits_hi = below_each > rank
        if fits_lo.any():
            k = int(np.flatnonzero(fits_lo)[-1])
            lo, below = float(thresholds[k]), int(below_each[k])
        if fits_hi.any():
            hi = float(thresholds[int(np.flatnonzero(fits_hi)[0])])
        if (lo, hi) == before:
            return lo
