"""What :func:`~cellconsensus.find_consensus` returns: the cells, the audit trail, the report."""

from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass, field

import pandas as pd

from .annotators import annotator_table
from .labels import BaseAggregator
from .strategies import BaseStrategy

__all__ = ["Consensus", "ConsensusReport", "ASSIGNMENT_STATUS", "input_sources", "provenance"]

#: Status of a click in the assignment table.
ASSIGNMENT_STATUS = pd.CategoricalDtype(["cell", "noise", "duplicate", "filtered"])


@dataclass
class ConsensusReport:
    """Counts and timing of one :func:`find_consensus` run.

    Attributes
    ----------
    strategy, labels : str
        The strategy (with resolved parameters) and label aggregation used.
    scale : float or None
        Estimated click noise (pixels) when a parameter was ``"auto"``.
    n_images, n_single_annotator_images, n_images_with_cells : int
        Images seen (including those with runs but no click), images with one
        annotator (passed through), images that got at least one cell.
    n_clicks, n_cells : int
        Clicks in, cells out.
    n_noise, n_duplicate, n_filtered : int
        Clicks in no cell: noise of the strategy, second clicks of one
        annotator in one cell, clicks of cells below the support filters.
    n_filtered_cells : int
        Cells dropped by the support rule.
    labels_from_strategy : bool
        The strategy labelled its cells by its own rule (the thesis'); the label
        model was not used.
    seconds : float
        Wall time.
    input : dict
        The reader's :class:`~cellconsensus.tables.InputReport` (clicks clipped,
        dropped, duplicate and empty runs), when the clicks carry one.
    """

    strategy: str
    labels: str
    scale: float | None = None
    n_images: int = 0
    n_single_annotator_images: int = 0
    n_images_with_cells: int = 0
    n_clicks: int = 0
    n_cells: int = 0
    n_noise: int = 0
    n_duplicate: int = 0
    n_filtered: int = 0
    n_filtered_cells: int = 0
    labels_from_strategy: bool = False
    seconds: float = 0.0
    input: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return the report as a plain dictionary."""
        return asdict(self)

    def __str__(self) -> str:
        labels = "the strategy's own rule" if self.labels_from_strategy else self.labels
        lines = [f"strategy: {self.strategy}", f"labels:   {labels}"]
        if self.scale is not None:
            lines.append(f"estimated click noise: {self.scale:.2f} px")
        lines += [
            f"images: {self.n_images} ({self.n_images_with_cells} with cells, "
            f"{self.n_single_annotator_images} with a single annotator)",
            f"clicks: {self.n_clicks} -> cells: {self.n_cells}",
            f"clicks in no cell: {self.n_noise} noise, {self.n_duplicate} duplicate, "
            f"{self.n_filtered} in {self.n_filtered_cells} filtered cell(s)",
        ]
        for key in ("n_clipped", "n_dropped_out_of_canvas", "n_duplicate_runs", "n_empty_runs"):
            if self.input.get(key):
                lines.append(f"input: {key[2:].replace('_', ' ')}: {self.input[key]}")
        lines.append(f"time: {self.seconds:.3f} s")
        return "\n".join(lines)


@dataclass
class Consensus:
    """Result of :func:`find_consensus`.

    Attributes
    ----------
    cells : DataFrame
        The Cells table (see :mod:`cellconsensus.tables`).
    assignments : DataFrame
        One row per input click, in input order: the Clicks columns plus
        ``cell_id`` (-1 when in no cell) and ``status`` (``cell``, ``noise``,
        ``duplicate`` or ``filtered``), so the consensus can be audited click
        by click.
    report : ConsensusReport
        Counts and timing.
    strategy : BaseStrategy
        The strategy with ``"auto"`` parameters resolved.
    aggregator : BaseAggregator
        The fitted label aggregator (e.g. Dawid-Skene's ``errors_``).
    annotators_ : DataFrame
        Reliability of every annotator (votes, images, sensitivity,
        specificity, unsure, detection and stray-click rates, spammer score),
        computed on first access: see :func:`~cellconsensus.annotators.annotator_table`.
    """

    cells: pd.DataFrame
    assignments: pd.DataFrame
    report: ConsensusReport
    strategy: BaseStrategy
    aggregator: BaseAggregator

    @functools.cached_property
    def annotators_(self) -> pd.DataFrame:
        """Reliability of every annotator (see :func:`~cellconsensus.annotators.annotator_table`)."""
        return annotator_table(self)


def input_sources(clicks) -> list[str]:
    """The files a Clicks input came from: a reader's recorded sources for a table, the
    paths themselves for paths, nothing for a table built in memory.

    Examples
    --------
    >>> input_sources(["a.parquet", "b.parquet"])
    ['a.parquet', 'b.parquet']
    >>> input_sources(pd.DataFrame())
    []
    """
    if isinstance(clicks, pd.DataFrame):
        report = clicks.attrs.get("report")
        return list(getattr(report, "sources", []) or [])
    if isinstance(clicks, str | os.PathLike):
        return [os.fspath(clicks)]
    if isinstance(clicks, list | tuple):
        return [os.fspath(p) for p in clicks]
    return []


def provenance(
    report: ConsensusReport,
    *,
    min_support: float,
    min_annotators: int,
    support_rule: str,
    sources: list[str],
) -> dict:
    """How cells were made, as they carry it (``cells.attrs["provenance"]``, a patch
    store's attributes), on one machine or a cluster alike."""
    return {
        "strategy": report.strategy,
        "labels": report.labels,
        "labels_from_strategy": report.labels_from_strategy,
        "scale": report.scale,
        "min_support": min_support,
        "min_annotators": min_annotators,
        "support_rule": support_rule,
        "n_clicks": report.n_clicks,
        "input_sources": list(sources),
    }
