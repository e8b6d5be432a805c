"""The Clicks table: validation, integer codes, canvas policies, runs per image."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import CellConsensusInputError
from .fields import check_coordinate, check_labels, require_columns, row_of
from .schema import (
    CLICK_COLUMNS,
    OUT_OF_CANVAS_POLICIES,
    InputReport,
    OutOfCanvas,
)
from .vocabulary import ALIVE_DEAD, Vocabulary

__all__ = ["ClickCodes", "validate_clicks", "encode_clicks", "count_runs"]

logger = logging.getLogger(__name__)


def _encode_ids(
    df: pd.DataFrame, column: str, source: str, origin
) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and sorted string names of an id column; errors name the row.

    Only the distinct values are checked and turned into strings, so this
    costs one hash pass over the column, however long it is.
    """
    codes, uniques = pd.factorize(df[column], use_na_sentinel=True)
    if (codes < 0).any():
        i = int(np.flatnonzero(codes < 0)[0])
        raise CellConsensusInputError(
            "missing identifier", source=source, row=row_of(origin, i), field=column
        )
    names = np.array([str(u) for u in uniques], dtype=object)
    empty = names == ""
    if empty.any():
        i = int(np.flatnonzero(empty[codes])[0])
        raise CellConsensusInputError(
            "empty identifier", source=source, row=row_of(origin, i), field=column
        )
    # Sort the names, and merge values that only differ in type (3 and "3").
    final, sorted_names = pd.factorize(names, sort=True)
    return final[codes].astype(np.int64), np.asarray(sorted_names, dtype=object)


def _id_column(names: np.ndarray, codes: np.ndarray):
    """The id column ``names[codes]``, built without converting every row's string.

    pandas stores the distinct names once (as its default string dtype) and
    takes them by code, which is about ten times faster than handing it
    millions of Python strings.
    """
    return pd.Index(names).take(codes).array


