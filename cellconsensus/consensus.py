"""The public entry point: ``find_consensus`` and its result.

One engine serves every strategy:

1. validate the clicks and sort them canonically (image, x, y, annotator,
   label), so that results never depend on the order of the input rows;
2. resolve ``"auto"`` scale parameters once, over all clicks;
3. images with a single annotator pass through (each click is a cell: the
   consensus of one person is that person); the others are clustered by
   the strategy, in chunks of whole images (in parallel with ``n_jobs``);
4. apply the one-vote-per-annotator rule (:mod:`cellconsensus._one_vote`);
5. compute centres, spread and support, drop cells below ``min_support`` /
   ``min_annotators``;
6. aggregate labels across all images at once (so Dawid-Skene learns each
   annotator's skill from every image);
7. number cells per image by position (top to bottom, then left to right).
"""

from __future__ import annotations

import functools
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from . import defaults
from ._one_vote import canonical_order, dense_labels, enforce_one_vote
from .annotators import annotator_table
from .cell_model import support_posterior
from .labels import BaseAggregator, get_aggregator, label_from_proba
from .params import Interval, StrOptions, validate_params
from .strategies import BaseStrategy, estimate_scale, get_strategy, scale_image_sample
from .strategies.consistency import CHOICE_SAMPLE_CLICKS, choose_scale
from .tables import count_runs, encode_clicks

__all__ = ["find_consensus", "Consensus", "ConsensusReport", "ASSIGNMENT_STATUS"]

logger = logging.getLogger(__name__)

#: Status of a click in the assignment table.
ASSIGNMENT_STATUS = pd.CategoricalDtype(["cell", "noise", "duplicate", "filtered"])

