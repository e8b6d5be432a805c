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
   the workers return (:mod:`cellconsensus.distributed._select`), then the
   consistency scores of the multiples of it, summed over partitions: the same
   stage as in one process (:func:`~cellconsensus.strategies.consistency.resolve_auto`)
   with the partitions' reducers, so the resolved strategy is the one a single
   process uses.
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
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import consensus as _engine
from .. import defaults
from ..clustering import canonical_positions
from ..io import atomic_write
from ..io.tabular import REPORT_FILE
from ..labels import BaseAggregator, get_aggregator, label_from_proba
from ..result import ConsensusReport, input_sources, provenance
from ..strategies import (
    SCALE_SAMPLE_CLICKS,
    BaseStrategy,
    get_strategy,
    scale_image_sample,
    scale_samples,
)
from ..strategies.consistency import CHOICE_SAMPLE_CLICKS, consistency_scores, resolve_auto
from ..tables import encode_clicks, label_codes
from ._client import gather_all, resolve_client
from ._dawid_skene import fit_dawid_skene
from ._select import distributed_median
from .partition import partition_clicks, split_runs

__all__ = ["find_consensus", "consensus_on_cluster", "DistributedConsensus"]

logger = logging.getLogger(__name__)


def _part_arrays(part: pd.DataFrame) -> tuple:
    """Positions, image and annotator codes (sorted by image, as one process orders them)
    and the image ids of a partition's clicks: encoded once for every sample drawn."""
    clicks, codes = encode_clicks(split_runs(part), source="<distributed clicks>")
    X, order = canonical_positions(clicks, codes)
    return X[order], codes.image[order], codes.annotator[order], codes.images


def _part_sample(arrays: tuple, n_clicks: int, sample_clicks: int):
    """The clicks of the images :func:`scale_image_sample` picks, as in one process."""
    X, img, ann, images = arrays
    sampled = scale_image_sample(images, n_clicks, sample_clicks)[img]
    return X[sampled], img[sampled], ann[sampled]


def _part_scale_samples(arrays: tuple, n_clicks: int) -> np.ndarray:
    return np.sort(scale_samples(*_part_sample(arrays, n_clicks, SCALE_SAMPLE_CLICKS)))


def _part_consistency(arrays: tuple, strategy, sigma: float, n_clicks: int) -> np.ndarray:
    return consistency_scores(
        strategy, sigma, *_part_sample(arrays, n_clicks, CHOICE_SAMPLE_CLICKS)
    )


def _resolve_scale(client, parts: list, strategy: BaseStrategy):
    """:func:`~cellconsensus.strategies.consistency.resolve_auto` with the partitions'
    reducers: the exact global median of the noise samples
    (:mod:`cellconsensus.distributed._select`) and consistency scores summed (a sum over
    images, exact in any order). The resolved strategy is the one a single process uses."""
    if not strategy.needs_scale:
        return strategy, None
    arrays = client.map(_part_arrays, parts, pure=False)
    total = sum(client.gather(client.map(lambda a: len(a[0]), arrays, pure=False)))

    def noise(n_clicks: int) -> tuple[float, int]:
        samples = client.map(_part_scale_samples, arrays, n_clicks=n_clicks, pure=False)
        count = sum(client.gather(client.map(len, samples, pure=False)))
        return (distributed_median(client, samples) if count else float("nan")), count

    def consistency(sigma: float) -> np.ndarray:
        scores = client.map(
            _part_consistency, arrays, strategy=strategy, sigma=sigma, n_clicks=total, pure=False
        )
        return np.sum(client.gather(scores), axis=0)

    return resolve_auto(strategy, total, noise, consistency)


@dataclass
class _PartResult:
    cells: pd.DataFrame
    votes: pd.DataFrame | None  # only when labels are learned across partitions
    report: dict


def _part_consensus(part, strategy, labels, min_support, min_annotators, votes) -> _PartResult:
    # A partition may hold no clicks (only runs, or nothing): the engine handles both.
    result = _engine.find_consensus(
        split_runs(part),
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
    # Under its final name, atomically: a retried task replaces its file, never adds a second.
    atomic_write(
        Path(folder) / f"part-{i:05d}.parquet", lambda tmp: cells.to_parquet(tmp, index=False)
    )


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
    strategy: str | BaseStrategy = defaults.STRATEGY,
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
    """Find consensus cells on a Dask cluster and write them as partitioned Parquet: the
    cluster executor of :func:`cellconsensus.find_consensus` (``client=``), which validates
    the options before it hands them here.

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
    client = resolve_client(client)
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

    strategy, scale = _resolve_scale(client, parts, strategy)

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


def find_consensus(
    clicks, strategy=defaults.STRATEGY, labels=defaults.LABELS, *, client=None, **options
):
    """:func:`cellconsensus.find_consensus` on the current Dask client (or ``client``): the
    same function, for code that imports it from here (``output=`` required).

    Examples
    --------
    >>> result = find_consensus(clicks, output="cells", client=client)  # doctest: +SKIP
    """
    from ..consensus import find_consensus as find

    return find(clicks, strategy, labels, client=resolve_client(client), **options)
