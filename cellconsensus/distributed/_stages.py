"""The engine's stages as tasks on one partition of whole images (run by the workers)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..clustering import ClickArrays, DraftCells
from ..engine import finish_cells, image_sample, new_report
from ..io import atomic_write
from ..labels import cell_label_columns
from ..strategies import BaseStrategy, scale_samples
from ..strategies.consistency import CHOICE_SAMPLE_CLICKS, consistency_scores
from ..support import SupportOutcome, apply_model, threshold_keep
from ..tables import ALIVE_DEAD, Vocabulary
from ._cell_model import posteriors_of
from ._dawid_skene import posteriors
from .partition import split_runs

__all__ = [
    "encode",
    "labels_seen",
    "n_clicks",
    "scale_sample",
    "consistency",
    "Drafted",
    "make_draft",
    "modelled",
    "PartResult",
    "finish",
    "run_partition",
    "write_part",
]


def encode(part, vocabulary: Vocabulary | None = None) -> ClickArrays:
    """A partition's clicks and runs, validated and encoded over the label set of the whole
    input (kept on the worker)."""
    clicks, runs = part if isinstance(part, tuple) else split_runs(part)
    return ClickArrays.encode(clicks, runs, source="<distributed clicks>", classes=vocabulary)


def labels_seen(part) -> set[str]:
    """The distinct labels of a partition's clicks (to infer the input's label set)."""
    clicks, _ = part if isinstance(part, tuple) else split_runs(part)
    if "label" not in clicks.columns:  # encoding the partition names what is missing
        return set()
    return {str(v) for v in pd.Series(clicks["label"]).dropna().unique()}


def n_clicks(clicks: ClickArrays) -> int:
    return len(clicks.table)


def scale_sample(clicks: ClickArrays, total: int) -> np.ndarray:
    """The sorted noise samples of the partition's share of the sample of ``total`` clicks."""
    return np.sort(scale_samples(*image_sample(clicks, total)))


def consistency(clicks: ClickArrays, strategy, sigma: float, total: int) -> np.ndarray:
    """The partition's consistency scores of the multiples of ``sigma``."""
    return consistency_scores(strategy, sigma, *image_sample(clicks, total, CHOICE_SAMPLE_CLICKS))


@dataclass
class Drafted:
    """A partition's candidate cells and the threshold's verdict on them."""

    clicks: ClickArrays
    draft: DraftCells
    keep: np.ndarray
    strategy: BaseStrategy


def make_draft(clicks: ClickArrays, strategy, min_support, min_annotators) -> Drafted:
    """The strategy's candidate cells, and which of them the support threshold keeps."""
    cells = strategy.make_cells(clicks)
    keep = (
        np.ones(len(cells), bool)
        if cells.final
        else threshold_keep(cells, clicks, min_support, min_annotators)
    )
    return Drafted(clicks, cells, keep, strategy)


def modelled(drafted: Drafted) -> tuple[bool, list[str]]:
    """Whether the annotator model decides this partition's cells, and its annotators."""
    return not drafted.draft.final, [str(a) for a in drafted.clicks.codes.annotators]


@dataclass
class PartResult:
    cells: pd.DataFrame | None  # None once written
    votes: pd.DataFrame | None  # only when labels are learned across partitions
    report: dict


def finish(
    drafted: Drafted,
    model: tuple | None,
    index: int,
    aggregator,
    votes: bool,
    folder: str | None,
) -> PartResult:
    """Keep, label and number a partition's cells (by the annotator model's posteriors when
    ``model``, the arguments of :func:`posteriors_of`, is given); write them now unless a
    label model learnt across partitions still has to label them."""
    d = drafted
    if model is None:
        outcome = SupportOutcome(d.draft, d.keep, None, int((~d.keep).sum()))
    else:
        outcome = apply_model(d.draft, d.clicks, d.keep, *posteriors_of(*model))
    report = new_report(d.strategy, aggregator, None, d.clicks)
    cells, assignments = finish_cells(d.clicks, outcome, aggregator, report)
    votes_table = _votes(cells, assignments, d.clicks.codes.vocabulary) if votes else None
    result = PartResult(cells, votes_table, report.to_dict())
    if folder is not None:
        write_part(result, None, aggregator.unsure_margin, folder, index)
        result.cells = None
    return result


def run_partition(
    part, index, strategy, min_support, min_annotators, aggregator, folder, vocabulary=None
):
    """Every stage of a partition in one task, where nothing is learnt across partitions
    (a fixed scale, the support threshold, a label rule of one cell's votes)."""
    drafted = make_draft(encode(part, vocabulary), strategy, min_support, min_annotators)
    return finish(drafted, None, index, aggregator, votes=False, folder=folder)


def _votes(cells: pd.DataFrame, assignments: pd.DataFrame, vocabulary: Vocabulary) -> pd.DataFrame:
    """Each counted click as a vote: row of the cells table, annotator, answer code."""
    a = assignments[assignments["status"] == "cell"]
    index = pd.MultiIndex.from_frame(cells[["image_id", "cell_id"]])
    task = index.get_indexer(pd.MultiIndex.from_frame(a[["image_id", "cell_id"]]))
    return pd.DataFrame(
        {
            "task": task.astype(np.int64),
            "annotator_id": a["annotator_id"].astype(str).to_numpy(),
            "answer": vocabulary.codes(a["label"]).astype(np.int64),
        }
    )


def write_part(
    result: PartResult,
    labels: tuple | None,
    unsure_margin: float,
    folder: str,
    i: int,
    vocabulary: Vocabulary = ALIVE_DEAD,
) -> None:
    """Write a partition's cells; ``labels`` (Dawid-Skene's group state and the rows of this
    partition there) gives their class probabilities (``p_alive``, or ``p_<class>``)."""
    cells = result.cells
    if labels is not None:
        columns, label = cell_label_columns(posteriors(*labels), vocabulary, unsure_margin)
        cells = cells.assign(**columns, label=label)
    cells = cells.copy()
    cells.attrs = {}
    # Under its final name, atomically: a retried task replaces its file, never adds a second.
    atomic_write(
        Path(folder) / f"part-{i:05d}.parquet", lambda tmp: cells.to_parquet(tmp, index=False)
    )
