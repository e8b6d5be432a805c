"""The consensus engine's stages, shared by one process and every partition of a cluster.

:func:`cellconsensus.find_consensus` runs them on all clicks at once; the cluster
executor (:mod:`cellconsensus.distributed.consensus`) runs them per partition of
whole images, with the steps that learn across images (the ``"auto"`` scale, the
annotator model, Dawid-Skene) reduced over partitions in between:

1. :meth:`ClickArrays.encode <cellconsensus.clustering.ClickArrays.encode>`: validate,
   code, sort canonically;
2. :func:`resolve_scale` (from :func:`image_sample` draws);
3. the strategy's :meth:`~cellconsensus.strategies.BaseStrategy.make_cells`;
4. the support rule (:mod:`cellconsensus.support`);
5. :func:`finish_cells`: labels, the Cells table (cells numbered per image by
   position) and the assignment of every click.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .clustering import ClickArrays, DraftCells
from .errors import InvalidParameterError
from .labels import BaseAggregator, cell_label_columns
from .result import ASSIGNMENT_STATUS, ConsensusReport
from .strategies import SCALE_SAMPLE_CLICKS, BaseStrategy, scale_image_sample
from .strategies.consistency import CHOICE_SAMPLE_CLICKS, consistency_scores, resolve_auto
from .strategies.scale import sample_median
from .support import SupportOutcome
from .tables import ClickCodes

__all__ = ["image_sample", "resolve_scale", "new_report", "finish_cells"]


def image_sample(
    clicks: ClickArrays, n_clicks: int, sample_clicks: int = SCALE_SAMPLE_CLICKS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions, image and annotator codes (sorted by image) of the images that
    :func:`~cellconsensus.strategies.scale_image_sample` picks for ``n_clicks`` clicks in
    all: a hash of each image id, so a partition of whole images draws its share of the
    whole table's sample."""
    X, img, ann = clicks.sorted_by_image()
    sampled = scale_image_sample(clicks.codes.images, n_clicks, sample_clicks)[img]
    return X[sampled], img[sampled], ann[sampled]


def resolve_scale(strategy: BaseStrategy, clicks: ClickArrays) -> tuple[BaseStrategy, float | None]:
    """:func:`~cellconsensus.strategies.consistency.resolve_auto` on the clicks of one
    process."""
    if not (clicks.clicked >= 2).any():  # every image passes through: nothing to estimate
        return strategy, None
    n = len(clicks.table)

    def noise(n_clicks: int) -> tuple[float, int]:
        return sample_median(*image_sample(clicks, n, n_clicks))

    def consistency(sigma: float) -> np.ndarray:
        return consistency_scores(strategy, sigma, *image_sample(clicks, n, CHOICE_SAMPLE_CLICKS))

    return resolve_auto(strategy, n, noise, consistency)


def new_report(
    strategy: BaseStrategy,
    aggregator: BaseAggregator,
    scale: float | None,
    clicks: ClickArrays,
    input_report: dict | None = None,
) -> ConsensusReport:
    """The report of a run before its cells are made (counts of the input)."""
    return ConsensusReport(
        strategy=repr(strategy),
        labels=repr(aggregator),
        scale=scale,
        n_images=len(clicks.codes.images) + clicks.n_orphan_images,
        n_single_annotator_images=int(np.sum(clicks.clicked == 1)),
        n_clicks=len(clicks.table),
        input=input_report or {},
    )


