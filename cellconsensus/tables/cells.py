"""The Cells and ground-truth tables: validation, and tables grouped by image."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import CellConsensusInputError
from .fields import check_coordinate, check_labels, require_columns
from .schema import CELL_COLUMNS, TRUTH_REQUIRED
from .vocabulary import ALIVE_DEAD, Vocabulary, as_vocabulary

__all__ = [
    "validate_cells",
    "validate_truth",
    "split_by_image",
    "image_ids_of",
    "cells_vocabulary",
    "class_proba",
]


def cells_vocabulary(
    cells: pd.DataFrame, classes: Vocabulary | Sequence[str] | None = None
) -> Vocabulary:
    """The label set of a Cells table: ``classes``, else ``attrs["classes"]``, else its
    ``p_<class>`` columns in order (alive / dead for ``p_alive`` alone), else the labels
    of its ``label`` column (:meth:`Vocabulary.infer`, e.g. of a truth table).

    Examples
    --------
    >>> cells_vocabulary(pd.DataFrame(columns=["p_goose", "p_parrot", "p_real"])).classes
    ('goose', 'parrot')
    >>> cells_vocabulary(pd.DataFrame({"label": ["egg", "chick"]})).classes
    ('chick', 'egg')
    """
    if classes is not None or cells.attrs.get("classes") is not None:
        return as_vocabulary(classes if classes is not None else cells.attrs["classes"], [])
    names = [str(c)[2:] for c in cells.columns if str(c).startswith("p_") and c != "p_real"]
    if not names and "label" in cells.columns:
        return Vocabulary.infer(cells["label"], source="<cells>")
    return ALIVE_DEAD if names in ([], ["alive"]) else Vocabulary(tuple(names))


def class_proba(cells: pd.DataFrame, vocabulary: Vocabulary | None = None) -> np.ndarray:
    """``(n_cells, K)`` class probabilities of a Cells table, in its label set's order
    (``p_alive`` and its complement for alive / dead).

    Examples
    --------
    >>> class_proba(pd.DataFrame({"p_alive": [0.75]})).tolist()
    [[0.75, 0.25]]
    """
    vocabulary = vocabulary or cells_vocabulary(cells)
    if vocabulary.is_alive_dead:
        p = cells["p_alive"].to_numpy(dtype="float64")
        return np.column_stack([p, 1.0 - p])
    return cells[[f"p_{c}" for c in vocabulary.classes]].to_numpy(dtype="float64")


def validate_cells(
    cells: pd.DataFrame,
    *,
    source: str = "<cells>",
    classes: Vocabulary | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Check a Cells table: required columns, unique ``cell_id`` per image, ranges.

    Parameters
    ----------
    cells : DataFrame
        A Cells table, e.g. ``find_consensus(...).cells``.
    source : str
        Name used in error messages.
    classes : Vocabulary or sequence of str, optional
        Its label set (default: :func:`cells_vocabulary`): alive / dead needs ``p_alive``,
        any other set a ``p_<class>`` column per class.

    Returns
    -------
    DataFrame
        The same table with ``label`` as the categorical of its label set.

    Examples
    --------
    >>> import pandas as pd
    >>> cells = pd.DataFrame({"image_id": ["a"], "cell_id": [0], "x": [1.0], "y": [2.0],
    ...     "n_annotators": [3], "support": [1.0], "p_alive": [1.0], "label": ["alive"],
    ...     "spread": [0.5]})
    >>> from cellconsensus.tables import LABEL_DTYPE
    >>> validate_cells(cells)["label"].dtype == LABEL_DTYPE
    True
    """
    vocabulary = cells_vocabulary(cells, classes)
    if vocabulary.is_alive_dead:
        probabilities = ["p_alive"]
    else:
        probabilities = [f"p_{c}" for c in vocabulary.classes]
    required = [c for c in CELL_COLUMNS if c != "p_alive"] + probabilities
    require_columns(cells, required, "Cells", source)
    out = cells.copy()
    out["label"] = check_labels(out, source, None, vocabulary)[0]
    for column in ("x", "y", *probabilities, "support", "spread"):
        out[column] = check_coordinate(out, column, source, None)
    for column in (*probabilities, "support"):
        bad = (out[column] < 0.0) | (out[column] > 1.0)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise CellConsensusInputError(
                f"value {out[column].iloc[i]!r} outside [0.0, 1.0]",
                source=source,
                row=f"row {i + 1}",
                field=column,
            )
    if out.duplicated(["image_id", "cell_id"]).any():
        i = int(np.flatnonzero(out.duplicated(["image_id", "cell_id"]).to_numpy())[0])
        raise CellConsensusInputError(
            "cell_id is not unique within its image",
            source=source,
            row=f"row {i + 1}",
            field="cell_id",
        )
    if not vocabulary.is_alive_dead:
        out.attrs["classes"] = vocabulary
    return out


