"""Clicks and runs as one Dask DataFrame, shuffled so that no image spans two partitions."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import CellConsensusInputError
from ..tables import CLICK_COLUMNS

__all__ = ["partition_clicks", "split_runs", "RUN_ROW"]

#: Marks rows of the shuffled table that list a run rather than a click.
RUN_ROW = "_run_only"


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


def split_runs(part: pd.DataFrame) -> pd.DataFrame:
    """The clicks of a shuffled partition, with its runs in ``attrs["runs"]``."""
    is_run = part[RUN_ROW].to_numpy(bool)
    clicks = part.loc[~is_run].drop(columns=[RUN_ROW]).reset_index(drop=True)
    if is_run.any():
        clicks.attrs["runs"] = part.loc[is_run, ["image_id", "annotator_id"]].reset_index(drop=True)
    return clicks
