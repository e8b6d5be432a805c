"""Score consensus cells against ground truth: detection and labels."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

__all__ = ["score", "Score", "detection_intervals"]


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
        ``{"precision": (low, high), "recall": (low, high), "f1": (low, high)}``
        (``nan`` where a figure is undefined in some draw's images).

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
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    if not (isinstance(n_resamples, int | np.integer) and n_resamples >= 1):
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    counts = result.per_image[["tp", "fp", "fn"]]
    if groups is not None:
        mapping = pd.Series(groups, dtype=object)
        unit = counts.index.map(lambda i: mapping.get(i))
        if unit.isna().any():
            missing = counts.index[unit.isna()][0]
            raise ValueError(f"groups has no group for image {missing!r}")
        counts = counts.groupby(np.asarray(unit, dtype=str)).sum()
    units = counts.to_numpy(float)
    if not len(units):
        return {k: (float("nan"), float("nan")) for k in ("precision", "recall", "f1")}
    rng = np.random.default_rng(seed)
    drawn = rng.multinomial(len(units), np.full(len(units), 1 / len(units)), size=n_resamples)
    tp, fp, fn = (drawn @ units).T
    with np.errstate(divide="ignore", invalid="ignore"):
        figures = {"precision": tp / (tp + fp), "recall": tp / (tp + fn),
                   "f1": 2 * tp / (2 * tp + fp + fn)}  # fmt: skip
    tail = 100 * (1 - level) / 2
    out = {}
    for name, values in figures.items():
        low, high = (np.percentile(values, [tail, 100 - tail]) if np.isfinite(values).all()
                     else (np.nan, np.nan))  # fmt: skip
        out[name] = (float(low), float(high))
    return out
