"""Allocation plans as files a project loads: PyBossa task updates, a Zooniverse CSV."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ..errors import CellConsensusInputError
from ..io import atomic_write
from ..io.pybossa import task_images

__all__ = ["write_pybossa_updates", "write_zooniverse_retirement"]


def _check_plan(plan: pd.DataFrame) -> None:
    missing = [c for c in ("image_id", "annotators", "extra", "retire") if c not in plan.columns]
    if missing:
        raise CellConsensusInputError(
            f"not a next_tasks plan: no column(s) {', '.join(missing)}", source="<plan>"
        )


def write_pybossa_updates(
    plan: pd.DataFrame, path: str | os.PathLike, *, tasks: str | os.PathLike | None = None
) -> Path:
    """Write the ``n_answers`` each PyBossa task should now ask for, as JSON.

    One object per task, ``{"id": <task id>, "n_answers": <annotators so far + extra>}``,
    for every image of the plan: PyBossa keeps a task open until it has ``n_answers``
    task runs, so a retired image or one without extras asks for what it has (and
    closes), the others for more. Load it with PyBossa's API (``PUT /api/task/<id>``
    with ``n_answers``) or ``pbs``.

    Parameters
    ----------
    plan : DataFrame
        From :func:`~cellconsensus.allocate.next_tasks`.
    path : path-like
        The JSON file to write (atomically).
    tasks : path-like, optional
        The project's task list (JSON/CSV), to find each image's task id; without it the
        image id is the task id (as :func:`~cellconsensus.io.read_pybossa` reads an
        export without a task list).

    Raises
    ------
    CellConsensusInputError
        An image of the plan that no task of the list shows, or one that several show.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> plan = pd.DataFrame({"image_id": ["7"], "annotators": [2], "extra": [3],
    ...                      "retire": [False]})
    >>> path = write_pybossa_updates(plan, pathlib.Path(tempfile.mkdtemp()) / "u.json")
    >>> json.loads(path.read_text())
    [{'id': '7', 'n_answers': 5}]
    """
    _check_plan(plan)
    task_of = {str(i): str(i) for i in plan["image_id"]}
    if tasks is not None:
        task_of = {}
        for task_id, image_id in task_images(tasks).items():
            if image_id in task_of:
                raise CellConsensusInputError(
                    f"image {image_id!r} is shown by tasks {task_of[image_id]} and {task_id}: "
                    "which one should ask for more answers?",
                    source=os.fspath(tasks),
                )
            task_of[image_id] = task_id
        unknown = sorted(set(plan["image_id"].astype(str)) - set(task_of))
        if unknown:
            raise CellConsensusInputError(
                f"{len(unknown)} image(s) of the plan have no task (e.g. {unknown[0]!r})",
                source=os.fspath(tasks),
            )
    updates = [
        {"id": task_of[str(row.image_id)], "n_answers": int(row.annotators + row.extra)}
        for row in plan.itertuples(index=False)
    ]
    text = json.dumps(updates, indent=1)
    return atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text))


def write_zooniverse_retirement(plan: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a Zooniverse subject CSV: which subjects to retire, which need more.

    Columns ``subject_id`` (the image id, as :func:`~cellconsensus.io.read_zooniverse`
    names subjects), ``retire`` (``true``/``false``), ``extra_classifications`` and
    ``expected_gain``. The subjects with ``retire`` true are retired through the API
    (``subjects/<id>/retire`` or panoptes-cli ``workflow retire-subjects``); those with
    extras form the next subject set (panoptes-cli ``subject-set add-subjects``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> plan = pd.DataFrame({"image_id": ["71", "72"], "annotators": [5, 1], "extra": [0, 2],
    ...                      "retire": [True, False], "expected_gain": [0.0, 1.5]})
    >>> path = write_zooniverse_retirement(plan, pathlib.Path(tempfile.mkdtemp()) / "r.csv")
    >>> path.read_text().splitlines()[1]
    '71,true,0,0'
    """
    _check_plan(plan)
    table = pd.DataFrame(
        {
            "subject_id": plan["image_id"].astype(str),
            "retire": plan["retire"].map({True: "true", False: "false"}),
            "extra_classifications": plan["extra"].astype(int),
            "expected_gain": plan.get("expected_gain", pd.Series(0.0, index=plan.index)),
        }
    )
    return atomic_write(Path(path), lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))
