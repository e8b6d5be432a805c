"""DBSCAN over all images at once (the default strategy)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy.sparse.csgraph import connected_components

from ._base import BaseStrategy
from ._geometry import adjacency, neighbour_pairs
from ._validation import Interval, StrOptions

__all__ = ["DBSCANStrategy"]


class DBSCANStrategy(BaseStrategy):
    """Density-based clustering (DBSCAN), vectorised across images.

    Gives exactly scikit-learn's :class:`~sklearn.cluster.DBSCAN` labels
    (Euclidean metric, same cluster numbering, border points to the first
    cluster that reaches them), but for all images in one KD-tree query and
    one connected-components pass instead of one call per image, which is
    what makes it fast on millions of clicks.

    Parameters
    ----------
    eps : float or "auto", default 10.0
        Neighbourhood radius in pixels. ``"auto"`` uses three times the click
        noise estimated by :func:`~cellconsensus.strategies.scale.estimate_scale`
        from all the clicks :func:`~cellconsensus.find_consensus` is given.
    min_samples : int, default 2
        Clicks within ``eps`` (the click itself included) for a click to be a
        core point. With the default, any two clicks closer than ``eps`` form a
        cluster, and a click with no neighbour is noise.

    Attributes
    ----------
    name : str
        ``"dbscan"``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[10, 10], [12, 11], [11, 9], [80, 80], [81, 79], [200, 5]])
    >>> DBSCANStrategy(eps=5).fit_predict(X).tolist()
    [0, 0, 0, 1, 1, -1]
    """

    name = "dbscan"
    _parameter_constraints = {
        "eps": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "min_samples": [Interval(Integral, 1, None, closed="left")],
    }
    _auto_scale = {"eps": 3.0}

    def __init__(self, *, eps: float | str = 10.0, min_samples: int = 2) -> None:
        self.eps = eps
        self.min_samples = min_samples

    def fit_predict_batch(
        self, X: np.ndarray, image_index: np.ndarray, annotators: np.ndarray
    ) -> np.ndarray:
        """Cluster the clicks of many images; see :meth:`BaseStrategy.fit_predict_batch`."""
        self._validate_params()
        self._check_resolved()
        n = len(X)
        labels = np.full(n, -1, dtype=np.int64)
        if n == 0:
            return labels
        pairs = neighbour_pairs(X, image_index, float(self.eps))
        degree = np.bincount(pairs.ravel(), minlength=n) + 1
        core = degree >= self.min_samples
        if not core.any():
            return labels
        core_pairs = pairs[core[pairs[:, 0]] & core[pairs[:, 1]]]
        _, component = connected_components(
            adjacency(core_pairs, n, symmetric=False), directed=False
        )
        core_idx = np.flatnonzero(core)
        comp_of_core = component[core_idx]
        # Number clusters by their first core point, as scikit-learn's scan does.
        uniq, first = np.unique(comp_of_core, return_index=True)
        rank = np.empty(component.max() + 1, np.int64)
        rank[uniq[np.argsort(first)]] = np.arange(len(uniq))
        labels[core_idx] = rank[comp_of_core]
        # Border points join the lowest-numbered cluster among their core neighbours.
        mixed = pairs[core[pairs[:, 0]] != core[pairs[:, 1]]]
        if len(mixed):
            a_core = core[mixed[:, 0]]
            border = np.where(a_core, mixed[:, 1], mixed[:, 0])
            source = np.where(a_core, mixed[:, 0], mixed[:, 1])
            best = np.full(n, np.iinfo(np.int64).max)
            np.minimum.at(best, border, labels[source])
            hit = best < np.iinfo(np.int64).max
            labels[hit] = best[hit]
        return labels
