"""Which candidate cells are cells: the support threshold or the annotator model."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .cell_model import CandidateCells, candidate_cells, fit_cell_model
from .clustering import ClickArrays, DraftCells, cluster_stats

__all__ = [
    "SupportOutcome",
    "keep_cells",
    "threshold_keep",
    "model_candidates",
    "apply_model",
    "SUPPORT_RULES",
]

#: The rules :func:`keep_cells` knows.
SUPPORT_RULES = ("threshold", "model")


@dataclass
class SupportOutcome:
    """The draft (with lone clicks added as candidates under the model), which candidates are
    kept, their posterior of being real (``None`` under the threshold) and how many
    clusters were dropped."""

    draft: DraftCells
    keep: np.ndarray
    p_real: np.ndarray | None
    n_filtered_cells: int


def keep_cells(
    draft: DraftCells,
    clicks: ClickArrays,
    rule: str,
    min_support: float,
    min_annotators: int,
) -> SupportOutcome:
    """Apply the support rule to a strategy's draft (a ``final`` draft keeps every cell).

    ``"threshold"`` keeps clusters with at least ``min_support`` of the image's
    annotators and ``min_annotators`` (capped at the image's annotators).
    ``"model"`` adds every lone click as a candidate and keeps a candidate when its
    posterior of being real is at least 0.5 under the annotator model
    (:mod:`cellconsensus.cell_model`); on an image with one run, whose clicks say
    nothing of who strays, that run's clicks are kept as with the threshold. The
    model's three steps (:func:`model_candidates`, the fit, :func:`apply_model`) are
    public so that a cluster can fit the model across partitions.

    Examples
    --------
    >>> import pandas as pd
    >>> from cellconsensus.clustering import cluster_cells
    >>> from cellconsensus.strategies import DBSCANStrategy
    >>> from cellconsensus.tables import encode_clicks
    >>> table, codes = encode_clicks(pd.DataFrame({"image_id": ["a"] * 3,
    ...     "annotator_id": ["u1", "u2", "u3"], "x": [10.0, 12, 80], "y": [10.0, 10, 80],
    ...     "label": ["alive"] * 3}))
    >>> clicks = ClickArrays.from_codes(table, codes, np.array([3]), np.array([0]))
    >>> draft = cluster_cells(DBSCANStrategy(eps=5), clicks)
    >>> keep_cells(draft, clicks, "threshold", 0.3, 2).keep.tolist()
    [True]
    """
    if draft.final:
        return SupportOutcome(draft, np.ones(len(draft), bool), None, 0)
    keep = threshold_keep(draft, clicks, min_support, min_annotators)
    if rule == "threshold":
        return SupportOutcome(draft, keep, None, int((~keep).sum()))
    candidate, candidates, start = model_candidates(draft, clicks, keep)
    return apply_model(draft, clicks, keep, candidate, fit_cell_model(candidates, start).p_real)


def threshold_keep(
    draft: DraftCells, clicks: ClickArrays, min_support: float, min_annotators: int
) -> np.ndarray:
    """Clusters with at least ``min_support`` of their image's annotators and
    ``min_annotators`` (capped at the image's annotators)."""
    needed = np.minimum(min_annotators, clicks.n_runs[draft.cell_image])
    return (draft.stats["support"] >= min_support) & (draft.stats["n_annotators"] >= needed)


def model_candidates(
    draft: DraftCells,
    clicks: ClickArrays,
    keep: np.ndarray,
    annotators: pd.Index | None = None,
) -> tuple[np.ndarray, CandidateCells, np.ndarray]:
    """The annotator model's candidates (clusters, then lone clicks) and its start (the
    threshold's ``keep`` for clusters, 0 for lone clicks).

    ``annotators`` (every annotator id of a crowd held in parts, sorted) codes the
    annotators globally; default: this table's codes.
    """
    codes = clicks.codes
    ann, n_annotators = codes.annotator, None
    if annotators is not None:
        ann = annotators.get_indexer(codes.annotators)[codes.annotator]
        n_annotators = len(annotators)
    lone = (draft.cid < 0) & ~draft.taken_out
    candidate, candidates = candidate_cells(
        codes.image,
        ann,
        draft.cid,
        lone,
        clicks.empty,
        n_clusters=len(keep),
        n_annotators=n_annotators,
        order=clicks.order,
    )
    start = np.r_[keep.astype("float64"), np.zeros(int(lone.sum()))]
    return candidate, candidates, start


def apply_model(
    draft: DraftCells,
    clicks: ClickArrays,
    keep: np.ndarray,
    candidate: np.ndarray,
    p_real: np.ndarray,
) -> SupportOutcome:
    """Keep the candidates whose posterior of being real is at least 0.5 (on images with
    one run: the threshold's ``keep``, lone clicks kept); lone clicks kept become cells."""
    n_runs, n_clusters = clicks.n_runs, len(keep)
    lone = (draft.cid < 0) & ~draft.taken_out
    o = clicks.order  # summed in the canonical order (bit-identical under row shuffles)
    stats, cell_image = cluster_stats(clicks.X[o], clicks.codes.image[o], candidate[o], n_runs)
    alone = n_runs[cell_image] < 2
    p_real = np.where(alone, np.nan, p_real)
    keep = np.where(alone, np.r_[keep, alone[n_clusters:]], p_real >= 0.5)
    # Lone clicks the model keeps are cells; the others stay noise.
    cid = np.where(lone & ~np.append(keep, False)[candidate], -1, candidate)
    draft = replace(draft, cid=cid, stats=stats, cell_image=cell_image)
    return SupportOutcome(draft, keep, p_real, int((~keep[:n_clusters]).sum()))
