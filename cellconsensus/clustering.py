"""From clicks to candidate cells: the arrays a strategy works on, and what it hands back.

:meth:`~cellconsensus.strategies.BaseStrategy.make_cells` is the one hook by which
a strategy makes cells. Its default, :func:`cluster_cells`, clusters each image's
clicks with the strategy (in chunks of whole images, in parallel with
``n_jobs``), applies the one-vote-per-annotator rule
(:mod:`cellconsensus._one_vote`) and computes each cluster's centre, spread
and support; images with a single annotator pass through (each click is a cell:
the consensus of one person is that person). A strategy with a rule of its own
(the thesis') overrides the hook and returns a :class:`DraftCells` it built
itself. The engine (:func:`~cellconsensus.find_consensus`) then keeps cells by
the support rule (unless the draft is ``final``) and labels them (unless the
draft carries ``p_alive``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from . import defaults
from ._one_vote import canonical_order, dense_labels, double_clicks, enforce_one_vote
from .tables import ClickCodes, count_runs, encode_clicks

if TYPE_CHECKING:
    from .strategies import BaseStrategy

__all__ = ["ClickArrays", "DraftCells", "cluster_cells", "cluster_stats", "canonical_positions"]


def canonical_positions(clicks: pd.DataFrame, codes: ClickCodes) -> tuple[np.ndarray, np.ndarray]:
    """Click positions and the canonical order (image, x, y, annotator, label) of encoded clicks.

    Everything computed in that order is independent of the input's row order, and a
    subset of whole images gives exactly its images' part of the full result.
    """
    X = clicks[["x", "y"]].to_numpy(dtype="float64")
    n_answers = codes.vocabulary.n_classes + 1
    return X, canonical_order(codes.image, X, codes.annotator * n_answers + codes.label)


@dataclass(frozen=True)
class ClickArrays:
    """A validated Clicks table in the engine's terms (all per click in input order,
    except where said).

    Attributes
    ----------
    table : DataFrame
        The validated Clicks table, input order.
    codes : ClickCodes
        Image, annotator and label codes (:func:`~cellconsensus.tables.encode_clicks`).
    X : ndarray of shape (n_clicks, 2)
        Positions.
    order : ndarray
        The canonical order (image, x, y, annotator, label): ``X[order]`` etc.
    clicked, empty : ndarray, per image code
        Annotators who clicked the image, and listed runs on it without a click.
    double : ndarray of bool
        Double clicks (:func:`~cellconsensus._one_vote.double_clicks`): in no cell, in
        no scale estimate.
    n_orphan_images : int
        Images with runs but no click (counted, not coded).
    """

    table: pd.DataFrame
    codes: ClickCodes
    X: np.ndarray
    order: np.ndarray
    clicked: np.ndarray
    empty: np.ndarray
    double: np.ndarray
    n_orphan_images: int = 0

    @classmethod
    def from_codes(
        cls, table: pd.DataFrame, codes: ClickCodes, clicked: np.ndarray, empty: np.ndarray
    ) -> ClickArrays:
        X, order = canonical_positions(table, codes)
        double = double_clicks(X, codes.image, codes.annotator, defaults.DOUBLE_CLICK, codes.label)
        return cls(table, codes, X, order, clicked, empty, double)

    @classmethod
    def encode(
        cls,
        clicks: pd.DataFrame,
        runs: pd.DataFrame | None = None,
        *,
        source: str,
        classes=None,
    ) -> ClickArrays:
        """Validate and encode a Clicks table and its runs (the engine's first stage, the
        same in one process and in each partition of a cluster); ``classes``: the label
        set (default: the table's own, see :func:`~cellconsensus.tables.encode_clicks`)."""
        table, codes = encode_clicks(clicks, source=source, classes=classes)
        clicked, empty, orphans = count_runs(codes, runs)
        arrays = cls.from_codes(table, codes, clicked, empty)
        return dataclasses.replace(arrays, n_orphan_images=len(orphans))

    def sorted_by_image(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, image and annotator codes in the canonical order, double clicks left
        out (what the scale is estimated from)."""
        rows = self.order[~self.double[self.order]]
        return self.X[rows], self.codes.image[rows], self.codes.annotator[rows]

    @property
    def n_runs(self) -> np.ndarray:
        """Annotators per image: who clicked, plus runs without a click."""
        return self.clicked + self.empty


@dataclass
class DraftCells:
    """Candidate cells a strategy made, before the support rule and the labels.

    Attributes
    ----------
    cid : ndarray of int, per click (input order)
        The candidate cell of each click, or -1.
    taken_out : ndarray of bool, per click
        Clicks the one-vote rule took out (status ``duplicate`` when in no cell).
    stats : dict of ndarray, per candidate
        ``x``, ``y``, ``n_annotators``, ``support``, ``spread``.
    cell_image : ndarray of int, per candidate
        Image code.
    final : bool, default False
        The strategy's own rule decided which cells exist: no support rule.
    p_alive : ndarray, optional
        Labels the strategy decided itself: no label model.
    extra : dict of ndarray, optional
        The strategy's own per-cell columns (e.g. ``thesis_score``).
    """

    cid: np.ndarray
    taken_out: np.ndarray
    stats: dict[str, np.ndarray]
    cell_image: np.ndarray
    final: bool = False
    p_alive: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.cell_image)


def _chunks(image_index: np.ndarray, n_chunks: int) -> list[tuple[int, int]]:
    """Split sorted clicks into about ``n_chunks`` runs of whole images."""
    n = len(image_index)
    if n == 0:
        return []
    starts = np.flatnonzero(np.r_[True, image_index[1:] != image_index[:-1]])
    targets = np.linspace(0, n, n_chunks + 1)[1:-1]
    cuts = np.unique(starts[np.clip(np.searchsorted(starts, targets), 0, len(starts) - 1)])
    bounds = np.unique(np.r_[0, cuts, n])
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))


def _cluster_chunk(
    strategy: BaseStrategy, X, image_index, annotators
) -> tuple[np.ndarray, np.ndarray]:
    labels = dense_labels(image_index, strategy.fit_predict_batch(X, image_index, annotators))
    return enforce_one_vote(strategy, X, image_index, annotators, labels)


def _cluster_sorted(
    strategy, X, img, ann, single, double, n_jobs, progress
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster ids (dense, global) and taken-out flags for sorted clicks (double clicks
    taken out first: in no cell, status ``duplicate``)."""
    labels = np.full(len(X), -1, np.int64)
    taken_out = double.copy()
    lone = single & ~taken_out
    labels[lone] = np.arange(int(lone.sum()))
    multi = np.flatnonzero(~single & ~taken_out)
    workers = n_jobs if n_jobs > 0 else max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    n_chunks = max(4 * workers, 20) if (workers > 1 or progress) else 1
    chunks = _chunks(img[multi], n_chunks)
    args = [(strategy, X[multi[a:b]], img[multi[a:b]], ann[multi[a:b]]) for a, b in chunks]
    if workers > 1:
        results = Parallel(n_jobs=workers, return_as="generator")(
            delayed(_cluster_chunk)(*a) for a in args
        )
    else:
        results = (_cluster_chunk(*a) for a in args)
    offset = int(lone.sum())
    bar = tqdm(
        total=len(chunks), desc=f"consensus ({strategy.name})", unit="chunk", disable=not progress
    )
    for (a, b), (lab, out) in zip(chunks, results, strict=True):
        idx = multi[a:b]
        labels[idx] = np.where(lab >= 0, lab + offset, -1)
        taken_out[idx] |= out
        offset += int(lab.max()) + 1 if len(lab) and lab.max() >= 0 else 0
        bar.update()
    bar.close()
    return dense_labels(np.zeros(len(labels), np.int64), labels), taken_out


def cluster_cells(
    strategy: BaseStrategy, clicks: ClickArrays, *, n_jobs: int = 1, progress: bool = False
) -> DraftCells:
    """The default cell-making: cluster, one vote per annotator, statistics.

    Examples
    --------
    >>> from cellconsensus.strategies import DBSCANStrategy
    >>> from cellconsensus.tables import encode_clicks
    >>> table, codes = encode_clicks(pd.DataFrame({"image_id": ["a"] * 3,
    ...     "annotator_id": ["u1", "u2", "u2"], "x": [10.0, 12, 80], "y": [10.0, 10, 80],
    ...     "label": ["alive"] * 3}))
    >>> draft = cluster_cells(DBSCANStrategy(eps=5), ClickArrays.from_codes(
    ...     table, codes, clicked=np.array([2]), empty=np.array([0])))
    >>> draft.cid.tolist(), draft.stats["x"].tolist()
    ([0, 0, -1], [11.0])
    """
    codes, order = clicks.codes, clicks.order
    img, ann = codes.image, codes.annotator
    single = (clicks.clicked == 1)[img[order]]
    cid_sorted, taken_sorted = _cluster_sorted(
        strategy,
        clicks.X[order],
        img[order],
        ann[order],
        single,
        clicks.double[order],
        n_jobs,
        progress,
    )
    cid = np.empty(len(order), np.int64)
    cid[order] = cid_sorted
    taken_out = np.empty(len(order), bool)
    taken_out[order] = taken_sorted
    # Summed in the canonical order: the same bits whatever the order of the input rows.
    stats, cell_image = cluster_stats(clicks.X[order], img[order], cid[order], clicks.n_runs)
    return DraftCells(cid, taken_out, stats, cell_image)


def cluster_stats(X, img, cid, n_runs) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Centre, spread, annotators and support of every cluster, and its image code."""
    valid = cid >= 0
    k = int(cid.max()) + 1 if valid.any() else 0
    c = cid[valid]
    count = np.bincount(c, minlength=k).astype("float64")
    x = np.bincount(c, weights=X[valid, 0], minlength=k) / np.maximum(count, 1)
    y = np.bincount(c, weights=X[valid, 1], minlength=k) / np.maximum(count, 1)
    d2 = (X[valid, 0] - x[c]) ** 2 + (X[valid, 1] - y[c]) ** 2
    spread = np.sqrt(np.bincount(c, weights=d2, minlength=k) / np.maximum(count, 1))
    cell_img = np.zeros(k, np.int64)
    cell_img[c] = img[valid]
    support = count / n_runs[cell_img] if k else count
    return {"x": x, "y": y, "n_annotators": count, "support": support, "spread": spread}, cell_img
