"""PyBossa task-run exports (JSON or CSV) with an optional task list: read, and write JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CellConsensusInputError
from ..tables import OutOfCanvas, validate_clicks
from ._answers import (
    DuplicateRuns,
    TaskRun,
    answer_map,
    clicks_from_runs,
    image_id_from_link,
)
from ._files import atomic_write, read_csv_strings, read_json

__all__ = ["read_pybossa", "write_pybossa", "task_images"]

#: Keys of a task's ``info`` that may hold the image link, in order of preference.
LINK_KEYS: tuple[str, ...] = ("link", "url", "url_b", "url_m", "image", "image_url")


def _is_missing(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, float) and value != value)
    )


def _load_records(path: str) -> list[dict]:
    """Task runs or tasks as a list of dicts, from a JSON or a CSV export."""
    if path.lower().endswith(".json"):
        data = read_json(path)
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise CellConsensusInputError("expected a JSON list of objects", source=path)
        return data
    table = read_csv_strings(path)
    records = table.to_dict("records")
    for rec in records:
        info = rec.get("info")
        if isinstance(info, str) and info.strip().startswith("{"):
            try:
                rec["info"] = json.loads(info)
            except ValueError:
                pass  # reported by the field lookup below when the answer is needed
        # PyBossa's CSV export flattens ``info`` into ``info_<key>`` columns.
        flat = {k[5:]: v for k, v in rec.items() if k.startswith("info_")}
        if flat and not isinstance(rec.get("info"), dict):
            rec["info"] = flat
    return records


def _answer(rec: dict, field: str, source: str, record: int) -> Any:
    info = rec.get("info")
    if isinstance(info, dict) and field in info:
        return info[field]
    if field in rec:  # answer stored at top level, as in the Cell Spotting CSV
        return rec[field]
    raise CellConsensusInputError(
        f"no answer: neither info.{field} nor {field} is present",
        source=source,
        row=record,
        field=f"info.{field}",
    )


def task_images(tasks: str | os.PathLike) -> dict[str, str]:
    """The image of every task of a PyBossa task list (JSON or CSV): ``task id -> image id``
    (the last path segment of ``info.link`` / ``info.url``).

    Raises
    ------
    CellConsensusInputError
        A task without id or image link, or a repeated task id, naming the record.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tasks.json"
    >>> _ = path.write_text(json.dumps([{"id": 7, "info": {"link": "http://x/img-7.png"}}]))
    >>> task_images(path)
    {'7': 'img-7.png'}
    """
    tasks = os.fspath(tasks)
    links: dict[str, str] = {}
    rows: dict[str, int] = {}
    for i, rec in enumerate(_load_records(tasks)):
        if _is_missing(rec.get("id")):
            raise CellConsensusInputError(
                "task without id (the Cell Spotting export's task list has none: read its "
                "task runs with read_cellspotting_csv, which needs no task list)",
                source=tasks,
                row=i + 1,
                field="id",
            )
        info = rec.get("info") if isinstance(rec.get("info"), dict) else {}
        candidates = [info.get(k) for k in LINK_KEYS] + [rec.get(k) for k in LINK_KEYS]
        link = next((c for c in candidates if not _is_missing(c)), None)
        image_id = image_id_from_link(link)
        if not image_id:
            raise CellConsensusInputError(
                f"task has no image link (looked for info.{', info.'.join(LINK_KEYS)})",
                source=tasks,
                row=i + 1,
                field="info.link",
            )
        task_id = str(rec["id"]).removesuffix(".0")
        if task_id in rows:
            raise CellConsensusInputError(
                f"task id {task_id} repeats record {rows[task_id]} (which image is it?)",
                source=tasks,
                row=i + 1,
                field="id",
            )
        rows[task_id] = i + 1
        links[task_id] = image_id
    return links


def read_pybossa(
    task_runs: str | os.PathLike,
    tasks: str | os.PathLike | None = None,
    *,
    field: str = "alive_array",
    canvas: tuple[float, float] | None = None,
    out_of_canvas: OutOfCanvas = "clip",
    duplicate_runs: DuplicateRuns = "drop",
    label_map: Mapping[str, str] | None = None,
    classes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read a PyBossa task-run export (JSON or CSV) into a Clicks table.

    Each task run becomes the clicks of one annotator on one image:

    - image: from the optional task list (``tasks``: ``id`` and
      ``info.link``/``info.url``, JSON or CSV), the last path segment of the
      link; without a task list, the ``task_id`` itself;
    - annotator: ``user_id``, or ``user_ip`` for anonymous volunteers, or, when
      neither is given, the run itself (``"run<id>"``);
    - clicks: ``info.<field>`` as a list of ``[label, x, y]`` (a JSON list, or
      a string holding JSON or a Python repr). The CSV form may hold ``info``
      as a JSON string or flattened into ``info_<field>`` columns.

    Parameters
    ----------
    task_runs : path-like
        ``*.json`` (a list of task-run objects) or ``*.csv``.
    tasks : path-like, optional
        Task list giving each task's image link.
    field : str, default "alive_array"
        The answer key holding the clicks.
    canvas : (width, height), optional
        Canvas of the web task, for the out-of-canvas policy.
    out_of_canvas : {"clip", "keep", "drop", "raise"}, default "clip"
        See :func:`~cellconsensus.tables.validate_clicks`.
    duplicate_runs : {"drop", "keep", "raise"}, default "drop"
        A run repeating an earlier run (same id, or same image, annotator and
        clicks).
    label_map : mapping, optional
        Answer labels to ``alive``/``dead``/``unsure`` or to the answers of
        ``classes`` (default: Cell Spotting's, plus every answer of ``classes``
        as itself).
    classes : sequence of str, optional
        Another label set than alive / dead (e.g. ``["alive", "dead", "mitotic"]``),
        kept in ``attrs["classes"]`` (see :func:`~cellconsensus.tables.validate_clicks`).

    Returns
    -------
    DataFrame
        The Clicks table with ``run_id``, ``attrs["report"]`` and ``attrs["runs"]``.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> runs = [{"id": 1, "task_id": 7, "user_id": 3,
    ...          "info": {"alive_array": [["alive", 10, 20], ["dead", 50, 60]]}}]
    >>> _ = (d / "runs.json").write_text(json.dumps(runs))
    >>> _ = (d / "tasks.json").write_text(json.dumps([{"id": 7, "info": {"link": "http://x/img-7"}}]))
    >>> read_pybossa(d / "runs.json", d / "tasks.json")[["image_id", "annotator_id", "label"]].values.tolist()
    [['img-7', '3', 'alive'], ['img-7', '3', 'dead']]
    """
    source = os.fspath(task_runs)
    links = task_images(tasks) if tasks is not None else None
    records = _load_records(source)
    runs = []
    seen_ids: set[str] = set()
    n_repeated_ids = 0
    for i, rec in enumerate(records):
        record = i + 1
        task_id = rec.get("task_id")
        if _is_missing(task_id):
            raise CellConsensusInputError(
                "task run without task_id", source=source, row=record, field="task_id"
            )
        task_id = str(task_id).removesuffix(".0")
        if links is None:
            image_id = task_id
        elif task_id in links:
            image_id = links[task_id]
        else:
            raise CellConsensusInputError(
                f"task_id {task_id} is not in the task list {os.fspath(tasks)}",
                source=source,
                row=record,
                field="task_id",
            )
        run_id = (
            str(rec["id"]).removesuffix(".0") if not _is_missing(rec.get("id")) else f"r{record}"
        )
        if run_id in seen_ids and duplicate_runs != "keep":
            if duplicate_runs == "raise":
                raise CellConsensusInputError(
                    f"duplicate run id {run_id}", source=source, row=record, field="id"
                )
            n_repeated_ids += 1
            continue
        seen_ids.add(run_id)
        user = next(
            (
                str(rec[k]).removesuffix(".0")
                for k in ("user_id", "user_ip")
                if not _is_missing(rec.get(k))
            ),
            f"run{run_id}",
        )
        runs.append(TaskRun(image_id, user, run_id, _answer(rec, field, source, record), record))
    clicks = clicks_from_runs(
        runs,
        source=source,
        field=f"info.{field}",
        label_map=answer_map(label_map, classes),
        canvas=canvas,
        out_of_canvas=out_of_canvas,
        duplicate_runs=duplicate_runs,
        n_records=len(records),
        classes=classes,
    )
    clicks.attrs["report"].n_duplicate_runs += n_repeated_ids
    return clicks


