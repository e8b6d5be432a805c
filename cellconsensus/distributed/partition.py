"""Partitions of whole images: how many, and the clicks and runs of each.

A pandas table is split on the client (:func:`split_frame`: contiguous ranges of
images with about equal clicks, no shuffle); a Dask DataFrame or files are
shuffled by image on the cluster (:func:`partition_clicks`). Either way a
partition holds every click and run of its images.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import CellConsensusInputError
from ..tables import CLICK_COLUMNS

__all__ = [
    "partition_clicks",
    "split_frame",
    "split_runs",
    "choose_npartitions",
    "RUN_ROW",
    "MIN_PARTITION_CLICKS",
    "PARTITIONS_PER_WORKER",
]

#: Marks rows of the shuffled table that list a run rather than a click.
RUN_ROW = "_run_only"
#: Fewest clicks of a partition, so that each task computes for 100 ms or more: the
#: scheduler costs 0.2-6 ms per task (2-core machine, 2026-12-02, docs/scaling.md) and the
#: engine 1.6-3.7 microseconds per click in a worker (threshold and annotator model).
MIN_PARTITION_CLICKS = 100_000
#: Partitions per worker when the data is large: enough for a worker that finishes early
#: to take another, few enough that the scheduler's cost per task stays small (measured
#: with 1, 2 and 4 in benchmarks/distributed_scaling.py).
PARTITIONS_PER_WORKER = 2


def choose_npartitions(n_clicks: int, n_workers: int) -> int:
    """Partitions for ``n_clicks`` on ``n_workers``: :data:`PARTITIONS_PER_WORKER` per worker,
    fewer when partitions would hold under :data:`MIN_PARTITION_CLICKS`.

    Examples
    --------
    >>> choose_npartitions(50_000, 8), choose_npartitions(1_000_000, 8), choose_npartitions(10**8, 8)
    (1, 10, 16)
    """
    by_size = -(-int(n_clicks) // MIN_PARTITION_CLICKS)
    return int(max(1, min(by_size, PARTITIONS_PER_WORKER * max(1, n_workers))))


def split_frame(
    clicks: pd.DataFrame, runs: pd.DataFrame | None, npartitions: int
) -> list[tuple[pd.DataFrame, pd.DataFrame | None]]:
    """Split a pandas Clicks table (and its runs) into ``npartitions`` ranges of whole images
    with about equal clicks, on the client: no shuffle.

    Images are taken in order of first appearance; rows keep their index (errors name
    them). Rows without an image id go to the first partition, where validation names
    them.

    Examples
    --------
    >>> clicks = pd.DataFrame({"image_id": ["a", "b", "a", "c"], "annotator_id": ["u"] * 4,
    ...                        "x": [1.0] * 4, "y": [1.0] * 4, "label": ["alive"] * 4})
    >>> [sorted(set(c["image_id"])) for c, _ in split_frame(clicks, None, 2)]
    [['a'], ['b', 'c']]
    """
    plain = clicks.copy(deep=False)
    plain.attrs = {}
    ids = plain["image_id"]
    listed = None if runs is None else runs[["image_id", "annotator_id"]]
    codes, images = pd.factorize(
        ids if listed is None else pd.concat([ids, listed["image_id"]], ignore_index=True)
    )
    weight = np.bincount(codes[: len(plain)][codes[: len(plain)] >= 0], minlength=len(images))
    before = np.cumsum(weight) - weight  # clicks of the images before each image
    part_of_image = np.minimum(before * npartitions // max(int(weight.sum()), 1), npartitions - 1)
    part_of_image = np.append(part_of_image, 0)  # code -1 (no image id) reads the first
    click_part = part_of_image[codes[: len(plain)]]
    run_part = part_of_image[codes[len(plain) :]]

    def ranges(part: np.ndarray) -> list[np.ndarray]:
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(npartitions + 1))
        return [order[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    return [
        (plain.iloc[rows], None if listed is None else listed.iloc[run_rows])
        for rows, run_rows in zip(ranges(click_part), ranges(run_part), strict=True)
    ]


def _as_dask(table, kind: str):
    import dask.dataframe as dd

    if isinstance(table, dd.DataFrame):
        return table
    if isinstance(table, pd.DataFrame):
        n = max(1, min(32, len(table) // 200_000 + 1))
        plain = table.copy(deep=False)
        plain.attrs = {}  # a reader's report and runs table: not data to partition
        # In the task graph, not scattered: data a dead worker held is recomputed from the
        # graph, while scattered data would be lost. Large tables are better read from
        # Parquet by the workers themselves.
        return dd.from_pandas(plain, npartitions=n)
    paths = [os.fspath(p) for p in (table if isinstance(table, list | tuple) else [table])]
    csv = [p.endswith((".csv", ".csv.gz")) for p in paths]
    if all(csv):
        return dd.read_csv(paths, dtype={"image_id": str, "annotator_id": str})
    if not any(csv):
        return dd.read_parquet(paths)
    raise CellConsensusInputError(f"{kind}: mix of CSV and Parquet paths", source=str(paths))


def partition_clicks(clicks, runs=None, *, npartitions: int | None = None):
    """One Dask DataFrame of clicks (and runs) shuffled so that no image spans two partitions.

    Parameters
    ----------
    clicks : DataFrame, dask DataFrame, path or list of paths
        A Clicks table; paths are Parquet files/folders or CSV files with the
        Clicks columns.
    runs : DataFrame, dask DataFrame or path, optional
        Every (``image_id``, ``annotator_id``) that worked on an image, empty
        runs included (readers put it in ``clicks.attrs["runs"]``; taken from
        there when ``clicks`` is a pandas DataFrame and ``runs`` is None).
    npartitions : int, optional
        Partitions after the shuffle; default the input's.

    Returns
    -------
    dask.dataframe.DataFrame
        The Clicks columns, ``image_id`` and ``annotator_id`` as strings, and
        a boolean ``_run_only`` column (True for rows that list a run).

    Examples
    --------
    >>> clicks = pd.DataFrame({"image_id": ["a", "a", "b"], "annotator_id": ["u", "v", "u"],
    ...                        "x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0], "label": ["alive"] * 3})
    >>> parts = partition_clicks(clicks, npartitions=2)
    >>> sorted(len(p) for p in parts.partitions)
    [1, 2]
    """
    if runs is None and isinstance(clicks, pd.DataFrame):
        runs = clicks.attrs.get("runs")
    frame = _as_dask(clicks, "clicks")
    missing = [c for c in CLICK_COLUMNS if c not in frame.columns]
    if missing:
        raise CellConsensusInputError(
            f"clicks lack column(s) {', '.join(missing)}", source="<distributed clicks>"
        )
    columns = [*CLICK_COLUMNS, *(["run_id"] if "run_id" in frame.columns else [])]
    frame = frame[columns].map_partitions(_plain_click_columns, RUN_ROW, False)
    if runs is not None:
        import dask.dataframe as dd

        listed = _as_dask(runs, "runs")[["image_id", "annotator_id"]]
        listed = listed.map_partitions(_run_rows, columns, RUN_ROW, meta=frame._meta)
        frame = dd.concat([frame, listed])
    return frame.shuffle(on="image_id", npartitions=npartitions or frame.npartitions)


def _plain_click_columns(part: pd.DataFrame, flag: str, value: bool) -> pd.DataFrame:
    out = part.copy()
    for column in ("image_id", "annotator_id", "label", *(["run_id"] if "run_id" in out else [])):
        missing = out[column].isna().to_numpy()
        text = out[column].astype(str).astype(object)
        text[missing] = None  # stays missing: validation names the row
        out[column] = text
    out[flag] = value
    return out


def _run_rows(runs: pd.DataFrame, columns: Sequence[str], flag: str) -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series([None] * len(runs), dtype=object) for c in columns})
    out["image_id"] = runs["image_id"].astype(str).to_numpy()
    out["annotator_id"] = runs["annotator_id"].astype(str).to_numpy()
    out["x"] = np.nan
    out["y"] = np.nan
    out[flag] = True
    return out.astype({"x": "float64", "y": "float64"})


def split_runs(part: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The clicks and the runs (None when it lists none) of a shuffled partition."""
    is_run = part[RUN_ROW].to_numpy(bool)
    clicks = part.loc[~is_run].drop(columns=[RUN_ROW]).reset_index(drop=True)
    if not is_run.any():
        return clicks, None
    return clicks, part.loc[is_run, ["image_id", "annotator_id"]].reset_index(drop=True)
