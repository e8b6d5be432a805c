"""Consensus on a Dask cluster: partitions of whole images, the same engine on each.

How a run goes
--------------
1. The Clicks table (pandas, a Dask DataFrame, or Parquet/CSV files) and the
   runs list (every annotator who worked on an image, with or without
   clicks) are put into one Dask DataFrame and shuffled by ``image_id``, so no
   image spans two partitions and each image's runs travel with its clicks.
2. ``"auto"`` scale: each partition computes its per-click samples
   (:func:`~cellconsensus.strategies.scale_samples`, which only ever looks
   inside one image); the client finds their exact global median from counts
   the workers return (:mod:`cellconsensus.distributed._select`). The resolved
   strategy is the one a single process would use.
3. Each partition runs :func:`cellconsensus.find_consensus` with that strategy
   and ``support_rule="threshold"``: clustering, the one-vote rule, the support
   filters and cell numbering are per image, so they give exactly the
   single-process cells of that rule. (The annotator model, one process's
   default support rule, learns rates across images and does not run on a
   cluster yet.)
4. Label aggregation: ``mean`` and ``majority`` look at one cell's votes and
   are done in step 3. ``dawid-skene`` learns annotator skills from all
   images: its EM runs across partitions, the workers computing E-steps and
   sufficient statistics, the client summing them
   (:mod:`cellconsensus.distributed._dawid_skene`).
5. Each partition writes ``part-NNNNN.parquet`` into ``OUTPUT.partial/``; the
   client writes ``report.json`` and renames the folder to ``OUTPUT`` last, so
   an interrupted run never leaves a folder that looks complete.

A worker that dies mid-run loses nothing: Dask recomputes its tasks from their
inputs on another worker (each partition's result is a pure function of its
clicks), and part files are written under their final names by one task each,
atomically (a temporary name, then a rename), so a retried task replaces,
never duplicates, its cells.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import consensus as _engine
from .. import defaults
from ..clustering import canonical_positions
from ..errors import CellConsensusInputError
from ..io.tabular import REPORT_FILE, read_cells
from ..labels import BaseAggregator, get_aggregator, label_from_proba
from ..params import validate_params
from ..result import ConsensusReport, input_sources, provenance
from ..strategies import (
    SCALE_SAMPLE_CLICKS,
    BaseStrategy,
    get_strategy,
    scale_from_median,
    scale_image_sample,
    scale_samples,
)
from ..strategies.consistency import CHOICE_SAMPLE_CLICKS, best_factor, consistency_scores
from ..tables import CLICK_COLUMNS, encode_clicks, label_codes
from ._dawid_skene import fit_dawid_skene
from ._select import distributed_median

__all__ = [
    "find_consensus",
    "consensus_on_cluster",
    "DistributedConsensus",
    "partition_clicks",
    "read_cells",
]

logger = logging.getLogger(__name__)

#: Marks rows of the shuffled table that list a run rather than a click.
RUN_ROW = "_run_only"
#: Written last into a finished output folder.


def _client(client):
    if client is not None:
        return client
    try:
        from distributed import get_client
    except ImportError as exc:  # pragma: no cover - distributed is a dependency of the extra
        raise ImportError(
            "cellconsensus.distributed needs dask.distributed: pip install 'cellconsensus[distributed]'"
        ) from exc
    try:
        return get_client()
    except ValueError as exc:
        raise ValueError(
            "no Dask client: pass client=Client(...) or create one first "
            "(e.g. Client(LocalCluster()) on one machine)"
        ) from exc


def gather_all(client, futures: list) -> list:
    """Gather results; on a failure, first wait until every other task has stopped.

    Dask cannot interrupt running tasks: without the wait, tasks of a failed build would
    go on writing after the error reached the caller (who may be cleaning up or rerunning).
    """
    try:
        return client.gather(futures)
    except BaseException:
        from distributed import wait

        wait(futures)
        raise


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


def _split(part: pd.DataFrame) -> pd.DataFrame:
    """The clicks of a shuffled partition, with its runs in ``attrs["runs"]``."""
    is_run = part[RUN_ROW].to_numpy(bool)
    clicks = part.loc[~is_run].drop(columns=[RUN_ROW]).reset_index(drop=True)
    if is_run.any():
        clicks.attrs["runs"] = part.loc[is_run, ["image_id", "annotator_id"]].reset_index(drop=True)
    return clicks


def _part_sample(part: pd.DataFrame, n_clicks: int, sample_clicks: int):
    """Positions, image and annotator codes of the partition's clicks on the sampled images
    (sorted by image, as one process orders them)."""
    clicks, codes = encode_clicks(_split(part), source="<distributed clicks>")
    X, order = canonical_positions(clicks, codes)
    sampled = scale_image_sample(codes.images, n_clicks, sample_clicks)[codes.image[order]]
    order = order[sampled]
    return X[order], codes.image[order], codes.annotator[order]


def _part_scale_samples(part: pd.DataFrame, n_clicks: int) -> np.ndarray:
    return np.sort(scale_samples(*_part_sample(part, n_clicks, SCALE_SAMPLE_CLICKS)))


def _part_consistency(part: pd.DataFrame, strategy, sigma: float, n_clicks: int) -> np.ndarray:
    X, img, ann = _part_sample(part, n_clicks, CHOICE_SAMPLE_CLICKS)
    return consistency_scores(strategy, sigma, X, img, ann)


def _n_clicks(part: pd.DataFrame) -> int:
    return int((~part[RUN_ROW].to_numpy(bool)).sum())


@dataclass
class _PartResult:
    cells: pd.DataFrame
    votes: pd.DataFrame | None  # only when labels are learned across partitions
    report: dict


def _part_consensus(part, strategy, labels, min_support, min_annotators, votes) -> _PartResult:
    # A partition may hold no clicks (only runs, or nothing): the engine handles both.
    result = _engine.find_consensus(
        _split(part),
        strategy,
        labels,
        min_support=min_support,
        min_annotators=min_annotators,
        support_rule="threshold",
    )
    return _PartResult(result.cells, _votes(result) if votes else None, result.report.to_dict())


def _votes(result) -> pd.DataFrame:
    """Each counted click as a vote: row of the cells table, annotator, answer code."""
    a = result.assignments
    a = a[a["status"] == "cell"]
    index = pd.MultiIndex.from_frame(result.cells[["image_id", "cell_id"]])
    task = index.get_indexer(pd.MultiIndex.from_frame(a[["image_id", "cell_id"]]))
    return pd.DataFrame(
        {
            "task": task.astype(np.int64),
            "annotator_id": a["annotator_id"].astype(str).to_numpy(),
            "answer": label_codes(a["label"]).astype(np.int64),
        }
    )


def _write_part(result: _PartResult, p_alive, unsure_margin: float, folder: str, i: int) -> None:
    cells = result.cells
    if p_alive is not None:
        cells = cells.assign(
            p_alive=np.clip(p_alive, 0.0, 1.0), label=label_from_proba(p_alive, unsure_margin)
        )
    cells = cells.copy()
    cells.attrs = {}
    path = Path(folder) / f"part-{i:05d}.parquet"
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    cells.to_parquet(tmp, index=False)
    os.replace(tmp, path)  # a retried task replaces its file, never adds a second one


@dataclass
class DistributedConsensus:
    """Result of :func:`find_consensus` on a cluster.

    Attributes
    ----------
    path : str
        The output folder: ``part-NNNNN.parquet`` files and ``report.json``.
    report : ConsensusReport
        Counts summed over partitions; ``seconds`` is the wall time of the run.
    strategy : BaseStrategy
        The strategy with ``"auto"`` parameters resolved (globally).
    aggregator : BaseAggregator
        The label aggregator; for Dawid-Skene fitted across all partitions
        (``errors_`` rows follow ``annotators_``).
    n_partitions : int
        Partitions the clicks were split into.
    """

    path: str
    report: ConsensusReport
    strategy: BaseStrategy
    aggregator: BaseAggregator
    n_partitions: int

    @property
    def cells(self):
        """The Cells table as a Dask DataFrame read from the Parquet parts."""
        import dask.dataframe as dd

        return dd.read_parquet(self.path)


def consensus_on_cluster(
    clicks,
    strategy: str | BaseStrategy = "dbscan",
    labels: str | BaseAggregator = defaults.LABELS,
    *,
    output: str | os.PathLike,
    runs=None,
    params: dict[str, Any] | None = None,
    min_support: float = defaults.MIN_SUPPORT,
    min_annotators: int = defaults.MIN_ANNOTATORS,
    npartitions: int | None = None,
    overwrite: bool = False,
    client=None,
    progress: bool = False,
) -> DistributedConsensus:
    """Find consensus cells on a Dask cluster and write them as partitioned Parquet.

    The cells equal those of :func:`cellconsensus.find_consensus` on the same
    input with ``support_rule="threshold"`` (same strategy, same labels,
    ``p_alive`` to floating-point rounding); see the module's description for
    how each global step is done. Cells are kept by the support threshold
    (``min_support``, ``min_annotators``): the annotator model
    (``support_rule="model"``, one process's default) learns across images and
    has no cluster implementation yet.

    Parameters
    ----------
    clicks : DataFrame, dask DataFrame, path or list of paths
        A Clicks table, or Parquet/CSV files holding one.
    strategy, labels, params, min_support, min_annotators
        As in :func:`cellconsensus.find_consensus`.
    output : path
        Folder to create: ``part-NNNNN.parquet`` (one per partition) and
        ``report.json``. Local or shared file system (every worker writes).
    runs : DataFrame, dask DataFrame or path, optional
        Every (``image_id``, ``annotator_id``) run, empty runs included;
        default ``clicks.attrs["runs"]`` for a pandas table from a reader.
    npartitions : int, optional
        Partitions of whole images (default: the input's partitions).
    overwrite : bool, default False
        Replace an existing ``output``.
    client : distributed.Client, optional
        Default: the current client (``distributed.get_client()``).
    progress : bool, default False
        Log a line per stage (the Dask dashboard shows task progress).

    Returns
    -------
    DistributedConsensus

    Examples
    --------
    >>> from distributed import Client, LocalCluster
    >>> from cellconsensus.synthetic import make_truth
    >>> from cellconsensus.simulate import simulate_crowd
    >>> clicks = simulate_crowd(make_truth(n_images=20, seed=0), n_annotators=5, seed=0)
    >>> with LocalCluster(n_workers=2, processes=False, dashboard_address=":0") as cluster, \\
    ...         Client(cluster) as client:  # doctest: +SKIP
    ...     result = find_consensus(clicks, "dbscan", output="cells.parquet", client=client)
    ...     read_cells(result.path).shape[0] == result.report.n_cells
    True
    """
    started = time.perf_counter()
    validate_params(
        _engine._CONSTRAINTS,
        {"min_support": min_support, "min_annotators": min_annotators, "n_jobs": 1},
        "find_consensus",
    )
    client = _client(client)
    strategy = get_strategy(strategy, **(params or {}))
    aggregator = get_aggregator(labels)
    output = Path(output)
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists; pass overwrite=True to replace it")
    staging = output.with_name(output.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)

    sources = input_sources(clicks)
    frame = partition_clicks(clicks, runs, npartitions=npartitions)
    parts = client.compute(frame.to_delayed())
    say = logger.info if progress else logger.debug
    say("distributed consensus: %d partitions", len(parts))

    scale = None
    if strategy.needs_scale:
        # The images one process would sample (see scale_image_sample), then, if none of
        # them has two annotators, all of them, as one process does.
        n_clicks = sum(client.gather(client.map(_n_clicks, parts, pure=False)))
        samples = client.map(_part_scale_samples, parts, n_clicks=n_clicks, pure=False)
        median = distributed_median(client, samples)
        if not np.isfinite(median):
            samples = client.map(_part_scale_samples, parts, n_clicks=0, pure=False)
            median = distributed_median(client, samples)
        if np.isfinite(median):
            n_samples = sum(client.gather(client.map(len, samples, pure=False)))
            scale = scale_from_median(median, n_samples)
            # The multiple of the noise: consistency is a sum over images, exact in any order.
            scores = client.map(
                _part_consistency,
                parts,
                strategy=strategy,
                sigma=scale,
                n_clicks=n_clicks,
                pure=False,
            )
            factor = best_factor(np.sum(client.gather(scores), axis=0))
            strategy = strategy.with_scale(scale * factor)
            say("estimated click noise %.2f px -> %r", scale, strategy)
        else:  # no image two annotators clicked: nothing to cluster, as in one process
            say("no image has clicks from two annotators: every click is its own cell")

    global_labels = aggregator.reduction == "dawid-skene-em"
    if aggregator.reduction not in ("per-task", "dawid-skene-em"):
        raise NotImplementedError(
            f"{type(aggregator).__name__} learns across images and has no distributed "
            "implementation; use mean, majority or dawid-skene"
        )
    local = "mean" if global_labels else aggregator
    results = client.map(
        _part_consensus,
        parts,
        strategy=strategy,
        labels=local,
        min_support=min_support,
        min_annotators=min_annotators,
        votes=global_labels,
        pure=False,
    )
    reports = client.gather(client.map(lambda r: r.report, results, pure=False))
    # A strategy that labels its cells by its own rule (the thesis') needs no label model.
    global_labels = global_labels and not any(r["labels_from_strategy"] for r in reports)
    if global_labels:
        votes = client.map(lambda r: r.votes, results, pure=False)
        n_cells = [r["n_cells"] for r in reports]
        annotators = pd.Index(
            sorted(set().union(*client.gather(client.map(_annotators, votes, pure=False))))
        )
        say("Dawid-Skene over %d cells, %d annotators", sum(n_cells), len(annotators))
        p_alive = fit_dawid_skene(client, votes, n_cells, annotators, aggregator)
    else:
        p_alive = [None] * len(results)
    gather_all(
        client,
        [
            client.submit(_write_part, r, p, aggregator.unsure_margin, str(staging), i, pure=False)
            for i, (r, p) in enumerate(zip(results, p_alive, strict=True))
        ],
    )
    report = _sum_reports(reports, strategy, aggregator, scale, started)
    made = provenance(
        report,
        min_support=min_support,
        min_annotators=min_annotators,
        support_rule="threshold",
        sources=sources,
    )
    (staging / REPORT_FILE).write_text(
        json.dumps(report.to_dict() | {"n_partitions": len(parts), "provenance": made}, indent=2)
    )
    if output.exists():
        shutil.rmtree(output)
    os.replace(staging, output)
    say("%s", report)
    return DistributedConsensus(str(output), report, strategy, aggregator, len(parts))


def _annotators(votes: pd.DataFrame) -> set[str]:
    return set(votes["annotator_id"].unique())


def _sum_reports(reports, strategy, aggregator, scale, started) -> ConsensusReport:
    counts = [f.name for f in fields(ConsensusReport) if f.name.startswith("n_")]
    return ConsensusReport(
        strategy=repr(strategy),
        labels=repr(aggregator),
        scale=scale,
        **{k: int(sum(r[k] for r in reports)) for k in counts},
        labels_from_strategy=any(r["labels_from_strategy"] for r in reports),
        seconds=time.perf_counter() - started,
    )


def find_consensus(clicks, strategy="dbscan", labels=defaults.LABELS, *, client=None, **options):
    """:func:`cellconsensus.find_consensus` on the current Dask client (or ``client``): the
    same function, for code that imports it from here (``output=`` required).

    Examples
    --------
    >>> result = find_consensus(clicks, output="cells", client=client)  # doctest: +SKIP
    """
    from ..consensus import find_consensus as find

    return find(clicks, strategy, labels, client=_client(client), **options)
