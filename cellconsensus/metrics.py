"""Score consensus cells against ground truth: detection and labels."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

__all__ = ["score", "Score", "detection_intervals", "classification_intervals"]


@dataclass
class Score:
    """Detection and label quality of consensus cells against the truth.

    Attributes
    ----------
    tp, fp, fn : int
        Matched cells, cells with no true cell, true cells with no cell.
    precision, recall, f1 : float
        Detection quality (``nan`` where undefined).
    label_accuracy : float
        Among matched cells whose true label is ``alive`` or ``dead`` (or a class of
        ``truth.attrs["classes"]``, for another label set), the
        fraction given that label (``unsure`` counts as wrong).
    balanced_label_accuracy : float
        Mean over the true classes (alive and dead) of that fraction.
    localisation_error : float
        Mean distance in pixels between matched cells and their true centre.
    relative_localisation_error : float
        The same, in units of the true cell's size.
    matches : DataFrame
        One row per match: ``image_id``, ``cell`` and ``truth`` (row positions
        in the inputs), ``distance``.
    per_image : DataFrame
        ``tp, fp, fn`` of every scored image (index ``image_id``), for
        :func:`detection_intervals`.
    """

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    label_accuracy: float
    balanced_label_accuracy: float
    localisation_error: float
    relative_localisation_error: float
    matches: pd.DataFrame = field(repr=False)
    per_image: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict:
        """The scalar figures as a dictionary."""
        out = asdict(self)
        out.pop("matches")
        out.pop("per_image")
        return out


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else float("nan")


def score(
    cells: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    tolerance: float = 0.5,
    default_size: float = 30.0,
    image_ids: list[str] | None = None,
) -> Score:
    """Match cells to true cells per image (Hungarian, optimal) and score them.

    A cell may match a true cell within ``tolerance`` times that cell's size;
    among all matchings the one with most matches, then smallest total
    distance, is used.

    Parameters
    ----------
    cells : DataFrame
        Columns ``image_id, x, y, label`` (a Cells table).
    truth : DataFrame
        Columns ``image_id, x, y, label`` and optionally ``size``.
    tolerance : float, default 0.5
        Largest match distance, as a fraction of the true cell's size.
    default_size : float, default 30.0
        Size (px) assumed when ``truth`` has no ``size`` column.
    image_ids : list of str, optional
        Images to score (default: those of ``truth.attrs["image_ids"]`` if
        present, else every image in either table). Cells on other images are
        ignored.

    Returns
    -------
    Score

    Examples
    --------
    >>> import pandas as pd
    >>> truth = pd.DataFrame({"image_id": ["a", "a"], "x": [10.0, 50], "y": [10.0, 50],
    ...                       "size": [20.0, 20], "label": ["alive", "dead"]})
    >>> cells = pd.DataFrame({"image_id": ["a", "a"], "x": [12.0, 90], "y": [10.0, 90],
    ...                       "label": ["alive", "dead"]})
    >>> s = score(cells, truth)
    >>> s.tp, s.fp, s.fn, s.label_accuracy
    (1, 1, 1, 1.0)
    """
    if image_ids is None:
        image_ids = truth.attrs.get("image_ids")
    if image_ids is None:
        image_ids = sorted(set(truth["image_id"]) | set(cells["image_id"]))
    index = pd.Index(image_ids)
    c_img = index.get_indexer(cells["image_id"])
    t_img = index.get_indexer(truth["image_id"])
    c_rows = np.flatnonzero(c_img >= 0)
    c_rows = c_rows[np.argsort(c_img[c_rows], kind="stable")]
    t_rows = np.argsort(t_img, kind="stable")
    t_rows = t_rows[t_img[t_rows] >= 0]
    c_xy = cells[["x", "y"]].to_numpy(dtype="float64")
    t_xy = truth[["x", "y"]].to_numpy(dtype="float64")
    t_size = (
        truth["size"].to_numpy(dtype="float64")
        if "size" in truth
        else np.full(len(truth), default_size)
    )
    n_img = len(index)
    c_bounds = np.searchsorted(c_img[c_rows], np.arange(n_img + 1))
    t_bounds = np.searchsorted(t_img[t_rows], np.arange(n_img + 1))

    matched_c, matched_t, distance = [], [], []
    for i in range(n_img):
        ci = c_rows[c_bounds[i] : c_bounds[i + 1]]
        ti = t_rows[t_bounds[i] : t_bounds[i + 1]]
        if len(ci) == 0 or len(ti) == 0:
            continue
        d = np.hypot(*(c_xy[ci][:, None, :] - t_xy[ti][None, :, :]).transpose(2, 0, 1))
        ok = d <= tolerance * t_size[ti][None, :]
        if not ok.any():
            continue
        big = 1e6 * (1.0 + d[ok].max())
        r, c = linear_sum_assignment(np.where(ok, d, big))
        good = ok[r, c]
        matched_c.append(ci[r[good]])
        matched_t.append(ti[c[good]])
        distance.append(d[r[good], c[good]])
    mc = np.concatenate(matched_c) if matched_c else np.zeros(0, np.int64)
    mt = np.concatenate(matched_t) if matched_t else np.zeros(0, np.int64)
    dist = np.concatenate(distance) if distance else np.zeros(0)

    tp = len(mc)
    fp = len(c_rows) - tp
    fn = len(t_rows) - tp
    tp_image = np.bincount(t_img[mt], minlength=n_img)
    per_image = pd.DataFrame(
        {"tp": tp_image, "fp": np.diff(c_bounds) - tp_image, "fn": np.diff(t_bounds) - tp_image},
        index=pd.Index(np.asarray(index, dtype=object), name="image_id"),
    )
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    pred = cells["label"].astype(object).to_numpy()[mc]
    true = truth["label"].astype(object).to_numpy()[mt]
    vocabulary = truth.attrs.get("classes")
    classes = list(vocabulary.classes) if vocabulary is not None else ["alive", "dead"]
    decided = np.isin(true, classes)
    correct = (pred == true) & decided
    per_class = [_ratio(correct[true == k].sum(), (true == k).sum()) for k in classes]
    per_class = [v for v in per_class if v == v]
    matches = pd.DataFrame(
        {
            "image_id": np.asarray(index, dtype=object)[t_img[mt]] if tp else [],
            "cell": mc,
            "truth": mt,
            "distance": dist,
        }
    )
    return Score(
        tp=tp,
        fp=fp,
        fn=fn,
        precision=precision,
        recall=recall,
        f1=f1,
        label_accuracy=_ratio(correct.sum(), decided.sum()),
        balanced_label_accuracy=float(np.mean(per_class)) if per_class else float("nan"),
        localisation_error=float(dist.mean()) if tp else float("nan"),
        relative_localisation_error=float((dist / t_size[mt]).mean()) if tp else float("nan"),
        matches=matches,
        per_image=per_image,
    )


def _check_bootstrap(level: float, n_resamples: int) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    if not (isinstance(n_resamples, int | np.integer) and n_resamples >= 1):
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")


#: Bootstrap weights held at once (draws x cells), bounding the memory of the intervals.
_DRAW_BLOCK = 2**21


def _draws(units: np.ndarray, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Blocks of ``(draws, n_rows)`` weights, ``n_resamples`` draws in all: how often each
    row's unit is drawn in each bootstrap draw (the units drawn with replacement, as
    many as there are)."""
    codes = pd.factorize(pd.Series(units, dtype=object))[0]
    n = int(codes.max()) + 1
    rng = np.random.default_rng(seed)
    block = max(1, _DRAW_BLOCK // max(len(codes), n))
    for start in range(0, n_resamples, block):
        drawn = rng.multinomial(n, np.full(n, 1 / n), size=min(block, n_resamples - start))
        yield drawn[:, codes].astype(float)


def _percentiles(figures: dict[str, np.ndarray], level: float) -> dict[str, tuple[float, float]]:
    """The central ``level`` of every figure's draws, those where it is defined (``nan``
    where it is in none)."""
    tail = 100 * (1 - level) / 2
    out = {}
    for name, values in figures.items():
        values = values[np.isfinite(values)]
        low, high = np.percentile(values, [tail, 100 - tail]) if len(values) else (np.nan, np.nan)
        out[name] = (float(low), float(high))
    return out


def detection_intervals(
    result: Score,
    *,
    level: float = 0.95,
    n_resamples: int = 2000,
    groups: pd.Series | dict | None = None,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Bootstrap confidence intervals of precision, recall and F1.

    The scored images are drawn again with replacement (whole groups of them with
    ``groups``: cells of one image, or of look-alike images, are not independent),
    ``n_resamples`` times, and the figures recomputed from the drawn images' counts;
    the interval is the central ``level`` of them (percentile bootstrap). It says how
    far a figure measured on these few images may lie from the same detector's figure
    on many more images like them.

    Parameters
    ----------
    result : Score
        What :func:`score` returned.
    level : float, default 0.95
        Coverage of the intervals, in (0, 1).
    n_resamples : int, default 2000
        Bootstrap draws.
    groups : Series or mapping, optional
        ``image_id -> group``: images drawn together (default each image alone);
        every scored image needs one.
    seed : int, default 0
        Seeds the draws.

    Returns
    -------
    dict
        ``{"precision": (low, high), "recall": (low, high), "f1": (low, high)}``, each
        from the draws where it is defined (``nan`` if none).

    Examples
    --------
    >>> import pandas as pd
    >>> truth = pd.DataFrame({"image_id": list("aabbcc"), "x": [10.0, 50] * 3,
    ...                       "y": [10.0, 50] * 3, "size": 20.0, "label": "alive"})
    >>> cells = truth.iloc[[0, 1, 2, 4]].assign(x=[11.0, 50, 10, 10])
    >>> s = score(cells, truth)
    >>> round(s.f1, 3), [round(v, 3) for v in detection_intervals(s)["f1"]]
    (0.8, [0.667, 1.0])
    """
    _check_bootstrap(level, n_resamples)
    counts = result.per_image[["tp", "fp", "fn"]]
    units = counts.index.to_numpy(object)
    if groups is not None:
        mapped = pd.Series(groups, dtype=object).reindex(counts.index)
        if mapped.isna().any():
            raise ValueError(f"groups has no group for image {mapped.index[mapped.isna()][0]!r}")
        units = mapped.to_numpy(object)
    if not len(units):
        return {k: (float("nan"), float("nan")) for k in ("precision", "recall", "f1")}
    tp, fp, fn = np.concatenate(
        [w @ counts.to_numpy(float) for w in _draws(units, n_resamples, seed)]
    ).T
    with np.errstate(divide="ignore", invalid="ignore"):
        figures = {"precision": tp / (tp + fp), "recall": tp / (tp + fn),
                   "f1": 2 * tp / (2 * tp + fp + fn)}  # fmt: skip
    return _percentiles(figures, level)


def _weighted_auc(weights: np.ndarray, positive: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC of ``scores`` for ``positive`` rows under each row of ``weights`` (ties
    count half): the weighted share of (positive, negative) pairs ranked right."""
    order = np.argsort(scores, kind="stable")
    ranked = scores[order]
    first = np.searchsorted(ranked, ranked, side="left")  # each row's level: its first and
    last = np.searchsorted(ranked, ranked, side="right")  # one past its last position
    w = weights[:, order]
    pos = positive[order]
    negatives = np.concatenate([np.zeros((len(w), 1)), np.cumsum(w * ~pos, axis=1)], axis=1)
    below = negatives[:, first[pos]]
    tied = negatives[:, last[pos]] - below
    wins = (w[:, pos] * (below + 0.5 * tied)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return wins / (w[:, pos].sum(axis=1) * negatives[:, -1])


def classification_intervals(
    truth: np.ndarray,
    predicted: np.ndarray,
    proba: np.ndarray | None = None,
    *,
    groups: np.ndarray | None = None,
    level: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Bootstrap confidence intervals of balanced accuracy and ROC AUC.

    The cells (whole groups of them with ``groups``, e.g. their images) are drawn again
    with replacement ``n_resamples`` times and the figures recomputed; the interval is
    the central ``level`` of them (percentile bootstrap).

    Parameters
    ----------
    truth, predicted : arrays of int, (n,)
        True and predicted class indices (0 .. K-1).
    proba : array, (n, K), optional
        Class probabilities: adds the ROC AUC (the macro mean of one-vs-rest AUCs over
        the true classes; with two classes, the AUC of either).
    groups : array, (n,), optional
        The unit each cell is drawn with (default each cell alone).
    level : float, default 0.95
        Coverage, in (0, 1).
    n_resamples : int, default 2000
        Bootstrap draws.
    seed : int, default 0
        Seeds the draws.

    Returns
    -------
    dict
        ``{"balanced_accuracy": (low, high)}`` and ``"roc_auc"`` with ``proba``, each
        from the draws where it is defined (those holding every true class; ``nan`` if
        none).

    Examples
    --------
    >>> truth = np.array([0, 1, 0, 1, 0, 1]); predicted = np.array([0, 1, 1, 1, 0, 1])
    >>> p_first = np.array([0.9, 0.1, 0.4, 0.3, 0.8, 0.45])
    >>> proba = np.column_stack([p_first, 1 - p_first])
    >>> out = classification_intervals(truth, predicted, proba, groups=list("aabbcc"))
    >>> [round(v, 3) for v in out["balanced_accuracy"]], [round(v, 3) for v in out["roc_auc"]]
    ([0.5, 1.0], [0.778, 1.0])
    """
    _check_bootstrap(level, n_resamples)
    truth, predicted = np.asarray(truth, dtype=int), np.asarray(predicted, dtype=int)
    if truth.shape != predicted.shape or truth.ndim != 1:
        raise ValueError(f"truth and predicted must be 1-D of one length, got {truth.shape} "
                         f"and {predicted.shape}")  # fmt: skip
    units = np.arange(len(truth)) if groups is None else np.asarray(groups, dtype=object)
    if len(units) != len(truth):
        raise ValueError(f"groups has {len(units)} entries for {len(truth)} cells")
    if not len(truth):
        names = ("balanced_accuracy",) + (("roc_auc",) if proba is not None else ())
        return {k: (float("nan"), float("nan")) for k in names}
    classes = np.unique(truth)
    correct = (truth == predicted).astype(float)
    proba = None if proba is None else np.asarray(proba, dtype=float)
    blocks: dict[str, list[np.ndarray]] = {"balanced_accuracy": []}
    for weights in _draws(units, n_resamples, seed):
        with np.errstate(divide="ignore", invalid="ignore"):
            recalls = [(weights[:, truth == c] @ correct[truth == c])
                       / weights[:, truth == c].sum(axis=1) for c in classes]  # fmt: skip
        blocks["balanced_accuracy"].append(np.mean(recalls, axis=0))
        if proba is not None:
            aucs = [_weighted_auc(weights, truth == c, proba[:, c]) for c in classes]
            if len(classes) < 2:  # no draw holds two classes
                aucs = [np.full(len(weights), np.nan)]
            auc = aucs[0] if proba.shape[1] == 2 else np.mean(aucs, axis=0)
            blocks.setdefault("roc_auc", []).append(auc)
    return _percentiles({k: np.concatenate(v) for k, v in blocks.items()}, level)
