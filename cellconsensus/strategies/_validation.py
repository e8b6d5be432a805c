"""Up-front parameter validation in the style of scikit-learn's ``_parameter_constraints``.

Each estimator declares, per parameter, a list of accepted constraints; any one
matching is enough. A constraint is a type (``Integral``), ``None``, an
:class:`Interval` or a :class:`StrOptions`. Written here rather than imported
from scikit-learn's private API.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Literal

__all__ = ["Interval", "StrOptions", "validate_params"]


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
    """Raise ``ValueError`` (or ``TypeError``) naming the first parameter that fits no constraint.

    Examples
    --------
    >>> validate_params({"eps": [Interval(Real, 0, None, closed="neither")]}, {"eps": -1}, "DBSCAN")
    Traceback (most recent call last):
    ...
    ValueError: The 'eps' parameter of DBSCAN must be a float in the range (0, inf). Got -1 instead.
    """
    for name, value in params.items():
        accepted = constraints.get(name)
        if accepted is None:
            continue
        if any(_satisfied(c, value) for c in accepted):
            continue
        options = [_describe(c) for c in accepted]
        text = options[0] if len(options) == 1 else ", ".join(options[:-1]) + " or " + options[-1]
        raise ValueError(
            f"The {name!r} parameter of {owner} must be {text}. Got {value!r} instead."
        )