def finish_cells(
    clicks: ClickArrays,
    outcome: SupportOutcome,
    aggregator: BaseAggregator,
    report: ConsensusReport,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Label the kept cells (unless the strategy did), number them per image by position
    and assign every click; fills the report's counts.

    Returns
    -------
    cells : DataFrame
        The Cells table.
    assignments : DataFrame
        The clicks (input order) with ``click``, ``cell_id`` and ``status``.
    """
    draft, keep = outcome.draft, outcome.keep
    report.n_filtered_cells = outcome.n_filtered_cells
    cid, codes = draft.cid, clicks.codes
    in_dropped_cell = np.append(~keep, False)[cid]  # cid -1 reads the appended False
    status = np.where(in_dropped_cell, 3, np.where(cid >= 0, 0, np.where(draft.taken_out, 2, 1)))
    # Renumber kept cells 0..n-1; index -1 (no cell) reads the appended -1.
    cid = np.append(np.where(keep, np.cumsum(keep) - 1, -1), -1)[cid]
    n_cells = int(keep.sum())

    vocabulary = codes.vocabulary
    if draft.p_alive is not None and not vocabulary.is_alive_dead:
        raise InvalidParameterError(
            "this strategy labels cells alive / dead itself (the thesis' rule); these clicks "
            f"hold the classes {', '.join(vocabulary.classes)}: use a partitioning strategy"
        )
    if draft.p_alive is None:
        # The votes in the canonical order: sums over them have the same bits whatever the
        # order of the input rows.
        voted = clicks.order[cid[clicks.order] >= 0]
        args = (cid[voted], codes.annotator[voted], codes.label[voted], n_cells)
        if vocabulary.is_alive_dead:
            p_alive = aggregator.fit_arrays(*args)
            proba = np.column_stack([p_alive, 1.0 - p_alive])
        else:
            proba = aggregator.fit_classes(*args, vocabulary.n_classes)
    else:
        p_alive = draft.p_alive[keep]
        proba = np.column_stack([p_alive, 1.0 - p_alive])
        report.labels_from_strategy = True

    cells, cell_id = _cell_table(draft, keep, outcome.p_real, proba, aggregator, codes)
    assignments = clicks.table.copy()
    assignments.attrs = {}
    assignments.insert(0, "click", np.arange(len(clicks.table)))
    assignments["cell_id"] = np.append(cell_id, -1)[cid]
    assignments["status"] = pd.Categorical.from_codes(status, dtype=ASSIGNMENT_STATUS)

    report.n_cells = n_cells
    report.n_images_with_cells = int(cells["image_id"].nunique())
    counts = np.bincount(status, minlength=4)
    report.n_noise, report.n_duplicate, report.n_filtered = (int(c) for c in counts[1:])
    return cells, assignments


def _cell_table(
    draft: DraftCells,
    keep: np.ndarray,
    p_real: np.ndarray | None,
    proba: np.ndarray,
    aggregator: BaseAggregator,
    codes: ClickCodes,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The Cells table of the kept candidates, numbered per image by position, and the
    ``cell_id`` of each kept candidate (in candidate order). ``proba`` holds P(class) per
    cell: ``p_alive`` for alive / dead, else a ``p_<class>`` column per class."""
    n_cells = int(keep.sum())
    cimg = draft.cell_image[keep]
    stats = {k: v[keep] for k, v in draft.stats.items()}
    pos = np.lexsort((stats["x"], stats["y"], cimg))
    first_of_image = np.searchsorted(cimg[pos], cimg[pos], side="left")
    cell_id = np.empty(n_cells, np.int64)
    cell_id[pos] = np.arange(n_cells) - first_of_image
    vocabulary = codes.vocabulary
    probabilities, label = cell_label_columns(proba, vocabulary, aggregator.unsure_margin)
    cells = pd.DataFrame(
        {
            "image_id": np.asarray(codes.images, dtype=object)[cimg],
            "cell_id": cell_id,
            "x": stats["x"],
            "y": stats["y"],
            "n_annotators": stats["n_annotators"].astype(np.int64),
            "support": stats["support"].astype("float64"),
            **probabilities,
            "label": label,
            "spread": stats["spread"].astype("float64"),
        }
    )
    for column, values in draft.extra.items():
        cells[column] = np.asarray(values)[keep]
    if p_real is not None:
        cells["p_real"] = p_real[keep]
    cells = cells.iloc[pos].reset_index(drop=True)
    if not vocabulary.is_alive_dead:
        cells.attrs["classes"] = vocabulary
    return cells, cell_id
