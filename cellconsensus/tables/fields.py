"""Checks of one field of a table (Clicks, Cells, truth), each naming the file, row and field
of the first bad value: required columns, coordinates, labels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import CellConsensusInputError
from .schema import LABEL_DTYPE
from .vocabulary import ALIVE_DEAD, Vocabulary, as_vocabulary

__all__ = [
    "MAX_COORDINATE",
    "row_of",
    "require_columns",
    "raise_first",
    "check_coordinate",
    "check_labels",
]


def row_of(origin: Sequence[str] | None, i: int) -> str:
    """Where row ``i`` came from: ``origin[i]`` (e.g. ``"record 12, click 3"``) or ``"row i+1"``."""
    return origin[i] if origin is not None else f"row {i + 1}"


def require_columns(table: pd.DataFrame, columns: Sequence[str], kind: str, source: str) -> None:
    """Raise naming the columns a ``kind`` table lacks."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise CellConsensusInputError(
            f"missing column(s) {', '.join(missing)}; a {kind} table needs {', '.join(columns)}",
            source=source,
        )


#: Largest magnitude of a coordinate, in pixels: ten times the side of the largest
#: whole-slide images. Beyond it a value is not a position on an image (and would overflow
#: the distance computations of the strategies, e.g. 1e300 squared).
MAX_COORDINATE = 1e7


def raise_first(bad: np.ndarray, message, source: str, origin, column: str) -> None:
    """Raise ``message(first row, count)`` naming the first bad row, if any."""
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CellConsensusInputError(
            message(i, int(bad.sum())), source=source, row=row_of(origin, i), field=column
        )


def check_coordinate(df: pd.DataFrame, column: str, source: str, origin) -> np.ndarray:
    """A column as finite float64 within :data:`MAX_COORDINATE`; else an error naming the row."""
    raw = df[column]
    try:
        # Python's float(): exact round trip of text (pandas 2's to_numeric is not).
        values = raw.astype("float64").to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError):
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    raise_first(
        ~np.isfinite(values),
        lambda i, n: (
            f"coordinate must be a finite number, got {raw.iloc[i]!r} "
            f"({n} such value(s) in the column)"
        ),
        source,
        origin,
        column,
    )
    raise_first(
        np.abs(values) > MAX_COORDINATE,
        lambda i, n: (
            f"coordinate {values[i]:g} is beyond +-{MAX_COORDINATE:g} px, not a "
            f"position on an image ({n} such value(s) in the column)"
        ),
        source,
        origin,
        column,
    )
    return values


def check_labels(
    df: pd.DataFrame, source: str, origin, classes: Vocabulary | Sequence[str] | None = None
) -> tuple[pd.Categorical, Vocabulary]:
    """The label column as a categorical of its vocabulary's answers, and the vocabulary
    (``classes``, else ``attrs["classes"]``, else inferred from the labels)."""
    raw = df["label"]
    if classes is None and isinstance(raw.dtype, pd.CategoricalDtype) and raw.dtype == LABEL_DTYPE:
        return pd.Categorical.from_codes(np.asarray(raw.cat.codes), dtype=LABEL_DTYPE), ALIVE_DEAD
    given = classes if classes is not None else df.attrs.get("classes")
    vocabulary = as_vocabulary(given, raw, source)
    codes = vocabulary.codes(raw)
    answers = vocabulary.answers
    raise_first(
        codes < 0,
        lambda i, _: (
            f"unknown label {raw.iloc[i]!r}; expected one of {', '.join(answers)}"
            + ("" if classes is not None else " (another label set: pass classes=[...])")
        ),
        source,
        origin,
        "label",
    )
    dtype = LABEL_DTYPE if vocabulary.is_alive_dead else pd.CategoricalDtype(list(answers))
    return pd.Categorical.from_codes(codes, dtype=dtype), vocabulary
