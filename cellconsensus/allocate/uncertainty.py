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
expectation over their possible answers of the posterior's error). A second vote on a
cell of one vote is a tie whichever way it goes, and only a third settles it: where
two more volunteers would remove more than twice what one would, the next one is
credited with half of it (as for a cell nobody clicked, below; :data:`HORIZON`).
Their click or its absence leaves
``min(p d, (1 - p) f) + min(p (1 - d), (1 - p)(1 - f))`` of doubt about a cell
being real, ``f`` the stray-click level of the annotator model
(:data:`~cellconsensus.cell_model_em.STRAY_LEVEL`). A lone volunteer's cell stays
whatever a second volunteer does (one clicker of two keeps a cell); two more drop it
unless one of them clicks it, and the next one is credited with half of that (it
counts where a detector doubts such a cell). The expected *gain* of one more
annotator is the sum of the three reductions.

Given an automatic detector's cells (``detections=``), what we *believe* of each cell
(its class, whether it is real, cells nobody clicked) also weighs the detector's word
(:mod:`~cellconsensus.allocate.detector_evidence`); the crowd still decides the labels
and the cells kept, now and after the next vote, and the errors are counted for the
crowd's decisions under that belief.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..tables import cells_vocabulary, class_proba, image_ids_of
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
from .next_vote import (
    _doubt_after_click,
    _label_errors_after_volunteers,
    _lone_doubt_after,
    _real_odds,
    expected_missed,
)
from .rates import CrowdRates, _crowd, _rates, crowd_rates

__all__ = [
    "CrowdRates",
    "crowd_rates",
    "expected_missed",
    "image_uncertainty",
    "UNCERTAINTY_COLUMNS",
]

#: The next volunteer's label gain is the best rate per volunteer of the next 1 to
#: HORIZON volunteers. 2: a cell of one vote needs two more; 3 and 4 (a label two votes
#: agree on and a detector doubts needs three) measured no better (the allocation
#: benchmark's setting, 8 seeds: 0.42-0.43 / 0.49 of uniform's errors with a detector,
#: 0.65 / 0.77 without, alike).
HORIZON = 2

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
        annotator would remove; where what needs two more annotators weighs more, such
        as a label of one vote, half of what two would) and ``detection_gain`` (the
        part of it in missed cells and cells in doubt, the rest in labels).

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
        searched = image_ids_of(detections)
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
    vocabulary = cells_vocabulary(cells) if len(cells) else None
    classes = vocabulary.classes if vocabulary is not None else ()
    proba = class_proba(cells, vocabulary) if vocabulary is not None else np.zeros((0, 1))
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
            detector, evidence, proba, classes,
            shared[crowd.cell_image], shared[crowd.click_image[single]],
            int(shared[where[where >= 0]].sum()),
        )  # fmt: skip
        # The detector errs where the crowd does more often than chance: its word is taken
        # with weight 1 - CROWD_SHARE, the crowd's own belief with the rest.
        keep = 1.0 - CROWD_SHARE
        if len(cells):
            told = label_update(proba, evidence.cell_label, classes,
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
    lone = ~np.isfinite(p_real) & (annotators[crowd.cell_image] == 1)
    p_real = np.where(np.isfinite(p_real), p_real, 1.0)
    # after[h]: each cell's expected label error after h more volunteers (after[0]: now).
    after = _label_errors_after_volunteers(proba, q, d, HORIZON, belief)
    error = after[0]
    doubt = 1.0 - belief_real  # every cell of the table is kept
    doubt_after = _doubt_after_click(p_real, d, rates.stray, belief_real)
    # One clicker of two keeps a cell: a second volunteer cannot drop a lone volunteer's
    # cell, two more can (half of what they remove is credited to the next one).
    two = _lone_doubt_after(belief_real, d, rates.stray, 2)
    doubt_after = np.where(lone, doubt - np.maximum(doubt - two, 0.0) / 2, doubt_after)

    def per_image(values: np.ndarray) -> np.ndarray:
        return np.bincount(crowd.cell_image, weights=values, minlength=n_images)

    label_errors, doubt_sum = per_image(error), per_image(doubt)
    expected = missed + label_errors + doubt_sum
    # The consensus keeps a cell two volunteers clicked: the next one confirms an
    # unconfirmed cell with probability d; a cell nobody clicked needs two more (d^2 over
    # two volunteers, half of it each).
    detection_gain = unconfirmed * d + unfound * d * d / 2 + (doubt_sum - per_image(doubt_after))
    # A cell of one vote gains nothing from a second (a disagreement is a tie) and much
    # from a third: the next volunteer is credited with the best rate per volunteer of the
    # next 1 to HORIZON of them.
    label_gain = np.max([(label_errors - per_image(after[h])) / h for h in range(1, HORIZON + 1)],
                        axis=0)  # fmt: skip
    gain = np.clip(detection_gain + label_gain, 0.0, expected)
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
