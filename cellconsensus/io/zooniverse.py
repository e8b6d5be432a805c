"""Zooniverse classification exports: point marks to a Clicks table.

A Zooniverse project exports one CSV row per classification (one volunteer's
work on one subject): ``classification_id, user_name, user_id, user_ip,
workflow_id, workflow_version, ..., annotations, subject_data, subject_ids``,
the last three JSON. A point-marking (drawing) task's annotation holds a list of
marks ``{"x", "y", "tool", "tool_label", "frame", ...}``. :func:`read_zooniverse`
does what every project otherwise writes by hand: keeps one workflow (and a range
of its versions), maps each subject and frame to an image, each volunteer (or
anonymous volunteer, by the hashed IP Zooniverse puts in ``user_name``) to an
annotator, each tool to a label; drops marks without a position (counted), and
lists classifications without a mark as runs (they count in the support).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import CellConsensusInputError
from ..tables import OutOfCanvas
from ._answers import DuplicateRuns, TaskRun, clicks_from_runs
from ._files import atomic_write, read_csv_strings

__all__ = ["read_zooniverse", "write_zooniverse", "ZOONIVERSE_COLUMNS", "tool_label_map"]

logger = logging.getLogger(__name__)

#: Columns of a classification export that the reader needs.
ZOONIVERSE_COLUMNS = (
    "classification_id",
    "user_name",
    "workflow_id",
    "workflow_version",
    "annotations",
    "subject_ids",
)
#: Words in a tool's label that name our labels (checked in this order).
_WORDS = (("unsure", ("unsure", "not sure", "unknown", "uncertain")),
          ("dead", ("dead",)), ("alive", ("alive", "living", "live")))  # fmt: skip


def tool_label_map(tool_labels, classes: Sequence[str] | None = None) -> dict[str, str]:
    """The default label of each tool label: a class of ``classes`` it names
    (case-insensitive), else the first of ``unsure``, ``dead``, ``alive`` whose word it
    contains; tools matching none are left out.

    Examples
    --------
    >>> tool_label_map(["Living cell", "Dead cell", "Not sure", "Debris"])
    {'Living cell': 'alive', 'Dead cell': 'dead', 'Not sure': 'unsure'}
    >>> tool_label_map(["Mitotic", "Dead cell"], classes=["alive", "dead", "mitotic"])
    {'Mitotic': 'mitotic', 'Dead cell': 'dead'}
    """
    named = {str(c).lower(): str(c) for c in classes or ()}
    out = {}
    for name in tool_labels:
        low = str(name).lower()
        if low.strip() in named:
            out[str(name)] = named[low.strip()]
            continue
        for label, words in _WORDS:
            if any(re.search(rf"\b{re.escape(w)}\b", low) for w in words):
                out[str(name)] = label
                break
    return out


def _version(text: str, source: str, row: int) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(text).split("."))
    except ValueError:
        raise CellConsensusInputError(
            f"workflow_version {text!r} is not a version like 16.55",
            source=source, row=f"line {row}", field="workflow_version",
        ) from None  # fmt: skip


def _json(text: str, source: str, row: int, field: str) -> Any:
    try:
        return json.loads(text) if text else None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CellConsensusInputError(
            f"malformed JSON: {exc}", source=source, row=f"line {row}", field=field
        ) from None


def _keep_workflow(table: pd.DataFrame, workflow_id, versions, source: str) -> pd.DataFrame:
    ids = table["workflow_id"]
    if workflow_id is None:
        counts = ids.value_counts()
        if len(counts) > 1:
            listed = ", ".join(f"{k} ({n} classifications)" for k, n in counts.items())
            raise CellConsensusInputError(
                f"the export holds {len(counts)} workflows: {listed}; pass workflow_id=",
                source=source,
            )
    else:
        table = table[ids == str(workflow_id)]
        if table.empty:
            raise CellConsensusInputError(
                f"no classification of workflow {workflow_id}; the export has workflow(s) "
                f"{', '.join(sorted(set(ids)))}",
                source=source,
            )
    if versions is not None:
        low, high = (versions, None) if isinstance(versions, str) else versions
        parsed = [_version(v, source, int(i) + 2) for i, v in table["workflow_version"].items()]
        keep = [
            (low is None or v >= _version(low, source, 0))
            and (high is None or v <= _version(high, source, 0))
            for v in parsed
        ]
        table = table[keep]
        if table.empty:
            raise CellConsensusInputError(
                f"no classification with workflow_version in {versions!r}", source=source
            )
    return table


def _marks(annotations: Any, task: str | None, source: str, row: int) -> list[dict]:
    """The point marks of a classification (of ``task``, or of every drawing task)."""
    if not isinstance(annotations, list):
        raise CellConsensusInputError(
            "annotations is not a list of tasks",
            source=source,
            row=f"line {row}",
            field="annotations",
        )
    marks = []
    for entry in annotations:
        if not isinstance(entry, dict) or (task is not None and entry.get("task") != task):
            continue
        value = entry.get("value")
        if isinstance(value, list) and all(isinstance(m, dict) for m in value):
            marks += [m for m in value if "x" in m or "y" in m or "tool" in m]
    return marks


def read_zooniverse(
    path: str | os.PathLike,
    *,
    workflow_id: int | str | None = None,
    workflow_version: str | tuple[str | None, str | None] | None = None,
    task: str | None = None,
    label_map: Mapping[str, str] | None = None,
    image_key: str | None = None,
    canvas: tuple[float, float] | None = None,
    out_of_canvas: OutOfCanvas = "keep",
    duplicate_runs: DuplicateRuns = "drop",
    classes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read a Zooniverse classification export's point marks as a Clicks table.

    Parameters
    ----------
    path : path-like
        The project's classification export (CSV).
    workflow_id : int or str, optional
        The workflow to read; required when the export holds several.
    workflow_version : str or (str, str), optional
        The lowest version to keep (``"16.55"``), or ``(lowest, highest)``
        inclusive, either ``None`` for open; default every version.
    task : str, optional
        The drawing task's key (``"T0"``); default the marks of every task whose
        answer is a list of marks.
    label_map : mapping, optional
        Tool label (``tool_label``, or ``"tool <n>"`` for a mark without one) ->
        ``alive``/``dead``/``unsure`` (or a class of ``classes``). Default
        :func:`tool_label_map` of the labels found (a tool named like a class of
        ``classes`` is that class); a tool it cannot map is an error naming it.
    image_key : str, optional
        A ``subject_data`` field naming the image (e.g. ``"Filename"``; its
        extension is dropped); default the subject id. A subject with several
        frames gives one image per frame: ``<image>_frame<k>``.
    canvas, out_of_canvas
        See :func:`~cellconsensus.tables.validate_clicks`.
    duplicate_runs : {"drop", "keep", "raise"}, default "drop"
        A classification repeating an earlier one of the same volunteer on the same
        image with the same marks.
    classes : sequence of str, optional
        Another label set than alive / dead: a workflow whose point tools mark other
        kinds of things (``label_map`` maps each tool to one of them); kept in
        ``attrs["classes"]``, and the consensus gives a probability per class.

    Returns
    -------
    DataFrame
        The Clicks table with ``run_id`` (the classification id);
        ``attrs["report"]`` (an :class:`~cellconsensus.tables.InputReport`, marks
        without a position in ``n_dropped_marks``) and ``attrs["runs"]`` (every
        classification, those without a mark included).

    Raises
    ------
    CellConsensusInputError
        A missing column, malformed JSON, several workflows without
        ``workflow_id``, a tool without a label, naming the file, row and field.

    Examples
    --------
    >>> clicks = read_zooniverse("classifications.csv", workflow_id=1234)  # doctest: +SKIP
    """
    source = os.fspath(path)
    table = read_csv_strings(source, required=ZOONIVERSE_COLUMNS)
    n_records = len(table)
    table = _keep_workflow(table, workflow_id, workflow_version, source)
    parsed = []
    n_null = 0
    for index, row in table.iterrows():
        line = int(index) + 2  # the header is line 1
        annotations = _json(row["annotations"], source, line, "annotations")
        subject = row["subject_ids"].split(";")[0].strip()
        data = _json(row.get("subject_data", ""), source, line, "subject_data") or {}
        name = subject
        if image_key is not None:
            fields = data.get(subject, {}) if isinstance(data, dict) else {}
            if image_key not in fields:
                raise CellConsensusInputError(
                    f"subject {subject} has no {image_key!r} in its subject_data",
                    source=source, row=f"line {line}", field="subject_data",
                )  # fmt: skip
            name = Path(str(fields[image_key])).stem
        meta = _json(row.get("metadata", ""), source, line, "metadata") or {}
        n_frames = len(meta.get("subject_dimensions") or []) if isinstance(meta, dict) else 0
        by_frame: dict[int, list] = {}
        for mark in _marks(annotations, task, source, line):
            if mark.get("x") is None or mark.get("y") is None:
                n_null += 1
                continue
            tool = mark.get("tool_label") or f"tool {mark.get('tool')}"
            frame = int(mark.get("frame") or 0)
            by_frame.setdefault(frame, []).append([str(tool), mark["x"], mark["y"]])
        frames = set(range(max(n_frames, 1))) | set(by_frame)
        multi = len(frames) > 1
        for frame in sorted(frames):
            image = f"{name}_frame{frame}" if multi else name
            marks = by_frame.get(frame, [])
            parsed.append((image, row["user_name"], row["classification_id"], marks, line))
    tools = {t for *_, marks, _ in parsed for t, _, _ in marks}
    mapping = dict(label_map) if label_map is not None else tool_label_map(tools, classes)
    runs = [TaskRun(image, user, run, marks, line) for image, user, run, marks, line in parsed]
    clicks = clicks_from_runs(
        runs,
        source=source,
        field="annotations",
        label_map=mapping,
        canvas=canvas,
        out_of_canvas=out_of_canvas,
        duplicate_runs=duplicate_runs,
        n_records=n_records,
        classes=classes,
    )
    clicks.attrs["report"].n_dropped_marks = n_null
    if n_null:
        logger.warning("%s: dropped %d mark(s) without a position", source, n_null)
    return clicks


