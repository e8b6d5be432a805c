"""Label aggregation: from each cell's votes to ``p_alive`` and a label (or, for any
label set, :class:`Vocabulary`, one probability per class).

===============  ==========================================================
``mean``         the thesis: alive 1, dead 0, unsure 0.5, averaged
``majority``     alive vs dead majority; unsure votes abstain
``dawid-skene``  EM over annotator confusions shrunk toward the crowd's, all images
===============  ==========================================================
"""

from __future__ import annotations

from typing import Any

from ..tables.vocabulary import ALIVE_DEAD, Vocabulary
from ._base import (
    ALIVE,
    DEAD,
    UNSURE,
    BaseAggregator,
    cell_label_columns,
    encode_votes,
    label_from_class_proba,
    label_from_proba,
)
from .dawid_skene import DawidSkeneAggregator
from .majority import MajorityAggregator
from .mean import MeanAggregator

__all__ = [
    "ALIVE",
    "DEAD",
    "UNSURE",
    "BaseAggregator",
    "MeanAggregator",
    "MajorityAggregator",
    "DawidSkeneAggregator",
    "available_aggregators",
    "get_aggregator",
    "label_from_proba",
    "cell_label_columns",
    "label_from_class_proba",
    "encode_votes",
    "Vocabulary",
    "ALIVE_DEAD",
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
    """Return a new aggregator by name, or a copy of the instance given, with ``params``
    applied and validated (the caller's object is never fitted or changed).

    Examples
    --------
    >>> get_aggregator("dawid-skene", max_iter=50)
    DawidSkeneAggregator(max_iter=50)
    >>> mine = MajorityAggregator()
    >>> copy = get_aggregator(mine, unsure_margin=0.1)
    >>> copy, mine
    (MajorityAggregator(unsure_margin=0.1), MajorityAggregator())
    """
    if isinstance(name, BaseAggregator):
        aggregator = name.clone()
    elif name in _AGGREGATORS:
        aggregator = _AGGREGATORS[name]()
    else:
        raise ValueError(
            f"unknown label aggregation {name!r}; available: {', '.join(available_aggregators())}"
        )
    aggregator.set_params(**params)
    aggregator._validate_params()
    return aggregator