def image_ids_of(table: pd.DataFrame, image_ids: Sequence | None = None) -> list:
    """The images a table covers: ``image_ids`` when given, else ``attrs["image_ids"]``
    (which lists images without any row too), else the ids in order of appearance.

    Examples
    --------
    >>> t = pd.DataFrame({"image_id": ["b", "a", "b"]})
    >>> image_ids_of(t), image_ids_of(t, ["c"])
    (['b', 'a'], ['c'])
    >>> t.attrs["image_ids"] = ["a", "b", "empty"]
    >>> image_ids_of(t)
    ['a', 'b', 'empty']
    """
    if image_ids is not None:
        return list(image_ids)
    return list(table.attrs.get("image_ids") or pd.unique(table["image_id"]))


def split_by_image(
    table: pd.DataFrame, image_ids: Sequence[str] | None = None
) -> list[tuple[str, pd.DataFrame]]:
    """``(image_id, rows)`` per image, in order, images without rows included.

    Parameters
    ----------
    table : DataFrame
        Any table with an ``image_id`` column (truth, Clicks, Cells).
    image_ids : sequence of str, optional
        The images, in order; default ``table.attrs["image_ids"]``, else the
        ids in ``table`` in order of appearance.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"image_id": ["b", "a", "b"], "x": [1, 2, 3]})
    >>> [(i, len(rows)) for i, rows in split_by_image(t, ["a", "b", "c"])]
    [('a', 1), ('b', 2), ('c', 0)]
    """
    image_ids = image_ids_of(table, image_ids)
    plain = table.copy(deep=False)
    plain.attrs = {}  # or pandas deep-copies attrs (e.g. a long id list) into every group
    by_image = dict(tuple(plain.groupby("image_id", sort=False)))
    empty = plain.iloc[:0]
    return [(image_id, by_image.get(image_id, empty)) for image_id in image_ids]


def validate_truth(
    truth: pd.DataFrame,
    *,
    source: str = "<truth>",
    classes: Vocabulary | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Check a ground-truth table: ``image_id, x, y, label`` and optional sizes.

    ``x``, ``y`` and any of ``size``, ``width``, ``height``, ``image_width``,
    ``image_height`` present must be finite numbers; ``size`` defaults to the
    mean of ``width`` and ``height`` when those are given.

    Parameters
    ----------
    truth : DataFrame
        E.g. read from a CSV written by :func:`~cellconsensus.io.write_truth`.
    source : str
        Name used in error messages.
    classes : Vocabulary or sequence of str, optional
        Its label set (default ``attrs["classes"]``, else inferred from the labels:
        alive / dead when they occur).

    Returns
    -------
    DataFrame
        A copy with ``image_id`` as str objects and ``label`` categorical.

    Examples
    --------
    >>> import pandas as pd
    >>> t = validate_truth(pd.DataFrame({"image_id": [1], "x": [2], "y": [3], "label": ["dead"]}))
    >>> t["image_id"].tolist(), t["label"].tolist()
    (['1'], ['dead'])
    """
    require_columns(truth, TRUTH_REQUIRED, "truth", source)
    out = truth.copy()
    out["image_id"] = out["image_id"].astype(str).astype(object)
    out["label"], vocabulary = check_labels(out, source, None, classes)
    if not vocabulary.is_alive_dead:
        out.attrs["classes"] = vocabulary
    numeric = ("x", "y", "size", "width", "height", "image_width", "image_height")
    for column in (c for c in numeric if c in out.columns):
        out[column] = check_coordinate(out, column, source, None)
    if "size" not in out.columns and {"width", "height"} <= set(out.columns):
        out["size"] = (out["width"] + out["height"]) / 2
    return out