def _densify(codes: np.ndarray, names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop names no code uses any more (after rows were removed)."""
    used, inverse = np.unique(codes, return_inverse=True)
    return inverse.astype(np.int64), names[used]


@dataclass
class ClickCodes:
    """Integer encoding of a validated Clicks table, for vectorised work.

    ``images[image]`` and ``annotators[annotator]`` give back the ids; both
    name arrays are sorted, so codes order like the ids do.
    """

    image: np.ndarray
    images: np.ndarray
    annotator: np.ndarray
    annotators: np.ndarray
    label: np.ndarray
    #: The label set: ``label`` codes are 0..K-1 its classes, K its unsure answer.
    vocabulary: Vocabulary = ALIVE_DEAD


def validate_clicks(
    clicks: pd.DataFrame,
    *,
    source: str = "<clicks>",
    origin: Sequence[str] | None = None,
    canvas: tuple[float, float] | None = None,
    out_of_canvas: OutOfCanvas = "keep",
    report: InputReport | None = None,
    classes: Vocabulary | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Check a Clicks table and return it normalised.

    Every reader calls this function. It checks that the required columns are
    there, identifiers are present, coordinates are finite numbers and labels
    are known, and applies the out-of-canvas policy.

    Parameters
    ----------
    clicks : DataFrame
        Columns ``image_id``, ``annotator_id``, ``x``, ``y``, ``label`` and
        optionally ``run_id``; other columns are dropped.
    source : str, default "<clicks>"
        Name of the input, used in error messages.
    origin : sequence of str, optional
        For each row, where it came from (e.g. ``"record 12, click 3"``),
        used in error messages; by default ``"row N"``.
    canvas : (width, height), optional
        Size of the image or web canvas the clicks were made on. Coordinates
        must lie in ``[0, width] x [0, height]``.
    out_of_canvas : {"keep", "clip", "drop", "raise"}, default "keep"
        What to do with clicks outside the canvas: keep them as they are, move
        them onto the nearest edge, remove them, or raise
        :class:`CellConsensusInputError`. Ignored without ``canvas``. The
        number affected is recorded in the report.
    report : InputReport, optional
        Report to update; a new one is made when omitted.
    classes : Vocabulary or sequence of str, optional
        The label set (default: ``clicks.attrs["classes"]``, else inferred from the
        labels: alive / dead / unsure when either class is among them).

    Returns
    -------
    DataFrame
        A new Clicks table with normalised dtypes and a fresh RangeIndex; its
        ``attrs["report"]`` holds the :class:`InputReport`, and ``attrs["classes"]``
        the :class:`~cellconsensus.tables.vocabulary.Vocabulary` of any other label set.

    Raises
    ------
    CellConsensusInputError
        Naming the source, row and field of the first bad value.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"image_id": ["a", "a"], "annotator_id": ["u1", "u2"],
    ...                     "x": [10, 530.0], "y": [5, -3], "label": ["alive", "dead"]})
    >>> clicks = validate_clicks(raw, canvas=(524, 391), out_of_canvas="clip")
    >>> clicks[["x", "y"]].to_numpy().tolist()
    [[10.0, 5.0], [524.0, 0.0]]
    >>> clicks.attrs["report"].n_clipped
    1
    """
    return encode_clicks(
        clicks,
        source=source,
        origin=origin,
        canvas=canvas,
        out_of_canvas=out_of_canvas,
        report=report,
        classes=classes,
    )[0]


def encode_clicks(
    clicks: pd.DataFrame,
    *,
    source: str = "<clicks>",
    origin: Sequence[str] | None = None,
    canvas: tuple[float, float] | None = None,
    out_of_canvas: OutOfCanvas = "keep",
    report: InputReport | None = None,
    classes: Vocabulary | Sequence[str] | None = None,
) -> tuple[pd.DataFrame, ClickCodes]:
    """:func:`validate_clicks`, also returning the integer codes it computed on the way.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"image_id": ["b", "a"], "annotator_id": ["u1", "u1"],
    ...                     "x": [1, 2], "y": [1, 2], "label": ["alive", "dead"]})
    >>> clicks, codes = encode_clicks(raw)
    >>> codes.image.tolist(), codes.images.tolist(), codes.label.tolist()
    ([1, 0], ['a', 'b'], [0, 1])
    """
    if not isinstance(clicks, pd.DataFrame):
        raise CellConsensusInputError(
            f"expected a pandas DataFrame, got {type(clicks).__name__}", source=source
        )
    require_columns(clicks, CLICK_COLUMNS, "Clicks", source)
    if out_of_canvas not in OUT_OF_CANVAS_POLICIES:
        raise ValueError(
            f"out_of_canvas must be one of {OUT_OF_CANVAS_POLICIES}, got {out_of_canvas!r}"
        )
    if canvas is not None:
        canvas = _check_canvas(canvas)
    report = report if report is not None else InputReport(sources=[source])
    image, images = _encode_ids(clicks, "image_id", source, origin)
    annotator, annotators = _encode_ids(clicks, "annotator_id", source, origin)
    labels, vocabulary = check_labels(clicks, source, origin, classes)
    out = pd.DataFrame(
        {
            "image_id": _id_column(images, image),
            "annotator_id": _id_column(annotators, annotator),
            "x": check_coordinate(clicks, "x", source, origin),
            "y": check_coordinate(clicks, "y", source, origin),
            "label": labels,
        }
    )
    if "run_id" in clicks.columns:
        run, runs = _encode_ids(clicks, "run_id", source, origin)
        out["run_id"] = _id_column(runs, run)
    codes = ClickCodes(image, images, annotator, annotators, np.asarray(labels.codes, np.int64),
                       vocabulary)  # fmt: skip

    if canvas is not None:
        kept = _apply_canvas(out, canvas, out_of_canvas, report, source, origin)
        if kept is not None:
            out = out.loc[kept].reset_index(drop=True)
            image, images = _densify(image[kept], images)
            annotator, annotators = _densify(annotator[kept], annotators)
            codes = ClickCodes(image, images, annotator, annotators, codes.label[kept], vocabulary)
    report.n_clicks = len(out)
    out.attrs["report"] = report
    if not vocabulary.is_alive_dead:
        out.attrs["classes"] = vocabulary
    return out, codes


def _check_canvas(canvas) -> tuple[float, float]:
    """``(width, height)``, both finite and positive, or a ValueError saying what is wrong."""
    try:
        width, height = (float(v) for v in canvas)
    except (TypeError, ValueError):
        raise ValueError(f"canvas must be (width, height) in pixels, got {canvas!r}") from None
    if not (np.isfinite(width) and np.isfinite(height) and width > 0 and height > 0):
        raise ValueError(f"canvas must be a finite, positive (width, height), got {canvas!r}")
    return width, height


def _apply_canvas(out, canvas, policy, report, source, origin) -> np.ndarray | None:
    """Apply the out-of-canvas policy in place; return the rows to keep when dropping."""
    width, height = (float(v) for v in canvas)
    x, y = out["x"].to_numpy(), out["y"].to_numpy()
    outside = (x < 0) | (x > width) | (y < 0) | (y > height)
    n_out = int(outside.sum())
    report.out_of_canvas = policy
    report.n_out_of_canvas += n_out
    if not n_out:
        return None
    if policy == "raise":
        i = int(np.flatnonzero(outside)[0])
        raise CellConsensusInputError(
            f"click ({x[i]:g}, {y[i]:g}) lies outside the {width:g} x {height:g} canvas "
            f"({n_out} such click(s)); choose out_of_canvas='keep', 'clip' or 'drop'",
            source=source,
            row=row_of(origin, i),
            field="x" if (x[i] < 0 or x[i] > width) else "y",
        )
    if policy == "clip":
        out["x"] = np.clip(x, 0.0, width)
        out["y"] = np.clip(y, 0.0, height)
        report.n_clipped += n_out
    logger.info("%s: %d click(s) outside the canvas, policy %r", source, n_out, policy)
    if policy == "drop":
        report.n_dropped_out_of_canvas += n_out
        return ~outside
    return None


def count_runs(
    codes: ClickCodes, runs: pd.DataFrame | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Annotators per image: those who clicked, and listed runs without any click.

    Parameters
    ----------
    codes : ClickCodes
        From :func:`encode_clicks`.
    runs : DataFrame, optional
        Every (``image_id``, ``annotator_id``) that worked on an image, as
        readers record it in ``clicks.attrs["runs"]``.

    Returns
    -------
    clicked : ndarray
        Distinct annotators with a click, per image code.
    empty : ndarray
        Listed runs with no click on that image, per image code.
    orphans : dict
        Images with runs but no click at all: image id -> number of runs.

    Examples
    --------
    >>> import pandas as pd
    >>> clicks, codes = encode_clicks(pd.DataFrame({"image_id": ["a", "a"],
    ...     "annotator_id": ["u1", "u2"], "x": [1, 2], "y": [1, 2], "label": ["alive"] * 2}))
    >>> runs = pd.DataFrame({"image_id": ["a", "a", "a", "b"], "annotator_id": ["u1", "u2", "u3", "u1"]})
    >>> clicked, empty, orphans = count_runs(codes, runs)
    >>> clicked.tolist(), empty.tolist(), orphans
    ([2], [1], {'b': 1})
    """
    n_images, n_ann = len(codes.images), max(len(codes.annotators), 1)
    pairs = pd.unique(codes.image * n_ann + codes.annotator)
    clicked = np.bincount(pairs // n_ann, minlength=n_images)
    empty = np.zeros(n_images, np.int64)
    if runs is None or len(runs) == 0:
        return clicked, empty, {}
    listed = runs[["image_id", "annotator_id"]].astype(str).drop_duplicates()
    r_img = pd.Index(codes.images).get_indexer(listed["image_id"])
    r_ann = pd.Index(codes.annotators).get_indexer(listed["annotator_id"])
    has_click = (r_img >= 0) & (r_ann >= 0) & np.isin(r_img * n_ann + r_ann, pairs)
    known = ~has_click & (r_img >= 0)
    np.add.at(empty, r_img[known], 1)
    orphans = listed.loc[~has_click & (r_img < 0), "image_id"].value_counts()
    return clicked, empty, {str(k): int(v) for k, v in orphans.items()}
