"""An example strategy plugin: mean-shift clustering of one image's clicks.

Installed (``pip install ./examples/strategy_plugin``), it is found by name::

    from cellconsensus import find_consensus
    find_consensus(clicks, "meanshift", params={"bandwidth": "auto"})
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.cluster import MeanShift

from cellconsensus.params import Interval, StrOptions
from cellconsensus.strategies import BaseStrategy

__all__ = ["MeanShiftStrategy"]


# --8<-- [start:class]
class MeanShiftStrategy(BaseStrategy):
    """Mean shift with a flat kernel of radius ``bandwidth``; clicks alone in their
    basin are noise.

    Parameters
    ----------
    bandwidth : float or "auto", default 15.0
        Kernel radius in pixels; ``"auto"``: three times the crowd's click
        noise, estimated from the clicks.
    min_clicks : int, default 2
        Smallest cluster kept; smaller ones become noise.

    Attributes
    ----------
    name : str
        ``"meanshift"``.

    Examples
    --------
    >>> X = np.array([[10, 10], [12, 11], [11, 9], [80, 80], [81, 79], [300, 300]])
    >>> MeanShiftStrategy(bandwidth=10).fit_predict(X).tolist()
    [0, 0, 0, 1, 1, -1]
    """

    name = "meanshift"
    _parameter_constraints = {
        "bandwidth": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "min_clicks": [Interval(Integral, 1, None, closed="left")],
    }
    _auto_scale = {"bandwidth": 3.0}

    def __init__(self, *, bandwidth: float | str = 15.0, min_clicks: int = 2) -> None:
        self.bandwidth = bandwidth
        self.min_clicks = min_clicks

    def _cluster_image(self, X: np.ndarray, annotators: np.ndarray) -> np.ndarray:
        if len(X) == 0:
            return np.zeros(0, np.int64)
        labels = MeanShift(bandwidth=float(self.bandwidth), cluster_all=False).fit_predict(X)
        counts = np.bincount(labels[labels >= 0], minlength=1)
        small = (labels >= 0) & (counts[np.maximum(labels, 0)] < self.min_clicks)
        labels[small] = -1
        # Dense ids 0..k-1 in order of first appearance.
        kept = labels >= 0
        _, first, dense = np.unique(labels[kept], return_index=True, return_inverse=True)
        order = np.argsort(np.argsort(first))
        labels[kept] = order[dense]
        return labels.astype(np.int64)


# --8<-- [end:class]
