"""Consensus on a Dask cluster: partitions of whole images, the engine's stages on each.

How a run goes
--------------
1. Partitions of whole images, each with its images' runs (every annotator who
   worked on an image, with or without clicks): a pandas table is split on the
   client into contiguous ranges of images with about equal clicks, a Dask
   DataFrame or files are shuffled by ``image_id`` on the cluster
   (:mod:`cellconsensus.distributed.partition`). By default there are two per
   worker, fewer where a partition would hold under 100,000 clicks
   (:func:`~cellconsensus.distributed.partition.choose_npartitions`): every task
   then computes long enough for the scheduler's cost per task not to matter.
2. Each partition is validated and encoded once (:meth:`ClickArrays.encode
   <cellconsensus.clustering.ClickArrays.encode>`) and stays on its worker.
3. ``"auto"`` scale: the partitions' noise samples give their exact global median
   (:mod:`cellconsensus.distributed._select`), then the consistency scores of the
   multiples of it are summed: the one stage
   :func:`~cellconsensus.strategies.consistency.resolve_auto` with the partitions'
   reducers, so the resolved strategy is the one a single process uses.
4. Each partition makes its candidate cells with that strategy (clustering, the
   one-vote rule and the support threshold are per image).
5. The annotator model (``support_rule="model"``) learns across images: its EM
   runs across partitions (:mod:`cellconsensus.distributed._cell_model`).
6. Labels: ``mean`` and ``majority`` look at one cell's votes and are done in
   the partition, which then writes its cells at once. ``dawid-skene`` learns
   annotator skills from all images: its EM runs across groups of partitions
   (:mod:`cellconsensus.distributed._dawid_skene`), then each partition writes.
7. Each partition writes ``part-NNNNN.parquet`` into ``OUTPUT.partial/``; the
   client writes ``report.json`` and renames the folder to ``OUTPUT`` last, so
   an interrupted run never leaves a folder that looks complete.

The cells equal those of :func:`cellconsensus.find_consensus` in one process with
the same options (``p_alive`` and ``p_real`` to floating-point rounding).

A worker that dies mid-run loses nothing: Dask recomputes its tasks from their
inputs on another worker (each partition's result is a pure function of its
clicks and the global models), and part files are written under their final
names by one task each, atomically (a temporary name, then a rename), so a
retried task replaces, never duplicates, its cells.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import defaults
from ..io.tabular import REPORT_FILE
from ..labels import BaseAggregator, MeanAggregator, get_aggregator
from ..result import ConsensusReport, input_sources, provenance
from ..strategies import BaseStrategy, get_strategy
from ..strategies.consistency import resolve_auto
from ..tables.vocabulary import Vocabulary, as_vocabulary
from . import _stages as stages
from ._cell_model import fit_support_model
from ._client import gather_all, resolve_client
from ._dawid_skene import fit_dawid_skene
from ._select import distributed_median
from .partition import _as_dask, choose_npartitions, partition_clicks, split_frame

__all__ = ["find_consensus", "consensus_on_cluster", "DistributedConsensus"]

logger = logging.getLogger(__name__)


def _partitions(client, clicks, runs, npartitions: int | None) -> list:
    """Every partition's clicks and runs: a (clicks, runs) pair for a pandas table, a future
    of a shuffled partition otherwise."""
    n_workers = len(client.scheduler_info()["workers"])
    if isinstance(clicks, pd.DataFrame):
        if runs is None:
            runs = clicks.attrs.get("runs")
        n = npartitions or choose_npartitions(len(clicks), n_workers)
        # Each piece travels in the task that reads it (not scattered): a dead worker's
        # partitions are recomputed from the graph, where scattered data would be lost.
        return split_frame(clicks, runs, n)
    source = _as_dask(clicks, "clicks")
    n = npartitions or choose_npartitions(len(source), n_workers)
    return client.compute(partition_clicks(source, runs, npartitions=n).to_delayed())


def _label_set(client, clicks, parts: list, classes) -> Vocabulary:
    """The label set of the whole input: ``classes``, else a pandas table's
    ``attrs["classes"]``, else inferred from the labels of every partition (as one process
    infers it from the whole table)."""
    if classes is None and isinstance(clicks, pd.DataFrame):
        classes = clicks.attrs.get("classes")
    if classes is not None:
        return as_vocabulary(classes, [])
    seen = set().union(*client.gather(client.map(stages.labels_seen, parts, pure=False)))
    return Vocabulary.infer(sorted(seen), source="<distributed clicks>")


def _resolve_scale(client, encoded: list, strategy: BaseStrategy):
    """:func:`~cellconsensus.strategies.consistency.resolve_auto` with the partitions'
    reducers: the exact global median of the noise samples
    (:mod:`cellconsensus.distributed._select`) and consistency scores summed (a sum over
    images, exact in any order). The resolved strategy is the one a single process uses."""
    if not strategy.needs_scale:
        return strategy, None
    total = sum(client.gather(client.map(stages.n_clicks, encoded, pure=False)))

    def noise(n_clicks: int) -> tuple[float, int]:
        samples = client.map(stages.scale_sample, encoded, total=n_clicks, pure=False)
        return distributed_median(client, samples)

    def consistency(sigma: float) -> np.ndarray:
        scores = client.map(
            stages.consistency, encoded, strategy=strategy, sigma=sigma, total=total, pure=False
        )
        return np.sum(client.gather(scores), axis=0)

    return resolve_auto(strategy, total, noise, consistency)


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
    support_rule: str = defaults.SUPPORT_RULE,
    npartitions: int | None = None,
    overwrite: bool = False,
    client=None,
    progress: bool = False,
    classes: Vocabulary | Sequence[str] | None = None,
) -> DistributedConsensus:
    """Find consensus cells on a Dask cluster and write them as partitioned Parquet: the
    cluster executor of :func:`cellconsensus.find_consensus` (``client=``), which validates
    the options before it hands them here.

    The cells equal those of :func:`cellconsensus.find_consensus` on the same
    input with the same options (``p_alive`` and ``p_real`` to floating-point
    rounding); see the module's description for how each global step is done.

    Parameters
    ----------
    clicks : DataFrame, dask DataFrame, path or list of paths
        A Clicks table, or Parquet/CSV files holding one.
    strategy, labels, params, min_support, min_annotators, support_rule
        As in :func:`cellconsensus.find_consensus`.
    output : path
        Folder to create: ``part-NNNNN.parquet`` (one per partition) and
        ``report.json``. Local or shared file system (every worker writes).
    runs : DataFrame, dask DataFrame or path, optional
        Every (``image_id``, ``annotator_id``) run, empty runs included;
        default ``clicks.attrs["runs"]`` for a pandas table from a reader.
    npartitions : int, optional
        Partitions of whole images (default:
        :func:`~cellconsensus.distributed.partition.choose_npartitions`: two per
        worker, fewer when a partition would hold under 100,000 clicks).
    overwrite : bool, default False
        Replace an existing ``output``.
    client : distributed.Client, optional
        Default: the current client (``distributed.get_client()``).
    progress : bool, default False
        Log a line per stage (the Dask dashboard shows task progress).
    classes : Vocabulary or sequence of str, optional
        The label set, as in :func:`cellconsensus.find_consensus` (default:
        ``clicks.attrs["classes"]`` of a pandas table, else inferred from the labels of
        every partition); another set than alive / dead gives a ``p_<class>`` column
        per class.

    Returns
    -------
    DistributedConsensus

    Examples
    --------
    >>> from distributed import Client
    >>> from cellconsensus.synthetic import make_truth
    >>> from cellconsensus.simulate import simulate_crowd
    >>> clicks = simulate_crowd(make_truth(n_images=20, seed=0), n_annotators=5, seed=0)
    >>> from cellconsensus.distributed import local_cluster
    >>> with local_cluster(2) as cluster, Client(cluster) as client:  # doctest: +SKIP
    ...     result = find_consensus(clicks, "dbscan", output="cells.parquet", client=client)
    ...     read_cells(result.path).shape[0] == result.report.n_cells
    True
    """
    started = time.perf_counter()
    client = resolve_client(client)
    strategy = get_strategy(strategy, **(params or {}))
    aggregator = get_aggregator(labels)
    if aggregator.reduction not in ("per-task", "dawid-skene-em"):
        raise NotImplementedError(
            f"{type(aggregator).__name__} learns across images and has no distributed "
            "implementation; use mean, majority or dawid-skene"
        )
    output = Path(output)
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists; pass overwrite=True to replace it")
    staging = output.with_name(output.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    say = logger.info if progress else logger.debug

    sources = input_sources(clicks)
    global_labels = aggregator.reduction == "dawid-skene-em"
    parts = _partitions(client, clicks, runs, npartitions)
    say("distributed consensus: %d partitions", len(parts))
    vocabulary = _label_set(client, clicks, parts, classes)
    given = None if vocabulary.is_alive_dead else vocabulary  # alive / dead: as in one process
    if not (strategy.needs_scale or support_rule == "model" or global_labels):
        # Nothing is learnt across partitions: one task per partition does it all.
        scale = None
        results = client.map(
            stages.run_partition,
            parts,
            range(len(parts)),
            strategy=strategy,
            min_support=min_support,
            min_annotators=min_annotators,
            aggregator=aggregator,
            folder=str(staging),
            vocabulary=given,
            pure=False,
        )
    else:
        encoded = client.map(stages.encode, parts, vocabulary=given, pure=False)
        strategy, scale = _resolve_scale(client, encoded, strategy)
        drafted = client.map(
            stages.make_draft,
            encoded,
            strategy=strategy,
            min_support=min_support,
            min_annotators=min_annotators,
            pure=False,
        )
        # Which partitions the annotator model decides, and every annotator (sorted ids:
        # the rows of both models' rates, as in one process).
        info = client.gather(client.map(stages.modelled, drafted, pure=False))
        annotators = pd.Index(sorted(set().union(*(ids for _, ids in info))))
        model = [None] * len(drafted)
        if support_rule == "model" and all(modelled for modelled, _ in info):
            say("annotator model over %d annotators", len(annotators))
            model = fit_support_model(client, drafted, annotators)
        results = client.map(
            stages.finish,
            drafted,
            model,
            range(len(drafted)),
            aggregator=MeanAggregator() if global_labels else aggregator,
            votes=global_labels,
            folder=None if global_labels else str(staging),
            pure=False,
        )
    if not global_labels:
        reports = [r.report for r in gather_all(client, results)]
    else:
        reports = client.gather(client.map(lambda r: r.report, results, pure=False))
        # A strategy that labels its cells by its own rule (the thesis') needs no label model.
        labels = [None] * len(results)
        if not any(r["labels_from_strategy"] for r in reports):
            n_cells = [r["n_cells"] for r in reports]
            say("Dawid-Skene over %d cells, %d annotators", sum(n_cells), len(annotators))
            k = None if given is None else given.n_classes
            labels = fit_dawid_skene(client, results, n_cells, annotators, aggregator, n_classes=k)
        gather_all(
            client,
            [
                client.submit(
                    stages.write_part,
                    r,
                    p,
                    aggregator.unsure_margin,
                    str(staging),
                    i,
                    vocabulary,
                    pure=False,
                )  # fmt: skip
                for i, (r, p) in enumerate(zip(results, labels, strict=True))
            ],
        )
    report = _sum_reports(reports, strategy, aggregator, scale, started)
    made = provenance(
        report,
        min_support=min_support,
        min_annotators=min_annotators,
        support_rule=support_rule,
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