#: Labels written for each Clicks label (the Cell Spotting answer vocabulary).
ANSWER_LABELS: dict[str, str] = {"alive": "alive", "dead": "dead", "unsure": "not_sure_alive"}


def write_pybossa(
    clicks: pd.DataFrame,
    task_runs: str | os.PathLike,
    tasks: str | os.PathLike,
    *,
    runs: pd.DataFrame | None = None,
    field: str = "alive_array",
    link_prefix: str = "images/",
    project_id: int = 1,
) -> tuple[Path, Path]:
    """Write a Clicks table as a PyBossa JSON export: task runs and a task list.

    The inverse of :func:`read_pybossa`: one task per image (``info.link`` =
    ``link_prefix + image_id``), one task run per (image, annotator) with the
    clicks as ``info.<field>`` = ``[[label, x, y], ...]`` in the Cell Spotting
    vocabulary (``alive``, ``dead``, ``not_sure_alive``; the classes of another
    label set as they are: read them back with ``classes=``). Runs that clicked
    nothing (listed in ``runs``) are written with an empty list, as PyBossa
    records them. Both files are written atomically.

    Parameters
    ----------
    clicks : DataFrame
        A Clicks table, e.g. from :func:`~cellconsensus.simulate.simulate_crowd`.
    task_runs, tasks : path-like
        The two JSON files to write.
    runs : DataFrame, optional
        Every (``image_id``, ``annotator_id``) that worked on an image;
        default ``clicks.attrs["runs"]``, else the pairs that clicked.
    field : str, default "alive_array"
        Answer key of the clicks.
    link_prefix : str, default "images/"
        Prefix of each task's image link.
    project_id : int, default 1
        Recorded in every task and run.

    Returns
    -------
    (Path, Path)
        The task-run file and the task file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from cellconsensus.synthetic import make_truth
    >>> from cellconsensus.simulate import simulate_crowd
    >>> clicks = simulate_crowd(make_truth(n_images=3, seed=0), seed=0)
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> runs_path, tasks_path = write_pybossa(clicks, d / "task_runs.json", d / "tasks.json")
    >>> back = read_pybossa(runs_path, tasks_path)[list(clicks.columns)]
    >>> def tidy(t):
    ...     return t.sort_values(["image_id", "annotator_id", "x", "y"], ignore_index=True)
    >>> tidy(back).equals(tidy(clicks))
    True
    """
    if runs is None:
        runs = clicks.attrs.get("runs")  # before validating: the copy drops the attributes
    clicks = validate_clicks(clicks, source="write_pybossa")
    if runs is None:
        runs = clicks[["image_id", "annotator_id"]]
    runs = pd.concat([runs[["image_id", "annotator_id"]], clicks[["image_id", "annotator_id"]]])
    runs = runs.astype(str).drop_duplicates().sort_values(["image_id", "annotator_id"])
    images = pd.unique(runs["image_id"])
    task_of = {image_id: i + 1 for i, image_id in enumerate(images)}

    order = np.lexsort((clicks["annotator_id"].astype(str), clicks["image_id"].astype(str)))
    sorted_clicks = clicks.iloc[order]
    # Cell Spotting's answer words; the classes of another label set as they are.
    labels = [ANSWER_LABELS.get(label, label) for label in sorted_clicks["label"].astype(str)]
    xs, ys = sorted_clicks["x"].tolist(), sorted_clicks["y"].tolist()
    answers: dict[tuple[str, str], list] = {}
    keys = zip(
        sorted_clicks["image_id"].astype(str),
        sorted_clicks["annotator_id"].astype(str),
        strict=True,
    )
    for key, label, x, y in zip(keys, labels, xs, ys, strict=True):
        answers.setdefault(key, []).append([label, x, y])

    task_list = [
        {"id": task_of[i], "project_id": project_id, "info": {"link": f"{link_prefix}{i}"}}
        for i in images
    ]
    run_list = [
        {
            "id": k + 1,
            "project_id": project_id,
            "task_id": task_of[image_id],
            "user_id": annotator,
            "info": {field: answers.get((image_id, annotator), [])},
        }
        for k, (image_id, annotator) in enumerate(runs.itertuples(index=False))
    ]
    written = []
    for path, records in ((task_runs, run_list), (tasks, task_list)):
        text = json.dumps(records)
        written.append(atomic_write(path, lambda tmp, t=text: Path(tmp).write_text(t)))
    return written[0], written[1]
