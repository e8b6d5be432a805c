"""How uncertain each image's consensus is, and what one more annotator would buy.

Everything is read off a consensus (:class:`~cellconsensus.result.Consensus`) and
counted in *expected errors*: a true cell nobody found, a cell with the wrong
label, a cell kept that is not real (or one dropped that is).

- **Missed cells.** Each annotator ``a`` finds a cell with their detection rate
  ``d_a`` (:func:`crowd_rates`: measured where others looked too, shrunk toward the
  crowd's median; the median for an annotator without one). A true cell escapes
  all of an image's annotators with probability ``m = prod (1 - d_a)``, so the
  ``n`` cells found stand for ``n / (1 - m)`` true ones (on an image of a single volunteer, whose cells the
  support rule may drop, their clicks count as found). Shrunk toward the crowd's
  cells per image (:func:`expected_missed`: Poisson counts with Gamma-distributed
  rates), ``m (alpha + n) / (beta + 1 - m)`` are expected still missed: an image
  where a lone volunteer found nothing is not an image without cells. An image
  nobody has looked at is expected to hold the crowd's mean number of cells. The
  clicks in no cell on an image two volunteers or more saw are strays, or cells
  only one of them found (the consensus needs two): each counts as a missed,
  *unconfirmed* cell with the odds of one clicker among the ``k`` volunteers,
  ``d (1 - d)^(k-1)`` against a stray's ``f (1 - f)^(k-1)`` (``f`` below).
- **Label errors.** A cell's chance of the wrong label is ``1 - max_c p_c`` (its
  class probabilities).
- **Cells in doubt.** ``1 - p_real`` of a kept cell where the annotator model gave a
  posterior that the cell is real (``support_rule="model"``).

One more annotator, with the crowd's median detection rate ``d`` and mean label
accuracy ``q`` (a wrong answer any other class), confirms an unconfirmed cell with
probability ``d`` (a cell nobody clicked needs two more: ``d^2`` over two
volunteers, half of it counted for each); their vote on a cell they click leaves
an expected label error of ``1 - sum_v max_c p_c L(v | c)`` (exact: the
expectation over their possible answers of the posterior's error); their click or
its absence leaves
``min(p d, (1 - p) f) + min(p (1 - d), (1 - p)(1 - f))`` of doubt about a cell
being real, ``f`` the stray-click level of the annotator model
(:data:`~cellconsensus.cell_model_em.STRAY_LEVEL`). The expected *gain* of one
more annotator is the sum of the three reductions.

Given an automatic detector's cells (``detections=``), what we *believe* of each cell
(its class, whether it is real, cells nobody clicked) also weighs the detector's word
(:mod:`~cellconsensus.allocate.detector_evidence`); the crowd still decides the labels
and the cells kept, now and after the next vote, and the errors are counted for the
crowd's decisions under that belief.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..cell_model_em import STRAY_LEVEL
from ..tables import cells_vocabulary, class_proba
from .detector_evidence import (
    CROWD_SHARE,
    DetectorRates,
    detector_rates,
    label_update,
    match_detections,
    measured_rates,
    missed_by_crowd,
    real_update,
    validate_detections,
)

__all__ = [
    "CrowdRates",
    "crowd_rates",
    "expected_missed",
    "image_uncertainty",
    "UNCERTAINTY_COLUMNS",
]

#: Columns of :func:`image_uncertainty`, in order.
UNCERTAINTY_COLUMNS: tuple[str, ...] = (
    "image_id",
    "annotators",
    "cells",
    "expected_missed",
    "expected_label_errors",
    "cells_in_doubt",
    "expected_errors",
    "gain",
    "detection_gain",
)
#: A volunteer's detection rate is shrunk toward the crowd's median as if that had been
#: measured on this many cells (one cell missed is not a volunteer who misses every cell:
#: unshrunk, a volunteer measured on one cell made an image of theirs expect 36 missed
#: cells). Measured (``benchmarks/allocation.py``, 3 seeds; clicks saved to reach uniform
#: 5-per-image's F1 and label accuracy, and its errors, medians, LDC / synthetic): 0: 18 /
#: 13 and 22 / 18 %; 10: 23 / 14 and 25 / 16 %; 30: 24 / 12 and 24 / 16 % (with a
#: detector: 0: 19 / 26 and 41 / 28 %; 10: 34 / 20 and 38 / 27 %; 30: 38 / 19 and 38 / 28 %).
PRIOR_CELLS = 10
#: Detection rates are held at least this far from 0 (an annotator who found nothing
#: still might), so that the missed-cell estimate stays finite.
MIN_DETECTION = 0.05


@dataclass(frozen=True)
class CrowdRates:
    """What the crowd's next annotator is expected to do.

    Attributes
    ----------
    detection : Series
        Detection rate of every annotator (``annotator_id`` index).
    new_detection : float
        The crowd's median detection rate: a new annotator's.
    accuracy : float
        The crowd's label accuracy: the chance that an answer is the cell's class.
    stray : float
        Chance that an annotator clicks where there is no cell.
    precision : float
        Chance that a click is on a real cell (the share of clicks in cells where two
        volunteers or more looked; ``1 - stray`` without such an image).
    """

    detection: pd.Series
    new_detection: float
    accuracy: float
    stray: float = STRAY_LEVEL
    precision: float = 1 - STRAY_LEVEL


@dataclass(frozen=True)
class _Crowd:
    """Who worked where, coded: images and annotators as sorted indexes, every distinct
    (image, annotator) run, and the image of every cell and click."""

    images: pd.Index
    annotators: pd.Index
    run_image: np.ndarray
    run_annotator: np.ndarray
    cell_image: np.ndarray
    click_image: np.ndarray
    click_annotator: np.ndarray

    @property
    def annotators_per_image(self) -> np.ndarray:
        return np.bincount(self.run_image, minlength=len(self.images))

    @property
    def cells_per_image(self) -> np.ndarray:
        return np.bincount(self.cell_image, minlength=len(self.images))


def _crowd(result, runs: pd.DataFrame | None, image_ids=()) -> _Crowd:
    """Code the clicks, the runs (default: the consensus's own, if it kept them) and the
    cells of a consensus; ``image_ids`` adds images nobody worked on."""
    clicks = result.assignments
    runs = runs if runs is not None else getattr(result, "runs", None)
    listed = [clicks[["image_id", "annotator_id"]]]
    if runs is not None:
        listed.append(runs[["image_id", "annotator_id"]])
    both = pd.concat(listed, ignore_index=True).astype(str)
    extra = pd.Series([str(i) for i in image_ids or ()], dtype=both["image_id"].dtype)
    image_code, images = pd.factorize(pd.concat([both["image_id"], extra], ignore_index=True),
                                      sort=True)  # fmt: skip
    annotator_code, annotators = pd.factorize(both["annotator_id"], sort=True)
    image_code = image_code[: len(both)]
    key = np.unique(image_code.astype(np.int64) * max(len(annotators), 1) + annotator_code)
    cell_image = images.get_indexer(result.cells["image_id"].astype(str))
    return _Crowd(pd.Index(images), pd.Index(annotators), key // max(len(annotators), 1),
                  key % max(len(annotators), 1), cell_image, image_code[: len(clicks)],
                  annotator_code[: len(clicks)])  # fmt: skip


def crowd_rates(result, runs: pd.DataFrame | None = None) -> CrowdRates:
    """The rates of :class:`CrowdRates`, measured on the images two volunteers or more
    annotated (on an image of one volunteer, that volunteer found every cell and gave
    every label by definition, which says nothing of them).

    Detection: the share of the consensus cells on those images that each annotator
    clicked, shrunk toward the crowd's median as if it were :data:`PRIOR_CELLS` cells
    (the median for an annotator seen on none; 0.5 without any such image). Accuracy:
    the mean probability, under the cells' class probabilities, of the answers given
    (``unsure`` left out; 0.5 without any such vote).

    Examples
    --------
    >>> from cellconsensus import find_consensus, make_truth, simulate_crowd
    >>> rates = crowd_rates(find_consensus(simulate_crowd(make_truth(20, seed=0), 5, seed=0)))
    >>> 0.8 < rates.new_detection <= 1.0 and 0.8 < rates.accuracy <= 1.0
    True
    """
    return _rates(result, _crowd(result, runs))


def _rates(result, crowd: _Crowd) -> CrowdRates:
    n_annotators = len(crowd.annotators)
    shared_image = crowd.annotators_per_image >= 2
    shared_run = shared_image[crowd.run_image]
    seen = np.bincount(crowd.run_annotator[shared_run], minlength=n_annotators,
                       weights=crowd.cells_per_image[crowd.run_image[shared_run]])  # fmt: skip
    clicks = result.assignments
    voted = (clicks["status"] == "cell").to_numpy() & shared_image[crowd.click_image]
    votes = np.bincount(crowd.click_annotator[voted], minlength=n_annotators)
    measured = seen >= 1
    # Clicks kept apart (second clicks of one annotator) are neither cells nor strays.
    status = result.assignments["status"].to_numpy()
    in_shared = shared_image[crowd.click_image] & (status != "duplicate")
    precision = float(np.mean(status[in_shared] == "cell")) if in_shared.any() else 1 - STRAY_LEVEL
    detection = np.clip(votes / np.where(measured, seen, 1.0), MIN_DETECTION, 1.0)
    median = float(np.median(detection[measured])) if measured.any() else 0.5
    # Shrunk toward the crowd's median as if it had been seen on PRIOR_CELLS cells.
    shrunk = (votes + PRIOR_CELLS * median) / (seen + PRIOR_CELLS)
    detection = np.clip(np.where(measured, shrunk, median), MIN_DETECTION, 1.0)
    detection = pd.Series(detection, index=crowd.annotators)
    accuracy = 0.5
    cells = result.cells
    if voted.any() and len(cells):
        vocabulary = cells_vocabulary(cells)
        answer = vocabulary.codes(clicks["label"])[voted]
        # The row of each vote's cell: (image code, cell id) as one integer key.
        width = int(max(cells["cell_id"].max(), clicks["cell_id"].max())) + 1
        cell_key = pd.Index(crowd.cell_image.astype(np.int64) * width + cells["cell_id"].to_numpy())
        vote_key = (
            crowd.click_image[voted].astype(np.int64) * width + clicks["cell_id"].to_numpy()[voted]
        )
        row = cell_key.get_indexer(vote_key)
        decided = (answer >= 0) & (answer < vocabulary.n_classes) & (row >= 0)
        if decided.any():
            proba = class_proba(cells, vocabulary)
            accuracy = float(proba[row[decided], answer[decided]].mean())
    return CrowdRates(detection, median, accuracy, precision=precision)


def _label_error_after_vote(
    proba: np.ndarray, accuracy: float, belief: np.ndarray | None = None
) -> np.ndarray:
    """Expected error of the crowd's label after one more vote of the given accuracy
    (wrong answers spread over the other classes).

    The crowd picks the most probable class of its own posterior ``proba`` after the
    vote; the error is counted under ``belief`` (default ``proba``: then
    ``1 - sum_v max_c p_c L(v | c)``), which may know more (a detector's label).
    """
    belief = proba if belief is None else belief
    k = proba.shape[1]
    likelihood = np.full((k, k), (1 - accuracy) / max(k - 1, 1))
    np.fill_diagonal(likelihood, accuracy)
    # (cells, answer v, class c): p_c L(v | c); the crowd's choice is the max over c.
    choice = (proba[:, None, :] * likelihood[None, :, :]).argmax(axis=2)
    joint = belief[:, None, :] * likelihood[None, :, :]
    return 1.0 - np.take_along_axis(joint, choice[:, :, None], axis=2)[:, :, 0].sum(axis=1)


def _real_odds(clickers, annotators, detection: float, stray: float) -> np.ndarray:
    """Chance that a spot ``clickers`` of an image's ``annotators`` clicked is a real cell:
    ``d^j (1 - d)^(k - j)`` against a stray's ``f^j (1 - f)^(k - j)``.

    Examples
    --------
    >>> _real_odds(np.array([1, 1, 2]), np.array([1, 3, 3]), 0.9, 0.02).round(3).tolist()
    [0.978, 0.32, 0.995]
    """
    j = np.asarray(clickers, dtype=float)
    detection, stray = np.clip([detection, stray], 1e-9, 1 - 1e-9)
    k = np.maximum(np.asarray(annotators, dtype=float), j)
    log_real = j * np.log(detection) + (k - j) * np.log1p(-detection)
    log_false = j * np.log(stray) + (k - j) * np.log1p(-stray)
    return 1.0 / (1.0 + np.exp(np.clip(log_false - log_real, -700, 700)))


def _doubt_after_click(
    p_real: np.ndarray, detection: float, stray: float, belief: np.ndarray | None = None
) -> np.ndarray:
    """Expected error of keeping or dropping a cell after one more annotator clicks it or
    not: the crowd decides on its own ``p_real``; the error is counted under ``belief``
    (default ``p_real``: then the expected ``min(p, 1 - p)``)."""
    belief = p_real if belief is None else belief
    error = np.zeros(len(p_real))
    for real, false in ((detection, stray), (1 - detection, 1 - stray)):
        keep = p_real * real >= (1 - p_real) * false
        error += np.where(keep, (1 - belief) * false, belief * real)
    return error


def expected_missed(found: np.ndarray, miss: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Expected true cells still missed per image, from the cells found and the chance
    ``miss`` that all of its volunteers miss a cell (empirical Bayes).

    Each image's true cells are Poisson with its own rate, the rates Gamma across
    images (shape and rate fitted by moments on the images ``seen``); the cells found
    are then Poisson with the rate times ``1 - miss``, so the missed ones have the
    expectation ``miss (alpha + found) / (beta + 1 - miss)``: the image's own count
    where it says much, the crowd's where it says little (an image where a lone
    volunteer found nothing is not an image without cells). An image nobody has seen
    (``miss`` 1) is expected to hold the crowd's mean.

    Examples
    --------
    >>> expected_missed(np.array([4.0, 0.0, 0.0]), np.array([0.1, 0.1, 1.0]),
    ...                 np.array([True, True, False])).round(2).tolist()
    [0.33, 0.11, 2.22]
    """
    found = np.asarray(found, dtype=float)
    miss = np.clip(np.asarray(miss, dtype=float), 0.0, 1.0)
    seen = np.asarray(seen, dtype=bool) & (miss < 1.0)
    if not seen.any():
        return np.zeros(len(found))
    exposure = 1.0 - miss[seen]
    rates = found[seen] / exposure
    mean = float(rates.mean())
    # The spread of the rates beyond the Poisson noise of each count.
    spread = float(rates.var() - np.mean(mean / exposure))
    spread = max(spread, 0.01 * mean, 1e-9)
    beta = mean / spread if mean > 0 else 1.0
    alpha = mean * beta
    return miss * (alpha + found) / (beta + 1.0 - miss)


def image_uncertainty(
    result,
    *,
    runs: pd.DataFrame | None = None,
    image_ids=None,
    rates: CrowdRates | None = None,
    detections: pd.DataFrame | None = None,
    detector: DetectorRates | None = None,
) -> pd.DataFrame:
    """Per image: expected missed cells, expected label errors, doubt, and the gain of one
    more annotator (see the module's description).

    Parameters
    ----------
    result : Consensus
        From :func:`~cellconsensus.find_consensus`.
    runs : DataFrame, optional
        Every (``image_id``, ``annotator_id``) that worked on an image, runs without a
        click included (default: the runs the consensus was given, else who clicked).
    image_ids : sequence of str, optional
        Every image of the project, those nobody has annotated yet included (they get
        the crowd's mean cells per image as expected missed cells).
    rates : CrowdRates, optional
        Default :func:`crowd_rates` of ``result`` (and ``runs``).
    detections : DataFrame, optional
        An automatic detector's cells on the same images (``image_id, x, y, label``:
        :func:`cellcnn.detect.detect`), taken as evidence of where the crowd is wrong
        (:mod:`~cellconsensus.allocate.detector_evidence`); the images it searched
        (``attrs["image_ids"]``) are ranked too.
    detector : DetectorRates, optional
        How far to trust ``detections`` (default: the validation figures they carry,
        :func:`~cellconsensus.allocate.detector_evidence.detector_rates`).

    Returns
    -------
    DataFrame
        :data:`UNCERTAINTY_COLUMNS`, one row per image, sorted by ``image_id``:
        ``annotators``, ``cells``, ``expected_missed``, ``expected_label_errors``,
        ``cells_in_doubt`` (the summed doubt about cells being real),
        ``expected_errors`` (their sum), ``gain`` (expected errors one more
        annotator would remove) and ``detection_gain`` (the part of it in missed
        cells and cells in doubt, the rest in labels).

    Examples
    --------
    >>> from cellconsensus import find_consensus, make_truth, simulate_crowd
    >>> result = find_consensus(simulate_crowd(make_truth(10, seed=0), 3, seed=0))
    >>> table = image_uncertainty(result)
    >>> bool((table["gain"] <= table["expected_errors"] + 1e-12).all())
    True
    """
    if detections is not None:
        detections = validate_detections(detections)
        detector = detector or detector_rates(detections)
        searched = detections.attrs.get("image_ids") or detections["image_id"].unique()
        image_ids = [*(image_ids or ()), *searched]
    crowd = _crowd(result, runs, image_ids)
    rates = rates or _rates(result, crowd)
    n_images = len(crowd.images)
    detection = rates.detection.reindex(crowd.annotators).fillna(rates.new_detection)
    log_miss = np.log1p(-np.clip(detection.to_numpy()[crowd.run_annotator], 0.0, 1 - 1e-9))
    m = np.exp(np.bincount(crowd.run_image, weights=log_miss, minlength=n_images))
    annotators = crowd.annotators_per_image
    seen = annotators > 0
    m = np.where(seen, m, 1.0)
    n_cells = crowd.cells_per_image
    # Cells found; on a lone volunteer's image their clicks (the support rule may have
    # dropped their cells).
    status = result.assignments["status"]
    counted = status.isin(["cell", "filtered"]).to_numpy()
    clicks = np.bincount(crowd.click_image[counted], minlength=n_images)
    found = np.where(annotators == 1, np.maximum(n_cells, clicks), n_cells).astype(float)
    unfound = expected_missed(found, m, seen)  # no volunteer clicked them
    cells = result.cells
    d, q = rates.new_detection, rates.accuracy
    # A click in no cell where others looked: a stray, or a cell only one volunteer found
    # (the consensus needs two). Real with the odds of one clicker among k of them.
    single = status.isin(["noise", "filtered"]).to_numpy()
    alone_real = np.where(annotators >= 2, _real_odds(1, annotators, d, rates.stray), 0.0)
    alone_real = alone_real[crowd.click_image[single]]
    proba = class_proba(cells, cells_vocabulary(cells)) if len(cells) else np.zeros((0, 1))
    # The cells' posteriors of being real; none (a lone volunteer's cells, the support
    # threshold): no doubt counted, unless a detector says otherwise (then they start
    # from the crowd's click precision).
    p_real = cells["p_real"].to_numpy(float) if "p_real" in cells else np.ones(len(cells))
    # What we believe of each cell; the crowd decides its label (and whether it is kept)
    # on what the crowd alone says, now and after the next vote.
    belief, belief_real = proba, np.where(np.isfinite(p_real), p_real, 1.0)
    if detections is not None:
        lone = result.assignments[single]
        evidence = match_detections(detections, cells, lone, detector.match_distance)
        shared = annotators >= 2
        where = crowd.images.get_indexer(evidence.unmatched_image.astype(str))
        detector = measured_rates(
            detector, evidence, proba, cells_vocabulary(cells).classes if len(cells) else (),
            shared[crowd.cell_image], shared[crowd.click_image[single]],
            int(shared[where[where >= 0]].sum()),
        )  # fmt: skip
        # The detector errs where the crowd does more often than chance: its word is taken
        # with weight 1 - CROWD_SHARE, the crowd's own belief with the rest.
        keep = 1.0 - CROWD_SHARE
        if len(cells):
            told = label_update(proba, evidence.cell_label, cells_vocabulary(cells).classes,
                                detector.label_accuracy)  # fmt: skip
            belief = keep * told + CROWD_SHARE * proba
        prior = np.where(np.isfinite(p_real), p_real, rates.precision)
        belief_real = keep * real_update(prior, evidence.cell_found, detector) + (
            CROWD_SHARE * belief_real
        )
        alone_real = keep * real_update(alone_real, evidence.click_found, detector) + (
            CROWD_SHARE * alone_real
        )
        where = where[where >= 0]
        seen_by_detector = unfound * (1 - detector.recall) + np.bincount(
            where, weights=missed_by_crowd(m[where], detector), minlength=n_images
        )
        unfound = keep * seen_by_detector + CROWD_SHARE * unfound
    unconfirmed = np.bincount(crowd.click_image[single], weights=alone_real, minlength=n_images)
    missed = unfound + unconfirmed
    # A lone volunteer's cell without a posterior is kept whatever the next click says.
    p_real = np.where(np.isfinite(p_real), p_real, 1.0)
    chosen = proba.argmax(axis=1) if len(cells) else np.zeros(0, np.int64)
    error = 1.0 - np.take_along_axis(belief, chosen[:, None], axis=1)[:, 0]
    error_after = d * _label_error_after_vote(proba, q, belief) + (1 - d) * error
    doubt = 1.0 - belief_real  # every cell of the table is kept
    doubt_after = _doubt_after_click(p_real, d, rates.stray, belief_real)

    def per_image(values: np.ndarray) -> np.ndarray:
        return np.bincount(crowd.cell_image, weights=values, minlength=n_images)

    label_errors, doubt_sum = per_image(error), per_image(doubt)
    expected = missed + label_errors + doubt_sum
    # The consensus keeps a cell two volunteers clicked: the next one confirms an
    # unconfirmed cell with probability d; a cell nobody clicked needs two more (d^2 over
    # two volunteers, half of it each).
    detection_gain = unconfirmed * d + unfound * d * d / 2 + (doubt_sum - per_image(doubt_after))
    gain = np.clip(detection_gain + label_errors - per_image(error_after), 0.0, expected)
    table = pd.DataFrame(
        {
            "image_id": np.asarray(crowd.images, dtype=object),
            "annotators": annotators,
            "cells": n_cells,
            "expected_missed": missed,
            "expected_label_errors": label_errors,
            "cells_in_doubt": doubt_sum,
            "expected_errors": expected,
            "gain": gain,
            "detection_gain": np.clip(detection_gain, 0.0, gain),
        }
    )
    return table[list(UNCERTAINTY_COLUMNS)]
