"""Shared core of the PyBossa-style readers: task-run answers to a Clicks table.

A *task run* is one annotator's answer for one image. Its answer is a list of
``[label, x, y]`` triples, stored either as a real JSON list or, in the Cell
Spotting CSV export, as a Python 2 ``repr`` string such as
``"[[u'alive', 97, 17], [u'dead', 195, 84]]"``. Such strings are parsed with
:func:`ast.literal_eval`, never ``eval``.
"""

from __future__ import annotations

import ast
import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from ..errors import CellConsensusInputError
from ..tables import InputReport, OutOfCanvas, validate_clicks
from ..tables.vocabulary import as_vocabulary

logger = logging.getLogger(__name__)

#: Answer labels of the Cell Spotting project and what they mean here.
CELLSPOTTING_LABELS: dict[str, str] = {
    "alive": "alive",
    "dead": "dead",
    "not_sure_alive": "unsure",
    "unsure": "unsure",
}


def answer_map(label_map: Mapping[str, str] | None, classes=None) -> dict[str, str]:
    """The answer-label map of a reader: ``label_map`` if given, else Cell Spotting's
    answers plus every answer of ``classes`` as itself.

    Examples
    --------
    >>> answer_map(None, ["alive", "dead", "mitotic"])["mitotic"]
    'mitotic'
    >>> answer_map({"yes": "alive", "no": "dead"})
    {'yes': 'alive', 'no': 'dead'}
    """
    if label_map is not None:
        return dict(label_map)
    answers = as_vocabulary(classes, []).answers if classes is not None else ()
    return {**CELLSPOTTING_LABELS, **{a: a for a in answers}}


DuplicateRuns = Literal["drop", "keep", "raise"]


@dataclass(frozen=True)
class TaskRun:
    """One annotator's answer for one image, as read from an export."""

    image_id: str
    annotator_id: str
    run_id: str
    answer: Any
    record: int
    #: For exports without annotator ids: the whole record, so that a record exported
    #: twice is a duplicate although each record is an annotator of its own.
    content: tuple | None = None


def parse_answer(value: Any, *, source: str, record: int, field: str) -> list:
    """Parse an answer list from a JSON list, a JSON string or a Python repr string.

    Examples
    --------
    >>> parse_answer("[[u'alive', 97, 17]]", source="f.csv", record=1, field="alive_array")
    [['alive', 97, 17]]
    """
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
                raise CellConsensusInputError(
                    f"cannot parse the click list {_short(text)}: {exc.__class__.__name__}",
                    source=source,
                    row=record,
                    field=field,
                ) from None
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise CellConsensusInputError(
            f"expected a list of [label, x, y], got {type(value).__name__}",
            source=source,
            row=record,
            field=field,
        )
    return [list(v) if isinstance(v, list | tuple) else v for v in value]


def _short(text: str, n: int = 60) -> str:
    return repr(text if len(text) <= n else text[:n] + "...")


