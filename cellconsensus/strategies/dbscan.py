"""DBSCAN over all images at once (the default strategy)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy.sparse.csgraph import connected_components

from ..params import Interval, StrOptions
from ._base import BaseStrategy
from ._geometry import adjacency, neighbour_pairs

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
    eps : float or "auto", default "auto"
        Neighbourhood radius in pixels. ``"auto"``: three times the click noise
        estimated by :func:`~cellconsensus.strategies.scale.estimate_scale` from
        all the clicks :func:`~cellconsensus.find_consensus` is given (or from
        one image's in :meth:`fit_predict`), lowered where it would merge
        neighbouring cells (:mod:`~cellconsensus.strategies.consistency`).
        The measured best on the consensus-accuracy grid (``docs/benchmarks.md``,
        "The default and its alternatives"; :mod:`cellconsensus.defaults`).
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

    def __init__(self, *, eps: float | str = "auto", min_samples: int = 2) -> None:
        self.eps = eps
        self.min_samples = min_samples

    def fit_predict_batch(
        self, X: np.ndarray, image_index: np.ndarray, annotators: np.ndarray
    ) -> np.ndarray:
        """Cluster the clicks of many images; see :meth:`BaseStrategy.fit_predict_batch`."""
        self._validate_params()
        self._check_resolved()
        if len(X) == 0:
            return np.full(0, -1, dtype=np.int64)
        return self._labels(neighbour_pairs(X, image_index, float(self.eps)), len(X))

    def fit_predict_scales(
        self, X: np.ndarray, image_index: np.ndarray, annotators: np.ndarray, sigmas
    ) -> list[np.ndarray]:
        """Cluster at several noise scales; the neighbour pairs are found once, at the largest
        ``eps``, and filtered for the others. See :meth:`BaseStrategy.fit_predict_scales`."""
        self._validate_params()
        if not self.needs_scale or len(X) == 0:
            return super().fit_predict_scales(X, image_index, annotators, sigmas)
        resolved = [self.with_scale(s) for s in sigmas]
        largest = max(float(r.eps) for r in resolved)
        pairs = neighbour_pairs(X, image_index, largest)
        d = np.hypot(*(X[pairs[:, 0]] - X[pairs[:, 1]]).T)
        return [r._labels(pairs[d <= float(r.eps)], len(X)) for r in resolved]

    def _labels(self, pairs: np.ndarray, n: int) -> np.ndarray:
        """DBSCAN labels of ``n`` clicks from their neighbour pairs within ``eps``."""
        labels = np.full(n, -1, dtype=np.int64)
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
