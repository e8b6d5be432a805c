"""What the crowd's volunteers do: detection rates, label accuracy, click precision.

Measured on the images two volunteers or more annotated (on an image of one
volunteer, that volunteer found every cell and gave every label by definition);
:func:`crowd_rates` is what :func:`~cellconsensus.allocate.image_uncertainty`
expects of the next volunteer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..cell_model_em import STRAY_LEVEL
from ..tables import cells_vocabulary, class_proba

__all__ = ["CrowdRates", "crowd_rates", "PRIOR_CELLS", "MIN_DETECTION"]

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
