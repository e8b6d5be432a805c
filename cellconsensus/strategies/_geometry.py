"""Geometry shared by the vectorised strategies: many images in one KD-tree."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.spatial import cKDTree

from ..errors import CellConsensusInputError

__all__ = ["dense_index", "separate_images", "neighbour_pairs", "adjacency", "MAX_PAIRS"]

#: Most pairs of clicks within the radius one call holds (16 bytes each: 1.6 GB). Real
#: crowds have a few per click; a pile of clicks on one spot has ``n^2 / 2``.
MAX_PAIRS = 100_000_000


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
    _check_pairs(P, tree, radius)
    pairs = tree.query_pairs(radius, output_type="ndarray")
    return pairs.astype(np.int64, copy=False).reshape(-1, 2)


def _check_pairs(P: np.ndarray, tree: cKDTree, radius: float) -> None:
    """Fail fast, before any memory is taken, when the pairs would exceed :data:`MAX_PAIRS`.

    Pairs within ``radius`` lie in the same or neighbouring cells of a grid of that side,
    so ``4.5 * sum(count^2)`` over the cells bounds them (hashing cells together only raises
    the bound): O(n), and exact counting (no memory) only when the bound is high.
    """
    if len(P) * (len(P) - 1) // 2 <= MAX_PAIRS:
        return
    bins = 1 << min(20, max(8, int(np.ceil(np.log2(4 * len(P))))))
    # Laid-out positions are >= 0: truncation is the floor; int32 products wrap, which
    # only hashes cells together.
    cell = (P * (1.0 / max(radius, 1e-9))).astype(np.int32)
    with np.errstate(over="ignore"):
        key = ((cell[:, 0] * np.int32(73_856_093)) ^ (cell[:, 1] * np.int32(19_349_663))) & (
            bins - 1
        )
    counts = np.bincount(key, minlength=bins).astype(np.float64)
    if 4.5 * float(counts @ counts) <= MAX_PAIRS:
        return
    n_pairs = (int(tree.count_neighbors(tree, radius)) - len(P)) // 2
    if n_pairs > MAX_PAIRS:
        raise CellConsensusInputError(
            f"{n_pairs:,} pairs of clicks lie within {radius:g} px of each other (at most "
            f"{MAX_PAIRS:,}: clicks piled on a few spots of one image); use a smaller scale "
            "or check the export for repeated clicks"
        )


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
