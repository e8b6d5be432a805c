"""Reader for the Cell Spotting CSV export (PyBossa, 2013-2016)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import pandas as pd

from ..errors import CellConsensusInputError
from ..tables import OutOfCanvas
from ._answers import (
    DuplicateRuns,
    TaskRun,
    answer_map,
    clicks_from_runs,
    image_id_from_link,
)
from ._files import read_csv_strings

__all__ = ["read_cellspotting_csv", "CELLSPOTTING_CANVAS"]

#: Width and height of the Cell Spotting web task's canvas, in pixels.
CELLSPOTTING_CANVAS: tuple[int, int] = (524, 391)


def read_cellspotting_csv(
    path: str | os.PathLike,
    *,
    canvas: tuple[float, float] | None = CELLSPOTTING_CANVAS,
    out_of_canvas: OutOfCanvas = "clip",
    duplicate_runs: DuplicateRuns = "drop",
    label_map: Mapping[str, str] | None = None,
    classes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read the Cell Spotting task-run CSV export into a Clicks table.

    Each row is one anonymous volunteer's answer for one image: the image id is
    the last path segment of the ``task`` URL, the clicks are in
    ``alive_array`` as a Python 2 repr string of ``[label, x, y]`` triples. The
    export has no volunteer id, so each row is its own annotator
    (``annotator_id`` = ``run_id`` = ``"r<record>"``, 1-based).

    Parameters
    ----------
    path : path-like
        The CSV file (e.g. ``task_runs_1000.csv``).
    canvas : (width, height) or None, default (524, 391)
        The web task's canvas. Real clicks fall slightly outside it.
    out_of_canvas : {"clip", "keep", "drop", "raise"}, default "clip"
        Policy for clicks outside the canvas (see
        :func:`~cellconsensus.tables.validate_clicks`); the count affected is
        in ``clicks.attrs["report"]``.
    duplicate_runs : {"drop", "keep", "raise"}, default "drop"
        Rows repeating an earlier row in every field (an export concatenated
        with itself, a re-export appended). The export has no volunteer id, so
        two volunteers who gave the very same answer in every field would count
        once; the real export (999 rows) has no such pair.
    label_map : mapping, optional
        Answer labels to ``alive``/``dead``/``unsure`` (or the answers of
        ``classes``); default maps ``alive``, ``dead`` and ``not_sure_alive``
        (-> ``unsure``), and every answer of ``classes`` to itself.
    classes : sequence of str, optional
        Another label set than alive / dead, kept in ``attrs["classes"]``.

    Returns
    -------
    DataFrame
        The Clicks table with ``run_id``; ``attrs["report"]`` (an
        :class:`~cellconsensus.tables.InputReport`) and ``attrs["runs"]``.

    Raises
    ------
    CellConsensusInputError
        Naming the file, record and field of malformed input; also a file that
        ends inside its last record (no final newline and a task URL unlike
        every other record's: a truncated download).

    Examples
    --------
    >>> clicks = read_cellspotting_csv("../shared/data/cellspotting/runs/task_runs_1000.csv")
    ... # doctest: +SKIP
    >>> clicks["label"].value_counts().to_dict()  # doctest: +SKIP
    {'alive': 5153, 'dead': 2817, 'unsure': 34}
    """
    source = os.fspath(path)
    table = read_csv_strings(source, required=("task", "alive_array"))
    tasks = table["task"].tolist()
    answers = table["alive_array"].tolist()
    _check_not_truncated(source, tasks)
    runs = []
    rows = table.itertuples(index=False, name=None)
    for i, (task, answer, row) in enumerate(zip(tasks, answers, rows, strict=True)):
        record = i + 1
        image_id = image_id_from_link(task)
        if not image_id:
            raise CellConsensusInputError(
                f"no image id in task URL {task!r}", source=source, row=record, field="task"
            )
        runs.append(TaskRun(image_id, f"r{record}", f"r{record}", answer, record, row))
    return clicks_from_runs(
        runs,
        source=source,
        field="alive_array",
        label_map=answer_map(label_map, classes),
        canvas=canvas,
        out_of_canvas=out_of_canvas,
        duplicate_runs=duplicate_runs,
        n_records=len(table),
        classes=classes,
    )


def _check_not_truncated(source: str, tasks: list[str]) -> None:
    """A file cut inside its last record: no final newline, and the last task URL's folder
    unlike every other record's (e.g. ``.../static/img/inp`` for ``.../img/input/x``)."""
    if len(tasks) < 2:
        return
    with open(source, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return
        f.seek(-1, os.SEEK_END)
        if f.read(1) in (b"\n", b"\r"):
            return
    folder = {str(t).strip().rsplit("/", 1)[0] for t in tasks[:-1]}
    if str(tasks[-1]).strip().rsplit("/", 1)[0] not in folder:
        raise CellConsensusInputError(
            f"the file ends inside record {len(tasks)}: its task URL {tasks[-1]!r} is unlike "
            "every other record's and no newline follows (a truncated download?)",
            source=source,
            row=len(tasks),
            field="task",
        )
