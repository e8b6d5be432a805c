"""Find strategies by name; third-party packages add theirs by entry point.

A package registers a strategy class (a :class:`BaseStrategy` subclass) in its
``pyproject.toml``::

    [project.entry-points."cellconsensus.strategies"]
    my-strategy = "my_package.module:MyStrategy"
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Any

from ._base import BaseStrategy
from .agglomerative import AgglomerativeStrategy
from .dbscan import DBSCANStrategy
from .hdbscan import HDBSCANStrategy
from .kmeans import KMeansStrategy
from .radius import RadiusStrategy
from .radius_thesis import ThesisRadiusStrategy

__all__ = ["ENTRY_POINT_GROUP", "available_strategies", "get_strategy", "register_strategy"]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "cellconsensus.strategies"

_BUILTIN: dict[str, type[BaseStrategy]] = {
    cls.name: cls
    for cls in (
        DBSCANStrategy,
        HDBSCANStrategy,
        RadiusStrategy,
        ThesisRadiusStrategy,
        KMeansStrategy,
        AgglomerativeStrategy,
    )
}
_REGISTERED: dict[str, type[BaseStrategy]] = {}


def register_strategy(cls: type[BaseStrategy], name: str | None = None) -> type[BaseStrategy]:
    """Register a strategy class under ``name`` (default ``cls.name``); usable as a decorator.

    Examples
    --------
    >>> import numpy as np
    >>> from cellconsensus.strategies import BaseStrategy
    >>> @register_strategy
    ... class Everything(BaseStrategy):
    ...     name = "everything-one-cell"
    ...     def __init__(self): pass
    ...     def _cluster_image(self, X, annotators):
    ...         return np.zeros(len(X), np.int64)
    >>> "everything-one-cell" in available_strategies()
    True
    >>> _ = _REGISTERED.pop("everything-one-cell")  # keep the doctest from leaking
    """
    if not (isinstance(cls, type) and issubclass(cls, BaseStrategy)):
        raise TypeError(f"{cls!r} is not a BaseStrategy subclass")
    key = name or cls.name
    if not key:
        raise ValueError(f"{cls.__name__} has no name; set the class attribute 'name'")
    _REGISTERED[key] = cls
    return cls


def _plugins() -> dict[str, type[BaseStrategy]]:
    found: dict[str, type[BaseStrategy]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin must not break the library
            logger.warning("cannot load strategy plugin %r (%s): %s", ep.name, ep.value, exc)
            continue
        if isinstance(cls, type) and issubclass(cls, BaseStrategy):
            found[ep.name] = cls
        else:
            logger.warning(
                "strategy plugin %r (%s) is not a BaseStrategy subclass", ep.name, ep.value
            )
    return found


def _all() -> dict[str, type[BaseStrategy]]:
    return {**_plugins(), **_REGISTERED, **_BUILTIN}


def available_strategies() -> list[str]:
    """Names of every strategy: built in, registered, or from entry points.

    Examples
    --------
    >>> available_strategies()[:3]
    ['agglomerative', 'dbscan', 'hdbscan']
    """
    return sorted(_all())


def get_strategy(name: str | BaseStrategy, **params: Any) -> BaseStrategy:
    """Return a strategy instance by name, with parameters validated up front.

    Parameters
    ----------
    name : str or BaseStrategy
        Registry name (see :func:`available_strategies`), or an instance,
        which is returned (with ``params`` applied to a copy).
    **params
        Strategy parameters, e.g. ``eps=12`` or ``eps="auto"``.

    Examples
    --------
    >>> get_strategy("dbscan", eps=15)
    DBSCANStrategy(eps=15)
    >>> get_strategy("dbscan", eps=-1)
    Traceback (most recent call last):
    ...
    cellconsensus.errors.InvalidParameterError: The 'eps' parameter of DBSCANStrategy must be a float in the range (0, inf) or a str among ['auto']. Got -1 instead.
    """
    if isinstance(name, BaseStrategy):
        strategy = name.clone()
    else:
        registry = _all()
        if name not in registry:
            raise ValueError(f"unknown strategy {name!r}; available: {', '.join(sorted(registry))}")
        strategy = registry[name]()
    strategy.set_params(**params)
    strategy._validate_params()
    return strategy
