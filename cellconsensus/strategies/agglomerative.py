"""Complete-linkage agglomerative clustering with a cap on cluster diameter."""

from __future__ import annotations

from numbers import Real

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from ..params import Interval, StrOptions
from ._base import BaseStrategy

__all__ = ["AgglomerativeStrategy"]


class AgglomerativeStrategy(BaseStrategy):
    """Complete-linkage clustering cut where clusters would exceed ``max_diameter``.

    Complete linkage merges the two clusters whose farthest clicks are
    closest, so no cluster ever holds two clicks further apart than the cap:
    it never chains neighbouring cells together the way single linkage
    (and DBSCAN) can.

    Parameters
    ----------
    max_diameter : float or "auto", default 20.0
        Largest distance, in pixels, between two clicks of one cluster.
        ``"auto"``: five times the estimated click noise.

    Attributes
    ----------
    name : str
        ``"agglomerative"``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0, 0], [4, 0], [8, 0], [50, 50]])
    >>> AgglomerativeStrategy(max_diameter=6).fit_predict(X).tolist()
    [0, 0, 1, 2]
    """

    name = "agglomerative"
    _parameter_constraints = {
        "max_diameter": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})]
    }
    _auto_scale = {"max_diameter": 5.0}

    def __init__(self, *, max_diameter: float | str = 20.0) -> None:
        self.max_diameter = max_diameter

    #: Complete linkage holds every pairwise distance (``n^2 / 2`` doubles: 1.6 GB here).
    max_points_per_image = 20_000
    _limit_reason = "holds every pairwise distance (n^2 / 2 doubles)"

    def _cluster_image(self, X: np.ndarray, annotators: np.ndarray) -> np.ndarray:
        if len(X) < 2:
            return np.zeros(len(X), np.int64)
        tree = linkage(X, method="complete")
        return fcluster(tree, t=float(self.max_diameter), criterion="distance").astype(np.int64) - 1
