"""Geometry shared by the vectorised strategies: many images in one KD-tree."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.spatial import cKDTree

__all__ = ["dense_index", "separate_images", "neighbour_pairs", "adjacency"]


def dense_index(image_index: np.ndarray) -> np.ndarray:
    """Renumber a sorted image index as 0, 1, 2, ...

    Examples
    --------
    >>> dense_index(np.array([3, 3, 7, 9, 9])).tolist()
    [0, 0, 1, 2, 2]
    """
    if len(image_index) == 0:
        return np.zeros(0, np.int64)
    return np.concatenate(([0], np.cumsum(np.diff(image_index) != 0))).astype(np.int64)


def separate_images(X: np.ndarray, image_index: np.ndarray, gap: float) -> np.ndarray:
    """Lay the images out on a grid, at least ``gap`` apart, so one KD-tree serves all.

    Offsets are whole pixels, so distances within an image are unchanged for
    coordinates on a binary-fraction grid (e.g. integer clicks).

    Examples
    --------
    >>> P = separate_images(np.array([[0., 0.], [1., 1.]]), np.array([0, 1]), gap=10)
    >>> float(np.hypot(*(P[1] - P[0]))) > 10
    True
    """
    if len(X) == 0:
        return X.reshape(0, 2).astype("float64")
    dense = dense_index(image_index)
    n_images = int(dense[-1]) + 1
    low = X.min(axis=0)
    span = np.ceil(X.max(axis=0) - low + gap + 1.0)
    cols = int(np.ceil(np.sqrt(n_images)))
    offset = np.stack([(dense % cols) * span[0], (dense // cols) * span[1]], axis=1)
    return X - np.floor(low) + offset


def neighbour_pairs(X: np.ndarray, image_index: np.ndarray, radius: float) -> np.ndarray:
    """All pairs ``(i, j)``, ``i < j``, of clicks of one image at distance <= ``radius``.

    Examples
    --------
    >>> X = np.array([[0., 0.], [3., 4.], [0., 0.]])
    >>> neighbour_pairs(X, np.array([0, 0, 1]), 5.0).tolist()
    [[0, 1]]
    """
    P = separate_images(X, image_index, gap=2 * radius + 1)
    tree = cKDTree(P, balanced_tree=False, compact_nodes=False)
    pairs = tree.query_pairs(radius, output_type="ndarray")
    return pairs.astype(np.int64, copy=False).reshape(-1, 2)


def adjacency(pairs: np.ndarray, n: int, *, symmetric: bool = True) -> csr_matrix:
    """Adjacency matrix of ``n`` nodes from undirected pairs.

    ``symmetric=False`` stores each pair once, which is all
    ``connected_components(..., directed=False)`` needs; neighbour look-ups
    by row need the symmetric form.
    """
    rows, cols = pairs[:, 0], pairs[:, 1]
    if symmetric:
        rows, cols = np.concatenate([rows, cols]), np.concatenate([cols, rows])
    return csr_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
