"""An automatic detector's cells as evidence about where the crowd is wrong.

A volunteer alone on an image leaves about half of its images right and half wrong,
and the crowd cannot tell which without a second look. A detector trained on the
crowd's earlier work (:func:`cellcnn.detect.detect`) can: where it agrees with the
volunteers the consensus is probably right; where it sees a cell they did not, or
labels a cell otherwise, it is probably not. This module turns its cells into the
terms of :func:`~cellconsensus.allocate.image_uncertainty` (never into the
consensus itself: the cells and labels stay the crowd's).

The detector's cells are matched to the consensus cells of each image (Hungarian,
within :attr:`DetectorRates.match_distance`), then to the clicks in no cell. With
the detector's validation precision ``P``, recall ``R`` and label accuracy ``a``:

- a cell's class probabilities are multiplied by the likelihood of the detector's
  label, ``a`` for the same class and ``(1 - a) / (K - 1)`` for another;
- the odds of a cell (or a lone click) being real are multiplied by ``R / (1 - P)``
  where the detector found it too and by ``(1 - R) / P`` where it did not (``1 - P``
  standing for its false alarms on things that look like cells, where stray clicks
  land too); a lone volunteer's cell starts from the crowd's click precision;
- a detector cell that matches nothing is a cell every volunteer of the image missed
  with probability ``P m / (P m + 1 - P)``, ``m`` the chance that they all miss a
  cell; the crowd's own estimate of missed cells keeps the share ``1 - R`` the
  detector misses too.

``P``, ``R`` and ``a`` are measured against the crowd's consensus where two volunteers
or more looked, shrunk toward the detector's validation figures
(:func:`measured_rates`), and every belief keeps the share :data:`CROWD_SHARE` of what
the crowd alone says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..metrics import score
from ..tables.fields import check_coordinate, require_columns
from .next_vote import symmetric_confusion

__all__ = [
    "CROWD_SHARE",
    "DetectorRates",
    "detector_rates",
    "validate_detections",
    "DetectorEvidence",
    "match_detections",
]


@dataclass(frozen=True)
class DetectorRates:
    """How far a detector's cells are to be trusted.

    Attributes
    ----------
    precision, recall, label_accuracy : float
        The detector's, on images it was not trained on (its validation split).
    match_distance : float
        A detector cell and a consensus cell (or click) closer than this (px) are one cell.
    """

    precision: float
    recall: float
    label_accuracy: float
    match_distance: float

    def __post_init__(self) -> None:
        for name in ("precision", "recall", "label_accuracy"):
            value = getattr(self, name)
            if not (np.isfinite(value) and 0.0 < value < 1.0):
                raise ValueError(f"DetectorRates.{name} must be in (0, 1), got {value!r}")
        if not (np.isfinite(self.match_distance) and self.match_distance > 0):
            raise ValueError(
                f"DetectorRates.match_distance must be positive, got {self.match_distance!r}"
            )


#: The share of each belief left to the crowd alone beside the detector's evidence. The
#: detector errs where the crowd errs more often than independent errors would (faint
#: cells both miss, ambiguous cells both call alike): a belief taken wholly from it stops
#: sending volunteers to those, and the last errors stay. Measured
#: (``benchmarks/allocation.py``'s setting with its detectors, 300 LDC and 300 synthetic
#: images, 3 seeds; clicks saved against uniform 5-per-image redundancy to reach its F1
#: and label accuracy, and to reach as few errors, medians, LDC / synthetic): 0: -13 / -28
#: and 25 / 14 %; 0.3: 19 / 26 and 41 / 28 %; 0.5: 23 / 8 and 40 / 26 %; 0.7: 27 / 23 and
#: 32 / 23 %; the crowd alone (no detector): 18 / 13 and 22 / 18 % (volunteers' detection
#: rates not yet shrunk, ``rates.PRIOR_CELLS`` 0).
CROWD_SHARE = 0.3
#: Rates are held this far from 0 and 1: a detector perfect on its validation images is
#: not perfect on the next ones. Measured (the same setting, 8 seeds, with
#: :data:`VALIDATION_CELLS` 50; clicks saved to reach uniform-5's errors, median / mean,
#: synthetic; on LDC, whose detector is far from perfect, the bound never binds):
#: 0.001: 28 / 27 %, 0.003: 26 / 26 %, 0.01: 25 / 23 %, 0.03: 23 / 23 %. The two lowest
#: are one within the noise; 0.003 keeps the larger margin.
_RATE_BOUND = 0.003


def _bounded(rate: float) -> float:
    return float(np.clip(rate, _RATE_BOUND, 1 - _RATE_BOUND))


def detector_rates(detections: pd.DataFrame | Mapping) -> DetectorRates:
    """The rates recorded with a detector's cells (``attrs["detector"]``, as
    :func:`cellcnn.detect.detect` writes them: its validation figures and minimum peak
    distance), or in a detector's record (the mapping of its ``detector.json``).

    Examples
    --------
    >>> cells = pd.DataFrame(columns=["image_id", "x", "y", "label"])
    >>> cells.attrs["detector"] = {"min_distance": 10.0, "validation": {
    ...     "precision": 0.93, "recall": 0.92, "label_accuracy": 0.98}}
    >>> detector_rates(cells).recall
    0.92
    """
    meta = detections if isinstance(detections, Mapping) else detections.attrs.get("detector")
    meta = meta or {}
    validation = meta.get("validation") or {}
    missing = [k for k in ("precision", "recall", "label_accuracy") if k not in validation]
    if missing or "min_distance" not in meta:
        raise ValueError(
            "no validation figures of the detector (attrs['detector']['validation'] as "
            "cellcnn.detect.detect writes them, or its detector.json): pass "
            "detector=DetectorRates(precision, recall, label_accuracy, match_distance)"
        )
    return DetectorRates(
        precision=_bounded(validation["precision"]),
        recall=_bounded(validation["recall"]),
        label_accuracy=_bounded(validation["label_accuracy"]),
        match_distance=float(meta["min_distance"]),
    )


def validate_detections(detections: pd.DataFrame, source: str = "<detections>") -> pd.DataFrame:
    """``image_id, x, y, label`` of a detector's cells checked (finite positions; an error
    naming the row otherwise), its ``attrs`` kept.

    Examples
    --------
    >>> validate_detections(pd.DataFrame({"image_id": [1], "x": ["2.5"], "y": [3],
    ...                                   "label": ["dead"]}))["x"].tolist()
    [2.5]
    """
    require_columns(detections, ("image_id", "x", "y", "label"), "detections", source)
    out = pd.DataFrame(
        {
            "image_id": detections["image_id"].astype(str).to_numpy(),
            "x": check_coordinate(detections, "x", source, None),
            "y": check_coordinate(detections, "y", source, None),
            "label": detections["label"].astype(object).to_numpy(),
        }
    )
    out.attrs = dict(detections.attrs)
    return out


@dataclass(frozen=True)
class DetectorEvidence:
    """Where a detector agrees with the crowd (see :func:`match_detections`).

    Attributes
    ----------
    cell_found : ndarray of bool
        Per consensus cell: a detector cell matched it.
    cell_label : ndarray of object
        Per consensus cell: the matched detector cell's label (``None`` where none).
    click_found : ndarray of bool
        Per click in no cell: a detector cell left over matched it.
    unmatched_image : ndarray of str
        The image of every detector cell that matched neither.
    """

    cell_found: np.ndarray
    cell_label: np.ndarray
    click_found: np.ndarray
    unmatched_image: np.ndarray


def _match(found: pd.DataFrame, targets: pd.DataFrame, distance: float, images) -> np.ndarray:
    """Matched ``(found row, target row)`` pairs, per image, within ``distance``."""
    if not len(found) or not len(targets):
        return np.zeros((0, 2), np.int64)
    s = score(found, targets, tolerance=1.0, default_size=distance, image_ids=images)
    return s.matches[["cell", "truth"]].to_numpy(np.int64)


def match_detections(
    detections: pd.DataFrame, cells: pd.DataFrame, lone_clicks: pd.DataFrame, distance: float
) -> DetectorEvidence:
    """Match a detector's cells to the consensus cells, then the rest to the clicks in no
    cell, image by image.

    Examples
    --------
    >>> cells = pd.DataFrame({"image_id": ["a", "a"], "x": [10.0, 50], "y": [10.0, 50],
    ...                       "label": ["alive", "dead"]})
    >>> found = pd.DataFrame({"image_id": ["a", "a"], "x": [12.0, 90], "y": [10.0, 90],
    ...                       "label": ["dead", "alive"]})
    >>> lone = pd.DataFrame({"image_id": ["a"], "x": [91.0], "y": [90.0], "label": ["alive"]})
    >>> e = match_detections(found, cells, lone, 5.0)
    >>> e.cell_found.tolist(), e.cell_label.tolist(), e.click_found.tolist()
    ([True, False], ['dead', None], [True])
    """
    columns = ["image_id", "x", "y", "label"]
    found = detections[columns].reset_index(drop=True).astype({"image_id": str})
    cells = cells[columns].reset_index(drop=True).astype({"image_id": str})
    lone = lone_clicks[columns].reset_index(drop=True).astype({"image_id": str})
    images = sorted(set(found["image_id"]) | set(cells["image_id"]) | set(lone["image_id"]))
    pairs = _match(found, cells, distance, images)
    cell_found = np.zeros(len(cells), bool)
    cell_found[pairs[:, 1]] = True
    cell_label = np.full(len(cells), None, dtype=object)
    cell_label[pairs[:, 1]] = found["label"].to_numpy(object)[pairs[:, 0]]
    rest = np.setdiff1d(np.arange(len(found)), pairs[:, 0])
    second = _match(found.iloc[rest].reset_index(drop=True), lone, distance, images)
    click_found = np.zeros(len(lone), bool)
    click_found[second[:, 1]] = True
    unmatched = np.setdiff1d(np.arange(len(rest)), second[:, 0])
    return DetectorEvidence(
        cell_found=cell_found,
        cell_label=cell_label,
        click_found=click_found,
        unmatched_image=found["image_id"].to_numpy(object)[rest[unmatched]],
    )


def _class_codes(labels: np.ndarray, classes) -> np.ndarray:
    """The position of each label among ``classes`` (-1: none, unsure or another label)."""
    return pd.Index(list(classes)).get_indexer(pd.Series(labels, dtype=object).fillna(""))


def label_update(proba: np.ndarray, labels: np.ndarray, classes, accuracy: float) -> np.ndarray:
    """Class probabilities after the detector's label (``None``, or a label that is not a
    class, leaves a row as it is).

    Examples
    --------
    >>> label_update(np.array([[0.5, 0.5]]), np.array(["dead"], dtype=object),
    ...              ["alive", "dead"], 0.9).round(2).tolist()
    [[0.1, 0.9]]
    """
    code = _class_codes(labels, classes)
    # given[v, c]: the detector says v of a cell of class c.
    given = symmetric_confusion(proba.shape[1], accuracy)
    likelihood = np.where((code >= 0)[:, None], given[np.maximum(code, 0)], 1.0)
    updated = proba * likelihood
    total = updated.sum(axis=1, keepdims=True)
    return np.where(total > 0, updated / np.where(total > 0, total, 1), proba)


def real_update(p_real: np.ndarray, found: np.ndarray, rates: DetectorRates) -> np.ndarray:
    """Probability of being real after the detector found (or did not find) the spot.

    Examples
    --------
    >>> rates = DetectorRates(0.9, 0.9, 0.9, 10.0)
    >>> real_update(np.array([0.5, 0.5]), np.array([True, False]), rates).round(3).tolist()
    [0.9, 0.1]
    """
    ratio = np.where(found, rates.recall / (1 - rates.precision),
                     (1 - rates.recall) / rates.precision)  # fmt: skip
    p = np.clip(np.asarray(p_real, dtype=float), 0.0, 1.0)
    return p * ratio / (p * ratio + (1 - p))


def missed_by_crowd(miss: np.ndarray, rates: DetectorRates) -> np.ndarray:
    """Chance that a detector cell nobody clicked is real, given the chance ``miss`` that
    all of its image's volunteers miss a real cell.

    Examples
    --------
    >>> missed_by_crowd(np.array([1.0, 0.0]), DetectorRates(0.9, 0.9, 0.9, 10.0)).tolist()
    [0.9, 0.0]
    """
    real = rates.precision * np.asarray(miss, dtype=float)
    return real / (real + 1 - rates.precision)


#: How many cells the detector's validation figures count for beside what it is measured
#: to do on this crowd (:func:`measured_rates`). Measured (``benchmarks/allocation.py``'s
#: setting with its detectors, 8 seeds, rate bound 0.01; clicks saved to reach uniform-5's
#: errors, mean over seeds, LDC / synthetic): 10: 35 / 23 %, 25: 33 / 24 %, 50: 35 / 23 %,
#: 100: 34 / 24 %, 200: 35 / 23 %: flat (within the seeds' spread) from 10 to 200.
VALIDATION_CELLS = 50


def measured_rates(
    rates: DetectorRates,
    evidence: DetectorEvidence,
    proba: np.ndarray,
    classes,
    shared_cell: np.ndarray,
    shared_click: np.ndarray,
    unmatched_shared: int,
) -> DetectorRates:
    """The detector's precision, recall and label accuracy against this crowd's consensus
    on the images two volunteers or more saw (``shared_*``: per consensus cell and per
    click in no cell; ``unmatched_shared``: detector cells there that matched nothing),
    shrunk toward ``rates`` (its validation figures) as if those were
    :data:`VALIDATION_CELLS` cells: with nobody's second look yet, its validation figures.

    Examples
    --------
    >>> e = DetectorEvidence(np.array([True, False]), np.array(["alive", None], dtype=object),
    ...                      np.zeros(0, bool), np.zeros(0, object))
    >>> r = measured_rates(DetectorRates(0.9, 0.9, 0.9, 10.0), e, np.array([[1.0, 0], [1, 0]]),
    ...                    ["alive", "dead"], np.array([False, False]), np.zeros(0, bool), 0)
    >>> r.recall
    0.9
    """
    found = evidence.cell_found & shared_cell
    n_found = int(found.sum())
    detected = n_found + int((evidence.click_found & shared_click).sum()) + unmatched_shared
    code = _class_codes(evidence.cell_label[found], classes)
    agree = proba[found][np.arange(n_found), np.maximum(code, 0)] * (code >= 0)

    def shrunk(hits: float, n: int, prior: float) -> float:
        return _bounded((hits + VALIDATION_CELLS * prior) / (n + VALIDATION_CELLS))

    return DetectorRates(
        precision=shrunk(n_found, detected, rates.precision),
        recall=shrunk(n_found, int(shared_cell.sum()), rates.recall),
        label_accuracy=shrunk(float(agree.sum()), int((code >= 0).sum()), rates.label_accuracy),
        match_distance=rates.match_distance,
    )
