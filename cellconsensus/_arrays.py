"""Array helpers the hot paths share."""

from __future__ import annotations

import numpy as np

__all__ = ["unique_codes"]


def unique_codes(codes: np.ndarray) -> np.ndarray:
    """Sorted unique values of an integer array, by sorting.

    ``np.unique(codes)`` without further outputs uses a hash table since
    numpy 2.3, which on a million random int64 codes took 1.2 s where sorting
    takes 0.015 s (numpy 2.4, this project's CI machine); the consensus of a
    million clicks calls it several times.

    Examples
    --------
    >>> unique_codes(np.array([5, 1, 5, 3, 1])).tolist()
    [1, 3, 5]
    >>> unique_codes(np.array([], dtype=int)).tolist()
    []
    """
    ordered = np.sort(np.asarray(codes).ravel())
    if len(ordered) < 2:
        return ordered
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]]
