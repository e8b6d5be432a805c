"""The one-vote-per-annotator rule, shared by every strategy.

A cluster never counts one annotator twice. Where an annotator has several
clicks in one cluster, the click nearest to the cluster's centre (the mean of
all its clicks) stays; the others are *re-examined*: they are clustered again,
among themselves, with the same strategy. Two cells that a strategy merged
into one cluster thus come back as two cells, while the second click of a
double click (usually alone) ends as noise with status ``duplicate``. The rule
repeats on the new clusters until no annotator appears twice in any cluster;
each round works only on the clicks it took out, so it ends.

Before any clustering, :func:`double_clicks` takes out an annotator's second click
within :data:`~cellconsensus.defaults.DOUBLE_CLICK` px of their first on the same
image: re-examined, the second clicks of two annotators' double clicks on one cell
would otherwise make a phantom cell beside it (and, on an image with a single
annotator, where every click is a cell, a double click would be two cells).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .strategies import BaseStrategy

__all__ = ["canonical_order", "dense_labels", "double_clicks", "enforce_one_vote"]

#: How many of an annotator's preceding clicks (by x) each click is compared with.
DOUBLE_CLICK_WINDOW = 8


def canonical_order(image: np.ndarray, X: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """Order of clicks by (image, x, y, tiebreak): ``np.lexsort`` of those keys, faster.

    One ``argsort`` of a composite key ``image * span + x`` (monotone in
    (image, x), so it never reorders what the lexicographic order fixes),
    then an exact lexsort of just the rows whose keys tie. Sorting by value,
    not by position in the input, is what makes every strategy independent of
    the order of the input rows.

    Examples
    --------
    >>> X = np.array([[5.0, 1.0], [2.0, 9.0], [2.0, 3.0], [0.0, 0.0]])
    >>> canonical_order(np.array([0, 0, 0, 1]), X, np.zeros(4, int)).tolist()
    [2, 1, 0, 3]
    """
    n = len(image)
    if n == 0:
        return np.zeros(0, np.int64)
    x = X[:, 0]
    low = np.floor(x.min())
    span = np.ceil(x.max() - low) + 1.0
    key = image * span + (x - low)
    order = np.argsort(key)
    ks = key[order]
    same = ks[1:] == ks[:-1]
    tied = np.flatnonzero(np.r_[same, False] | np.r_[False, same])
    if len(tied):
        group = np.cumsum(np.r_[True, ks[tied[1:]] != ks[tied[:-1]]])
        rows = order[tied]
        order[tied] = rows[np.lexsort((tiebreak[rows], X[rows, 1], X[rows, 0], group))]
    return order


def double_clicks(
    X: np.ndarray,
    image_index: np.ndarray,
    annotators: np.ndarray,
    radius: float,
    tiebreak: np.ndarray | None = None,
) -> np.ndarray:
    """Mask of double clicks: a click within ``radius`` px of an earlier click of the same
    annotator on the same image.

    "Earlier" is by value (x, then y, then ``tiebreak``, e.g. the label code, for
    clicks on the very same spot), never by row, so the mask does not depend on the
    order of the input. Each click is compared with the annotator's
    :data:`DOUBLE_CLICK_WINDOW` preceding clicks by x on the image: time and memory
    linear in the clicks, whatever piles up on one spot (more than that many clicks
    of one annotator in a strip ``radius`` wide could hide a double click; the
    one-vote rule still keeps it out of any cell's count).

    Examples
    --------
    >>> X = np.array([[10.0, 10.0], [11.0, 10.5], [40.0, 10.0], [10.5, 10.0]])
    >>> double_clicks(X, np.zeros(4, int), np.array([0, 0, 0, 1]), 4.0).tolist()
    [False, True, False, False]
    """
    n = len(X)
    dup = np.zeros(n, bool)
    if n < 2 or radius <= 0:
        return dup
    last = np.zeros(n, np.int64) if tiebreak is None else tiebreak
    order = np.lexsort((last, X[:, 1], X[:, 0], annotators, image_index))
    xs, ys = X[order, 0], X[order, 1]
    group = np.r_[0, np.cumsum((image_index[order][1:] != image_index[order][:-1])
                               | (annotators[order][1:] != annotators[order][:-1]))]  # fmt: skip
    r2 = radius * radius
    found = np.zeros(n, bool)
    for k in range(1, min(DOUBLE_CLICK_WINDOW, n - 1) + 1):
        same = group[k:] == group[:-k]
        close = (xs[k:] - xs[:-k]) ** 2 + (ys[k:] - ys[:-k]) ** 2 <= r2
        found[k:] |= same & close
    dup[order] = found
    return dup


def dense_labels(image_index: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Renumber (image, label) pairs as 0..k-1 in order of first appearance; -1 stays.

    Examples
    --------
    >>> dense_labels(np.array([0, 0, 1, 1]), np.array([5, -1, 5, 2])).tolist()
    [0, -1, 1, 2]
    """
    out = np.full(len(labels), -1, np.int64)
    valid = labels >= 0
    if not valid.any():
        return out
    key = image_index[valid].astype(np.int64) * (int(labels.max()) + 1) + labels[valid]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    out[valid] = rank[inverse]
    return out


def _shared(key: np.ndarray, key_range: int) -> np.ndarray:
    """Mask of entries whose key occurs more than once (bincount when the range allows)."""
    if key_range <= 1 << 26:
        return np.bincount(key, minlength=key_range)[key] > 1
    return pd.Series(key).duplicated(keep=False).to_numpy()


def enforce_one_vote(
    strategy: BaseStrategy,
    X: np.ndarray,
    image_index: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the one-vote rule to dense cluster labels.

    Parameters
    ----------
    strategy : BaseStrategy
        Used to re-examine the clicks taken out.
    X, image_index, annotators : ndarray
        Clicks sorted by image.
    labels : ndarray
        Dense cluster ids (0..k-1, -1 noise), e.g. from :func:`dense_labels`.

    Returns
    -------
    labels : ndarray
        Cluster ids where no cluster holds one annotator twice (new clusters
        numbered after the existing ones).
    taken_out : ndarray of bool
        Clicks that were taken out of a cluster at least once.

    Examples
    --------
    >>> from cellconsensus.strategies import DBSCANStrategy
    >>> X = np.array([[0., 0.], [1., 0.], [1.5, 0.], [0.5, 0.]])
    >>> labels, out = enforce_one_vote(DBSCANStrategy(eps=5), X, np.zeros(4, int),
    ...                                np.array([0, 1, 1, 0]), np.zeros(4, int))
    >>> labels.tolist(), out.tolist()
    ([1, 0, 1, 0], [True, False, True, False])
    """
    labels = labels.copy()
    taken_out = np.zeros(len(labels), bool)
    active = np.flatnonzero(labels >= 0)
    n_annotators = int(annotators.max()) + 1 if len(annotators) else 1
    while len(active):
        lab = labels[active]
        key = lab * n_annotators + annotators[active]
        shared = _shared(key, (int(lab.max()) + 1) * n_annotators)
        if not shared.any():
            break
        # Centres of the clusters concerned, from all their clicks.
        ids, local = np.unique(lab, return_inverse=True)
        concerned = np.isin(local, np.unique(local[shared]))
        sub_local = local[concerned]
        count = np.bincount(sub_local, minlength=len(ids))
        centre = (
            np.stack(
                [
                    np.bincount(sub_local, weights=X[active[concerned], d], minlength=len(ids))
                    for d in range(2)
                ],
                axis=1,
            )
            / np.maximum(count, 1)[:, None]
        )
        rows = np.flatnonzero(shared)
        d2 = ((X[active[rows]] - centre[local[rows]]) ** 2).sum(axis=1)
        order = np.lexsort((rows, d2, key[rows]))
        repeat = np.r_[False, key[rows][order][1:] == key[rows][order][:-1]]
        extras = np.sort(active[rows[order[repeat]]])
        taken_out[extras] = True
        sub = strategy.fit_predict_batch(X[extras], image_index[extras], annotators[extras])
        sub = dense_labels(image_index[extras], sub)
        start = int(labels.max()) + 1
        labels[extras] = np.where(sub >= 0, sub + start, -1)
        active = extras[sub >= 0]
    return labels, taken_out
