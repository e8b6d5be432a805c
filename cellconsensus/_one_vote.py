"""The one-vote-per-annotator rule, shared by every strategy.

A cluster never counts one annotator twice. Where an annotator has several
clicks in one cluster, the click nearest to the cluster's centre (the mean of
all its clicks) stays; the others are *re-examined*: they are clustered again,
among themselves, with the same strategy. Two cells that a strategy merged
into one cluster thus come back as two cells, while the second click of a
double click (usually alone) ends as noise with status ``duplicate``. The rule
repeats on the new clusters until no annotator appears twice in any cluster;
each round works only on the clicks it took out, so it ends.
"""

from __future__ import annotations

import numpy as np

from .strategies import BaseStrategy

__all__ = ["dense_labels", "enforce_one_vote"]


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
        ids, local = np.unique(lab, return_inverse=True)
        count = np.bincount(local)
        centre = np.stack(
            [np.bincount(local, weights=X[active, d]) / count for d in range(2)], axis=1
        )
        d2 = ((X[active] - centre[local]) ** 2).sum(axis=1)
        key = local * n_annotators + annotators[active]
        order = np.lexsort((np.arange(len(active)), d2, key))
        repeat = np.r_[False, key[order][1:] == key[order][:-1]]
        extras = active[order[repeat]]
        if not len(extras):
            break
        extras.sort()
        taken_out[extras] = True
        sub = strategy.fit_predict_batch(X[extras], image_index[extras], annotators[extras])
        sub = dense_labels(image_index[extras], sub)
        start = int(labels.max()) + 1
        labels[extras] = np.where(sub >= 0, sub + start, -1)
        active = extras[sub >= 0]
    return labels, taken_out