def write_zooniverse(
    clicks: pd.DataFrame,
    path: str | os.PathLike,
    *,
    workflow_id: int = 1,
    workflow_version: str = "1.1",
    tool_labels: Mapping[str, str] | None = None,
) -> Path:
    """Write a Clicks table as a Zooniverse classification export (the reader's inverse).

    One classification per (image, annotator) of ``clicks.attrs["runs"]`` (else of
    the clicks), task ``T0``, one tool per label, one subject per image (its file
    name in ``subject_data["Filename"]``: read back with ``image_key="Filename"``).
    Useful to test a pipeline on simulated crowds in the format a Zooniverse
    project downloads.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from cellconsensus import make_truth, simulate_crowd
    >>> clicks = simulate_crowd(make_truth(2, seed=0), 3, seed=0)
    >>> path = write_zooniverse(clicks, pathlib.Path(tempfile.mkdtemp()) / "c.csv")
    >>> len(read_zooniverse(path)) == len(clicks)
    True
    """
    names = dict(tool_labels or {"alive": "Alive cell", "dead": "Dead cell", "unsure": "Not sure"})
    tool_of = {label: k for k, label in enumerate(names)}
    runs = clicks.attrs.get("runs")
    pairs = (
        (
            runs[["image_id", "annotator_id"]]
            if runs is not None
            else clicks[["image_id", "annotator_id"]]
        )
        .astype(str)
        .drop_duplicates()
    )
    # Plain arrays as keys: pandas 2 compares the attrs (runs: a DataFrame) of Series keys.
    keys = [clicks[c].astype(str).to_numpy() for c in ("image_id", "annotator_id")]
    groups = {key: g for key, g in clicks.groupby(keys)}
    subjects = {image: 1000 + k for k, image in enumerate(sorted(pairs["image_id"].unique()))}
    rows = []
    for k, (image, user) in enumerate(pairs.itertuples(index=False)):
        mine = groups.get((image, user), clicks.iloc[:0])
        value = [
            {"x": float(x), "y": float(y), "tool": tool_of[str(label)],
             "tool_label": names[str(label)], "frame": 0, "details": []}
            for x, y, label in zip(mine["x"], mine["y"], mine["label"], strict=True)
        ]  # fmt: skip
        subject = subjects[image]
        rows.append(
            {
                "classification_id": 500000 + k,
                "user_name": user,
                "user_id": "",
                "user_ip": "",
                "workflow_id": workflow_id,
                "workflow_name": "cells",
                "workflow_version": workflow_version,
                "created_at": "2026-01-01 00:00:00 UTC",
                "gold_standard": "",
                "expert": "",
                "metadata": json.dumps({"source": "cellconsensus"}),
                "annotations": json.dumps(
                    [{"task": "T0", "task_label": "Mark the cells", "value": value}]
                ),  # fmt: skip
                "subject_data": json.dumps({str(subject): {"Filename": f"{image}.png"}}),
                "subject_ids": subject,
            }
        )
    table = pd.DataFrame(rows)
    return atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
