"""Label aggregation: from each cell's votes to ``p_alive`` and a label.

===============  ==========================================================
``mean``         the thesis: alive 1, dead 0, unsure 0.5, averaged
``majority``     alive vs dead majority; unsure votes abstain
``dawid-skene``  EM over annotator confusions shrunk toward the crowd's, all images
===============  ==========================================================
"""

from __future__ import annotations

from typing import Any

from ._base import BaseAggregator, encode_votes, label_from_proba
from .dawid_skene import DawidSkeneAggregator
from .majority import MajorityAggregator
from .mean import MeanAggregator

__all__ = [
    "BaseAggregator",
    "MeanAggregator",
    "MajorityAggregator",
    "DawidSkeneAggregator",
    "available_aggregators",
    "get_aggregator",
    "label_from_proba",
    "encode_votes",
]

_AGGREGATORS: dict[str, type[BaseAggregator]] = {
    cls.name: cls for cls in (MeanAggregator, MajorityAggregator, DawidSkeneAggregator)
}


def available_aggregators() -> list[str]:
    """Names of the label aggregators.

    Examples
    --------
    >>> available_aggregators()
    ['dawid-skene', 'majority', 'mean']
    """
    return sorted(_AGGREGATORS)


def get_aggregator(name: str | BaseAggregator, **params: Any) -> BaseAggregator:
    """Return an aggregator by name (or the instance given), parameters validated.

    Examples
    --------
    >>> get_aggregator("dawid-skene", max_iter=50)
    DawidSkeneAggregator(unsure_margin=0.0, max_iter=50, tol=1e-06, shrinkage='auto')
    """
    if isinstance(name, BaseAggregator):
        aggregator = name
    elif name in _AGGREGATORS:
        aggregator = _AGGREGATORS[name](**params)
    else:
        raise ValueError(
            f"unknown label aggregation {name!r}; available: {', '.join(available_aggregators())}"
        )
    aggregator._validate_params()
    return aggregator
