"""Consensus strategies: turn one image's clicks into clusters.

=====================  ==========================================================
``dbscan`` (default)   DBSCAN, vectorised across images (scikit-learn's labels)
``hdbscan``            scikit-learn's HDBSCAN, no scale to tune
``radius``             greedy merge within R, done right
``radius-thesis``      the 2020 thesis' rule, quirks included, for comparison
``kmeans``             k-means with k from the annotators' click counts
``agglomerative``      complete linkage with a cap on cluster diameter
=====================  ==========================================================
"""

from ._base import BaseStrategy
from .agglomerative import AgglomerativeStrategy
from .dbscan import DBSCANStrategy
from .hdbscan import HDBSCANStrategy
from .kmeans import KMeansStrategy
from .radius import RadiusStrategy
from .radius_thesis import ThesisRadiusStrategy
from .registry import ENTRY_POINT_GROUP, available_strategies, get_strategy, register_strategy
from .scale import (
    SCALE_SAMPLE_CLICKS,
    estimate_scale,
    scale_from_median,
    scale_image_sample,
    scale_samples,
)

__all__ = [
    "BaseStrategy",
    "AgglomerativeStrategy",
    "DBSCANStrategy",
    "HDBSCANStrategy",
    "KMeansStrategy",
    "RadiusStrategy",
    "ThesisRadiusStrategy",
    "ENTRY_POINT_GROUP",
    "available_strategies",
    "get_strategy",
    "register_strategy",
    "estimate_scale",
    "scale_from_median",
    "scale_samples",
    "scale_image_sample",
    "SCALE_SAMPLE_CLICKS",
]