def clicks_from_runs(
    runs: Iterable[TaskRun],
    *,
    source: str,
    field: str,
    label_map: Mapping[str, str],
    canvas: tuple[float, float] | None,
    out_of_canvas: OutOfCanvas,
    duplicate_runs: DuplicateRuns,
    n_records: int,
    classes=None,
) -> pd.DataFrame:
    """Turn task runs into a validated Clicks table with its report and runs list.

    Parameters
    ----------
    runs : iterable of TaskRun
        The runs, in the order of the export.
    source, field : str
        File name and answer field, for error messages.
    label_map : mapping
        Answer label -> ``alive``/``dead``/``unsure`` (or the answers of ``classes``).
        Unknown labels raise.
    canvas, out_of_canvas
        See :func:`cellconsensus.tables.validate_clicks`.
    duplicate_runs : {"drop", "keep", "raise"}
        A run that repeats an earlier one exactly (same image, same annotator,
        same clicks; for runs with ``content``, the same image and record) is
        dropped (and counted), kept, or an error.
    n_records : int
        Records read, for the report.
    classes : Vocabulary or sequence of str, optional
        The label set the mapped labels belong to (see
        :func:`~cellconsensus.tables.validate_clicks`).
    """
    if duplicate_runs not in ("drop", "keep", "raise"):
        raise ValueError(
            f"duplicate_runs must be 'drop', 'keep' or 'raise', not {duplicate_runs!r}"
        )
    report = InputReport(sources=[source], n_records=n_records)
    seen: dict[tuple, int] = {}
    cols: dict[str, list] = {k: [] for k in ("image_id", "annotator_id", "run_id", "x", "y")}
    labels: list[str] = []
    origin: list[str] = []
    run_rows: list[tuple[str, str]] = []
    for run in runs:
        answer = parse_answer(run.answer, source=source, record=run.record, field=field)
        triples = [_triple(item, source, run.record, k, field) for k, item in enumerate(answer)]
        if run.content is None:
            key, what = (run.image_id, run.annotator_id, tuple(map(tuple, triples))), "annotator"
        else:
            key, what = (run.image_id, run.content), "every field"
        if key in seen:
            if duplicate_runs == "raise":
                raise CellConsensusInputError(
                    f"duplicate run: repeats record {seen[key]} (same image "
                    f"{run.image_id!r}, {what} and clicks)",
                    source=source,
                    row=run.record,
                )
            if duplicate_runs == "drop":
                report.n_duplicate_runs += 1
                continue
        seen.setdefault(key, run.record)
        run_rows.append((run.image_id, run.annotator_id))
        if not triples:
            report.n_empty_runs += 1
        for k, (label, x, y) in enumerate(triples):
            mapped = label_map.get(label) if isinstance(label, str) else None
            if mapped is None:
                raise CellConsensusInputError(
                    f"unknown label {label!r} in click {k + 1}; known labels: "
                    f"{', '.join(sorted(label_map))} (pass label_map= to map others, or "
                    "classes=[...] / --classes for another label set)",
                    source=source,
                    row=run.record,
                    field=field,
                )
            cols["image_id"].append(run.image_id)
            cols["annotator_id"].append(run.annotator_id)
            cols["run_id"].append(run.run_id)
            cols["x"].append(x)
            cols["y"].append(y)
            labels.append(mapped)
            origin.append(f"record {run.record}, click {k + 1}")
    if report.n_duplicate_runs:
        logger.warning("%s: dropped %d duplicate run(s)", source, report.n_duplicate_runs)
    frame = pd.DataFrame({**cols, "label": labels})
    frame = frame.astype({"image_id": object, "annotator_id": object, "run_id": object})
    clicks = validate_clicks(
        frame,
        source=source,
        origin=origin,
        canvas=canvas,
        out_of_canvas=out_of_canvas,
        report=report,
        classes=classes,
    )
    clicks = clicks[["image_id", "annotator_id", "run_id", "x", "y", "label"]]
    clicks.attrs["report"] = report
    clicks.attrs["runs"] = pd.DataFrame(
        run_rows, columns=["image_id", "annotator_id"], dtype=object
    )
    return clicks


def _triple(item: Any, source: str, record: int, k: int, field: str) -> tuple:
    if not isinstance(item, list) or len(item) != 3:
        raise CellConsensusInputError(
            f"click {k + 1} is {item!r}; expected [label, x, y]",
            source=source,
            row=record,
            field=field,
        )
    label, x, y = item
    if not isinstance(label, str):
        raise CellConsensusInputError(
            f"click {k + 1} has label {_short(repr(label))}; a label is text",
            source=source,
            row=record,
            field=field,
        )
    for name, v in (("x", x), ("y", y)):
        try:
            finite = not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)
        except OverflowError:  # an integer beyond any float
            finite = False
        if not finite:
            raise CellConsensusInputError(
                f"click {k + 1} has {name} = {v!r}; coordinates must be finite numbers",
                source=source,
                row=record,
                field=field,
            )
    return label, float(x), float(y)


def image_id_from_link(link: Any) -> str:
    """Return the image id of a task link: the last path segment, without query.

    Examples
    --------
    >>> image_id_from_link("http://host/cellspotting/static/img/input/feb2013-33-23")
    'feb2013-33-23'
    >>> image_id_from_link("https://host/img/a.jpg?x=1")
    'a.jpg'
    """
    if not isinstance(link, str) or not link.strip():
        return ""
    text = link.strip().split("?", 1)[0].split("#", 1)[0].rstrip("/")
    return text.rsplit("/", 1)[-1]
