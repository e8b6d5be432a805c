"""k-means with k chosen from the data (the thesis' own suggestion)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from ..params import Interval, StrOptions
from ._base import BaseStrategy

__all__ = ["KMeansStrategy"]


class KMeansStrategy(BaseStrategy):
    """k-means on one image's clicks, with k taken from the annotators' click counts.

    Parameters
    ----------
    n_clusters : int, "median" or "search", default "median"
        Number of cells per image. ``"median"``: the median number of clicks
        per annotator on the image (rounded half up). ``"search"``: the k
        between the smallest and largest click count of one annotator with the
        best silhouette score.
    max_distance : float, "auto" or None, default 20.0
        Clicks farther than this (pixels) from their centroid become noise
        (spurious clicks would otherwise pull a centroid away). ``"auto"``:
        three times the estimated click noise; ``None``: keep all.
    n_init : int, default 4
        k-means restarts.
    random_state : int, default 0
        Seed of the k-means initialisation.

    Attributes
    ----------
    name : str
        ``"kmeans"``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[10, 10], [80, 80], [12, 11], [81, 79]])
    >>> KMeansStrategy().fit_predict(X, annotators=np.array([0, 0, 1, 1])).tolist()
    [0, 1, 0, 1]
    """

    name = "kmeans"
    _parameter_constraints = {
        "n_clusters": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"median", "search"}),
        ],
        "max_distance": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"}), None],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "random_state": [Interval(Integral, 0, None, closed="left")],
    }
    _auto_scale = {"max_distance": 3.0}

    def __init__(
        self,
        *,
        n_clusters: int | str = "median",
        max_distance: float | str | None = 20.0,
        n_init: int = 4,
        random_state: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.max_distance = max_distance
        self.n_init = n_init
        self.random_state = random_state

    #: Measured on a 2-core CPU: 35 s at 20,000 clicks in one image (silhouette scores of
    #: every candidate k cost n^2).
    max_points_per_image = 20_000
    _limit_reason = "scores every candidate k by silhouette (n^2 distances per candidate)"

    def _fit(self, X: np.ndarray, k: int) -> KMeans:
        return KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state).fit(X)

    def _choose_k(self, X: np.ndarray, annotators: np.ndarray) -> int:
        counts = np.unique(annotators, return_counts=True)[1]
        if isinstance(self.n_clusters, Integral):
            return int(self.n_clusters)
        median_k = max(1, int(np.floor(np.median(counts) + 0.5)))
        if self.n_clusters == "median":
            return median_k
        candidates = range(max(2, int(counts.min())), min(int(counts.max()), len(X) - 1) + 1)
        best_k, best_score = median_k, -np.inf
        for k in candidates:
            labels = self._fit(X, k).labels_
            if len(np.unique(labels)) < 2:
                continue
            score = silhouette_score(X, labels)
            if score > best_score:
                best_k, best_score = k, score
        return best_k

    def _cluster_image(self, X: np.ndarray, annotators: np.ndarray) -> np.ndarray:
        # Measured from the image's lowest corner: k-means' floating point then sees the
        # same numbers wherever the image's clicks lie, so a shift never changes the cells.
        X = X - X.min(axis=0)
        k = min(self._choose_k(X, annotators), len(np.unique(X, axis=0)))
        model = self._fit(X, k)
        labels = model.labels_.astype(np.int64)
        if self.max_distance is not None:
            far = np.hypot(*(X - model.cluster_centers_[labels]).T) > float(self.max_distance)
            labels[far] = -1
        return labels