_CONSTRAINTS = {
    "min_support": [Interval(Real, 0, 1, closed="both")],
    "min_annotators": [Interval(Integral, 1, None, closed="left")],
    "support_rule": [StrOptions({"threshold", "model"})],
    "n_jobs": [Interval(Integral, None, None, closed="neither")],
}


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
        Cells dropped by ``min_support`` / ``min_annotators``.
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
    seconds: float = 0.0
    input: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return the report as a plain dictionary."""
        return asdict(self)

    def __str__(self) -> str:
        lines = [f"strategy: {self.strategy}", f"labels:   {self.labels}"]
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


def canonical_positions(clicks: pd.DataFrame, codes) -> tuple[np.ndarray, np.ndarray]:
    """Click positions and the canonical order (image, x, y, annotator, label) of encoded clicks.

    Everything computed in that order is independent of the input's row order, and a
    subset of whole images gives exactly its images' part of the full result.
    """
    X = clicks[["x", "y"]].to_numpy(dtype="float64")
    return X, canonical_order(codes.image, X, codes.annotator * 3 + codes.label)


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


def _cluster(strategy, X, img, ann, single, n_jobs, progress) -> tuple[np.ndarray, np.ndarray]:
    """Cluster ids (dense, global) and taken-out flags for sorted clicks."""
    labels = np.full(len(X), -1, np.int64)
    taken_out = np.zeros(len(X), bool)
    labels[single] = np.arange(int(single.sum()))
    multi = np.flatnonzero(~single)
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
    offset = int(single.sum())
    bar = tqdm(
        total=len(chunks), desc=f"consensus ({strategy.name})", unit="chunk", disable=not progress
    )
    for (a, b), (lab, out) in zip(chunks, results, strict=True):
        idx = multi[a:b]
        labels[idx] = np.where(lab >= 0, lab + offset, -1)
        taken_out[idx] = out
        offset += int(lab.max()) + 1 if len(lab) and lab.max() >= 0 else 0
        bar.update()
    bar.close()
    return dense_labels(np.zeros(len(labels), np.int64), labels), taken_out


def find_consensus(
    clicks: pd.DataFrame,
    strategy: str | BaseStrategy = defaults.STRATEGY,
    labels: str | BaseAggregator = defaults.LABELS,
    *,
    params: dict[str, Any] | None = None,
    min_support: float = defaults.MIN_SUPPORT,
    min_annotators: int = defaults.MIN_ANNOTATORS,
    support_rule: str = defaults.SUPPORT_RULE,
    n_jobs: int = 1,
    progress: bool = False,
) -> Consensus:
    """Find consensus cells in crowd clicks.

    Parameters
    ----------
    clicks : DataFrame
        A Clicks table (any reader's output, or your own with the columns
        ``image_id, annotator_id, x, y, label``).
    strategy : str or BaseStrategy, default "dbscan"
        A name from :func:`~cellconsensus.strategies.available_strategies` or
        an instance (see :mod:`cellconsensus.defaults`). With a scale set to
        ``"auto"``, ``result.strategy`` shows the resolved value, e.g.
        ``DBSCANStrategy(eps=11.3)``.
    labels : str or BaseAggregator, default "dawid-skene"
        Label aggregation: ``mean``, ``majority``, ``dawid-skene`` or an
        instance (its ``unsure_margin`` sets the ``unsure`` band). The
        default is the measured best (:mod:`cellconsensus.defaults`).
    params : dict, optional
        Strategy parameters, e.g. ``{"eps": "auto"}``.
    min_support : float in [0, 1], default 0.3
        Drop cells clicked by fewer than this fraction of the image's
        annotators. With up to 6 annotators the default changes nothing
        beyond ``min_annotators=2``; with more it keeps random coincidences
        (spammers, stray clicks) from becoming cells as crowds grow: on the
        benchmark's 10-annotator crowds with spammers, F1 0.86 -> 0.96 (LDC)
        and 0.83 -> 0.95 (synthetic), see docs/benchmarks.md.
    min_annotators : int, default 2
        Drop cells clicked by fewer annotators, capped at the number of
        annotators of the image: on an image that only one person annotated,
        that person's clicks are the consensus.
    support_rule : {"threshold", "model"}, default "model"
        Which clusters are cells. ``"threshold"``: ``min_support`` and
        ``min_annotators``. ``"model"``: every cluster and every lone click is
        a candidate, kept when its posterior of being real is at least 0.5
        under a model of each annotator's detection and stray-click rates
        learnt across images (:mod:`cellconsensus.cell_model`, started from
        the threshold rule); the posterior is the ``p_real`` column (NaN on
        an image with one run, whose clicks are kept as with the threshold:
        one run says nothing of who strays). It trusts
        a cell one careful annotator found where a spammer and a hasty one
        did not: on the consensus-accuracy grid (48 crowd conditions, 2
        seeds) mean cell F1 0.918 -> 0.934, worst margin to panoptes' tuned
        DBSCAN -0.048 -> -0.024 (docs/benchmarks.md); the default. Not on a
        cluster yet (:mod:`cellconsensus.distributed` keeps the threshold).
    n_jobs : int, default 1
        Processes for the clustering (-1: all cores). Results are identical
        for any value.
    progress : bool, default False
        Show a progress bar (for command-line use).

    Returns
    -------
    Consensus
        ``.cells``, ``.assignments``, ``.report``.

    Examples
    --------
    >>> from cellconsensus.synthetic import make_truth
    >>> from cellconsensus.simulate import simulate_crowd
    >>> truth = make_truth(n_images=3, seed=1)
    >>> result = find_consensus(simulate_crowd(truth, n_annotators=5, seed=1), "dbscan")
    >>> list(result.cells.columns)
    ['image_id', 'cell_id', 'x', 'y', 'n_annotators', 'support', 'p_alive', 'label', 'spread', 'p_real']
    >>> bool(result.cells["p_alive"].between(0, 1).all())
    True
    """
    start = time.perf_counter()
    validate_params(
        _CONSTRAINTS,
        {
            "min_support": min_support,
            "min_annotators": min_annotators,
            "support_rule": support_rule,
            "n_jobs": n_jobs,
        },
        "find_consensus",
    )
    if n_jobs == 0:
        raise ValueError("n_jobs must not be 0; use 1 for one process or -1 for all cores")
    input_report = clicks.attrs.get("report") if isinstance(clicks, pd.DataFrame) else None
    runs = clicks.attrs.get("runs") if isinstance(clicks, pd.DataFrame) else None
    clicks, codes = encode_clicks(clicks, source="<find_consensus clicks>")
    strategy = get_strategy(strategy, **(params or {}))
    aggregator = get_aggregator(labels)

    img, ann, lab, images = codes.image, codes.annotator, codes.label, codes.images
    X, order = canonical_positions(clicks, codes)
    Xs, imgs, anns = X[order], img[order], ann[order]

    # Annotators per image: those who clicked, plus runs without any click.
    clicked_annotators, empty, orphans = count_runs(codes, runs)
    n_runs = clicked_annotators + empty

    scale = None
    # Without an image two annotators clicked there is nothing to cluster (every image
    # passes through), and no scale to estimate.
    if strategy.needs_scale and (clicked_annotators >= 2).any():
        sampled = scale_image_sample(images, len(clicks))[imgs]
        try:
            scale = estimate_scale(Xs[sampled], imgs[sampled], anns[sampled])
        except ValueError:  # the sampled images had no two annotators: look at all
            scale = estimate_scale(Xs, imgs, anns)
        chosen = scale_image_sample(images, len(clicks), CHOICE_SAMPLE_CLICKS)[imgs]
        strategy = choose_scale(strategy, scale, Xs[chosen], imgs[chosen], anns[chosen])
        logger.info("estimated click noise %.2f px -> %r", scale, strategy)

    report = ConsensusReport(
        strategy=repr(strategy),
        labels=repr(aggregator),
        scale=scale,
        n_images=len(images) + len(orphans),
        n_single_annotator_images=int(np.sum(clicked_annotators == 1)),
        n_clicks=len(clicks),
        input=input_report.to_dict() if input_report is not None else {},
    )

    if strategy.defines_cells:
        raw, assigned = strategy.fit_cells(
            clicks, dict(zip(images[empty > 0], empty[empty > 0], strict=True))
        )
        raw_img = pd.Index(images).get_indexer(raw["image_id"])
        cid = assigned.copy()  # per click in input order
        taken_out = np.zeros(len(clicks), bool)
        stats = {k: raw[k].to_numpy() for k in ("x", "y", "n_annotators", "support", "spread")}
        extra = raw.drop(columns=["image_id", *stats, "p_alive"])
        p_alive_all = raw["p_alive"].to_numpy(dtype="float64")
        cell_img = raw_img.astype(np.int64)
    else:
        single = (clicked_annotators == 1)[imgs]
        cid_sorted, taken_sorted = _cluster(strategy, Xs, imgs, anns, single, n_jobs, progress)
        cid = np.empty(len(clicks), np.int64)
        cid[order] = cid_sorted
        taken_out = np.empty(len(clicks), bool)
        taken_out[order] = taken_sorted
        stats, cell_img = _cluster_stats(X, img, cid, n_runs)
        extra = None
        p_alive_all = None

    p_real = None
    if strategy.defines_cells:  # such a strategy's cells are final (the thesis keeps all)
        keep = np.ones(len(cell_img), bool)
    else:
        needed = np.minimum(min_annotators, n_runs[cell_img])
        keep = (stats["support"] >= min_support) & (stats["n_annotators"] >= needed)
    report.n_filtered_cells = int((~keep).sum())
    if support_rule == "model" and not strategy.defines_cells:
        lone, n_clusters = (cid < 0) & ~taken_out, len(keep)
        candidate, model = support_posterior(img, ann, cid, lone, keep, empty)
        stats, cell_img = _cluster_stats(X, img, candidate, n_runs)
        # One run on an image says nothing of who strays (both likelihoods are 1): there,
        # as with the threshold, that annotator's clicks are the consensus.
        alone = n_runs[cell_img] < 2
        p_real = np.where(alone, np.nan, model.p_real)
        keep = np.where(alone, np.r_[keep, alone[n_clusters:]], p_real >= 0.5)
        report.n_filtered_cells = int((~keep[:n_clusters]).sum())
        # Lone clicks the model keeps are cells; the others stay noise.
        cid = np.where(lone & ~np.append(keep, False)[candidate], -1, candidate)
    in_dropped_cell = np.append(~keep, False)[cid]  # cid -1 reads the appended False
    status = np.where(in_dropped_cell, 3, np.where(cid >= 0, 0, np.where(taken_out, 2, 1)))
    # Renumber kept cells 0..n-1; index -1 (no cell) reads the appended -1.
    remap = np.append(np.where(keep, np.cumsum(keep) - 1, -1), -1)
    cid = remap[cid]
    n_cells = int(keep.sum())

    if p_alive_all is None:
        voted = cid >= 0
        p_alive = aggregator.fit_arrays(cid[voted], ann[voted], lab[voted], n_cells)
    else:
        p_alive = p_alive_all[keep]

    # Number cells per image by position.
    cimg = cell_img[keep]
    cx, cy = stats["x"][keep], stats["y"][keep]
    pos = np.lexsort((cx, cy, cimg))
    rank = np.empty(n_cells, np.int64)
    rank[pos] = np.arange(n_cells)
    first_of_image = np.searchsorted(cimg[pos], cimg[pos], side="left")
    cell_id_sorted = np.arange(n_cells) - first_of_image
    cell_id = np.empty(n_cells, np.int64)
    cell_id[pos] = cell_id_sorted

    cells = pd.DataFrame(
        {
            "image_id": np.asarray(images, dtype=object)[cimg],
            "cell_id": cell_id,
            "x": cx,
            "y": cy,
            "n_annotators": stats["n_annotators"][keep].astype(np.int64),
            "support": stats["support"][keep].astype("float64"),
            "p_alive": np.clip(p_alive, 0.0, 1.0),
            "label": label_from_proba(p_alive, aggregator.unsure_margin),
            "spread": stats["spread"][keep].astype("float64"),
        }
    )
    if extra is not None:
        for column in extra.columns:
            cells[column] = extra[column].to_numpy()[keep]
    if p_real is not None:
        cells["p_real"] = p_real[keep]
    cells = cells.iloc[pos].reset_index(drop=True)

    assignments = clicks.copy()
    assignments.attrs = {}
    assignments.insert(0, "click", np.arange(len(clicks)))
    assignments["cell_id"] = np.append(cell_id, -1)[cid]
    assignments["status"] = pd.Categorical.from_codes(status, dtype=ASSIGNMENT_STATUS)

    report.n_cells = n_cells
    report.n_images_with_cells = int(cells["image_id"].nunique())
    counts = np.bincount(status, minlength=4)
    report.n_noise, report.n_duplicate, report.n_filtered = (int(c) for c in counts[1:])
    report.seconds = time.perf_counter() - start
    logger.info("consensus: %d clicks -> %d cells in %.3f s", len(clicks), n_cells, report.seconds)
    # How the cells were made travels with them (e.g. into a patch store's attributes).
    cells.attrs["provenance"] = {
        "strategy": report.strategy,
        "labels": report.labels,
        "scale": report.scale,
        "min_support": min_support,
        "min_annotators": min_annotators,
        "support_rule": support_rule,
        "n_clicks": report.n_clicks,
        "input_sources": list(getattr(clicks.attrs.get("report"), "sources", []) or []),
    }
    return Consensus(cells, assignments, report, strategy, aggregator)


def _cluster_stats(X, img, cid, n_runs) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Centre, spread, annotators and support of every cluster."""
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
