"""Parameters the scikit-learn way, for strategies, label models and plugins alike.

:class:`BaseParams` is the base of :class:`~cellconsensus.strategies.BaseStrategy`
and :class:`~cellconsensus.labels.BaseAggregator`: keyword-only ``__init__``
parameters stored as given, ``get_params`` / ``set_params`` (nested
``name__param`` keys included), :meth:`~BaseParams.clone`, a ``repr`` that shows
what differs from the defaults, and validation against
``_parameter_constraints`` when the object is used, not when it is built.

Each class declares, per parameter, a list of accepted constraints; any one
matching is enough. A constraint is a type (``Integral``), ``None``, an
:class:`Interval` or a :class:`StrOptions`. Written here rather than imported
from scikit-learn's private API.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, ClassVar, Literal

from .errors import InvalidParameterError

__all__ = ["BaseParams", "Interval", "StrOptions", "validate_params"]


@dataclass(frozen=True)
class Interval:
    """Numbers of ``type`` between ``left`` and ``right`` (``None`` = unbounded).

    Examples
    --------
    >>> Interval(Real, 0, None, closed="neither").is_satisfied_by(2.5)
    True
    >>> Interval(Integral, 1, None, closed="left").is_satisfied_by(0)
    False
    """

    type: type
    left: float | None
    right: float | None
    closed: Literal["left", "right", "both", "neither"] = "both"

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, self.type):
            return False
        if isinstance(value, Real) and value != value:  # NaN
            return False
        if self.left is not None:
            if value < self.left or (value == self.left and self.closed in ("right", "neither")):
                return False
        if self.right is not None:
            if value > self.right or (value == self.right and self.closed in ("left", "neither")):
                return False
        return True

    def __str__(self) -> str:
        kind = (
            "an int"
            if self.type is Integral
            else "a float"
            if self.type is Real
            else self.type.__name__
        )
        lo = "-inf" if self.left is None else self.left
        hi = "inf" if self.right is None else self.right
        lb = "[" if self.closed in ("left", "both") and self.left is not None else "("
        rb = "]" if self.closed in ("right", "both") and self.right is not None else ")"
        return f"{kind} in the range {lb}{lo}, {hi}{rb}"


@dataclass(frozen=True)
class StrOptions:
    """One of a fixed set of strings.

    Examples
    --------
    >>> StrOptions({"auto"}).is_satisfied_by("auto")
    True
    """

    options: frozenset[str]

    def __init__(self, options: set[str]) -> None:
        object.__setattr__(self, "options", frozenset(options))

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.options

    def __str__(self) -> str:
        return f"a str among {sorted(self.options)}"


def _satisfied(constraint: Any, value: Any) -> bool:
    if constraint is None:
        return value is None
    if isinstance(constraint, type):
        return isinstance(value, constraint) and (constraint is bool or not isinstance(value, bool))
    return constraint.is_satisfied_by(value)


def _describe(constraint: Any) -> str:
    if constraint is None:
        return "None"
    if isinstance(constraint, type):
        return f"an instance of {constraint.__name__}"
    return str(constraint)


def validate_params(constraints: dict[str, list], params: dict[str, Any], owner: str) -> None:
    """Raise :class:`~cellconsensus.errors.InvalidParameterError` (a ``ValueError``) naming
    the first parameter that fits no constraint.

    Examples
    --------
    >>> validate_params({"eps": [Interval(Real, 0, None, closed="neither")]}, {"eps": -1}, "DBSCAN")
    Traceback (most recent call last):
    ...
    cellconsensus.errors.InvalidParameterError: The 'eps' parameter of DBSCAN must be a float in the range (0, inf). Got -1 instead.
    """
    for name, value in params.items():
        accepted = constraints.get(name)
        if accepted is None:
            continue
        if any(_satisfied(c, value) for c in accepted):
            continue
        options = [_describe(c) for c in accepted]
        text = options[0] if len(options) == 1 else ", ".join(options[:-1]) + " or " + options[-1]
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be {text}. Got {value!r} instead."
        )


class BaseParams:
    """Base of every parameterised object: strategies, aggregators, plugins.

    Subclasses take their parameters as keyword-only ``__init__`` arguments and
    store each, unchanged, as an attribute of the same name; they list what
    each accepts in ``_parameter_constraints``, checked by
    :meth:`_validate_params` when the object is used.

    Examples
    --------
    >>> class Smoother(BaseParams):
    ...     _parameter_constraints = {"width": [Interval(Real, 0, None, closed="neither")]}
    ...     def __init__(self, *, width=1.0, mode="flat"):
    ...         self.width = width
    ...         self.mode = mode
    >>> s = Smoother(width=2.0)
    >>> s
    Smoother(width=2.0)
    >>> s.get_params()
    {'width': 2.0, 'mode': 'flat'}
    >>> s.clone().set_params(mode="gauss")
    Smoother(width=2.0, mode='gauss')
    >>> Smoother(width=-1)._validate_params()
    Traceback (most recent call last):
    ...
    cellconsensus.errors.InvalidParameterError: The 'width' parameter of Smoother must be a float in the range (0, inf). Got -1 instead.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {}

    @classmethod
    def _param_names(cls) -> list[str]:
        """The keyword-only parameters of ``__init__``, in signature order."""
        sig = inspect.signature(cls.__init__)
        return [
            p.name for p in sig.parameters.values() if p.name != "self" and p.kind == p.KEYWORD_ONLY
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The parameters by name; with ``deep``, those of parameters that have parameters
        too, as ``name__param``."""
        out: dict[str, Any] = {}
        for name in self._param_names():
            value = getattr(self, name)
            out[name] = value
            if deep and isinstance(value, BaseParams):
                out.update((f"{name}__{k}", v) for k, v in value.get_params(deep=True).items())
        return out

    def set_params(self, **params: Any) -> BaseParams:
        """Set parameters by name (``name__param`` reaches into a parameter); returns ``self``."""
        valid = self._param_names()
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, sep, sub = key.partition("__")
            if name not in valid:
                raise InvalidParameterError(
                    f"Invalid parameter {name!r} for {type(self).__name__}; "
                    f"valid: {', '.join(valid)}"
                )
            if sep:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def clone(self) -> BaseParams:
        """A new, unfitted object with the same parameters (deep copies).

        Examples
        --------
        >>> from cellconsensus.strategies import DBSCANStrategy
        >>> s = DBSCANStrategy(eps=12.0)
        >>> s.clone() == s and s.clone() is not s
        True
        """
        params = {
            k: v.clone() if isinstance(v, BaseParams) else copy.deepcopy(v)
            for k, v in self.get_params(deep=False).items()
        }
        return type(self)(**params)

    def _validate_params(self) -> None:
        """Raise ``ValueError`` naming the first parameter that fits none of its constraints."""
        validate_params(
            self._parameter_constraints, self.get_params(deep=False), type(self).__name__
        )

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        changed = {
            k: v
            for k, v in self.get_params(deep=False).items()
            if defaults.get(k, inspect.Parameter.empty) != v
        }
        args = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"{type(self).__name__}({args})"
