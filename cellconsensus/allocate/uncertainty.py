"""How uncertain each image's consensus is, and what one more annotator would buy.

Everything is read off a consensus (:class:`~cellconsensus.result.Consensus`) and
counted in *expected errors*: a true cell nobody found, a cell with the wrong
label, a cell kept that is not real (or one dropped that is).

- **Missed cells.** Each annotator ``a`` finds a cell with their detection rate
  ``d_a`` (:func:`crowd_rates`: measured where others looked too; the crowd's
  median for an annotator without one). A true cell escapes all of an image's annotators
  with probability ``m = prod (1 - d_a)``, so the ``n`` cells found stand for
  ``n / (1 - m)`` true ones (on an image of a single volunteer, whose cells the
  support rule may drop, their clicks count as found). Shrunk toward the crowd's
  cells per image (:func:`expected_missed`: Poisson counts with Gamma-distributed
  rates), ``m (alpha + n) / (beta + 1 - m)`` are expected still missed: an image
  where a lone volunteer found nothing is not an image without cells. An image
  nobody has looked at is expected to hold the crowd's mean number of cells.
- **Label errors.** A cell's chance of the wrong label is ``1 - max_c p_c`` (its
  class probabilities).
- **Cells in doubt.** ``min(p_real, 1 - p_real)`` where the annotator model gave a
  posterior that the cell is real (``support_rule="model"``).

One more annotator, with the crowd's median detection rate ``d`` and mean label
accuracy ``q`` (a wrong answer any other class), finds a missed cell with
probability ``d``; their vote on a cell they click leaves an expected label error
of ``1 - sum_v max_c p_c L(v | c)`` (exact: the expectation over their possible
answers of the posterior's error); their click or its absence leaves
``min(p d, (1 - p) f) + min(p (1 - d), (1 - p)(1 - f))`` of doubt about a cell
being real, ``f`` the stray-click level of the annotator model
(:data:`~cellconsensus.cell_model_em.STRAY_LEVEL`). The expected *gain* of one
more annotator is the sum of the three reductions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..cell_model_em import STRAY_LEVEL
from ..tables import cells_vocabulary, class_proba

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
)
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
    """

    detection: pd.Series
    new_detection: float
    accuracy: float
    stray: float = STRAY_LEVEL


def crowd_rates(result, runs: pd.DataFrame | None = None) -> CrowdRates:
    """The rates of :class:`CrowdRates`, measured on the images two volunteers or more
    annotated (on an image of one volunteer, that volunteer found every cell and gave
    every label by definition, which says nothing of them).

    Detection: the share of the consensus cells on those images that each annotator
    clicked (the crowd's median for an annotator seen on none; 0.5 without any such
    image). Accuracy: the mean probability, under the cells' class probabilities, of
    the answers given (``unsure`` left out; 0.5 without any such vote).

    Examples
    --------
    >>> from cellconsensus import find_consensus, make_truth, simulate_crowd
    >>> rates = crowd_rates(find_consensus(simulate_crowd(make_truth(20, seed=0), 5, seed=0)))
    >>> 0.8 < rates.new_detection <= 1.0 and 0.8 < rates.accuracy <= 1.0
    True
    """
    pairs = _annotators_per_image(result, runs)
    n_annotators = pairs.groupby("image_id").size()
    shared = pairs[pairs["image_id"].map(n_annotators) >= 2]
    cells = result.cells
    cell_image = cells["image_id"].astype(str)
    per_image = cell_image.value_counts()
    on_image = shared["image_id"].map(per_image).fillna(0).astype(float)
    seen = on_image.groupby(shared["annotator_id"]).sum()
    votes_table = result.assignments
    votes_table = votes_table[(votes_table["status"] == "cell")
                              & votes_table["image_id"].astype(str).isin(set(shared["image_id"]))]  # fmt: skip
    votes = votes_table.groupby(votes_table["annotator_id"].astype(str)).size()
    measured = seen[seen >= 1]
    found = votes.reindex(measured.index, fill_value=0).astype(float)
    detection = (found / measured).clip(MIN_DETECTION, 1.0)
    median = float(detection.median()) if len(detection) else 0.5
    everyone = pd.Index(sorted(set(pairs["annotator_id"])))
    detection = detection.reindex(everyone).fillna(median)
    accuracy = 0.5
    if len(votes_table) and len(cells):
        vocabulary = cells_vocabulary(cells)
        answer = vocabulary.codes(votes_table["label"])
        decided = (answer >= 0) & (answer < vocabulary.n_classes)
        key = pd.MultiIndex.from_arrays([cell_image, cells["cell_id"]])
        row = key.get_indexer(pd.MultiIndex.from_arrays(
            [votes_table["image_id"].astype(str), votes_table["cell_id"]]))  # fmt: skip
        decided &= row >= 0
        if decided.any():
            proba = class_proba(cells, vocabulary)
            accuracy = float(proba[row[decided], answer[decided]].mean())
    return CrowdRates(detection, median, accuracy)


def _annotators_per_image(result, runs: pd.DataFrame | None) -> pd.DataFrame:
    """``image_id -> annotator_id`` pairs: every run (clicked or not) that worked on an image."""
    pairs = result.assignments[["image_id", "annotator_id"]]
    runs = runs if runs is not None else getattr(result, "runs", None)
    if runs is not None:
        pairs = pd.concat([pairs, runs[["image_id", "annotator_id"]]], ignore_index=True)
    return pairs.astype(str).drop_duplicates()


def _label_error_after_vote(proba: np.ndarray, accuracy: float) -> np.ndarray:
    """Expected error of the most probable class after one more vote of the given accuracy
    (wrong answers spread over the other classes): ``1 - sum_v max_c p_c L(v | c)``."""
    k = proba.shape[1]
    likelihood = np.full((k, k), (1 - accuracy) / max(k - 1, 1))
    np.fill_diagonal(likelihood, accuracy)
    # (cells, answer v, class c): p_c L(v | c); the max over c, summed over v.
    joint = proba[:, None, :] * likelihood[None, :, :]
    return 1.0 - joint.max(axis=2).sum(axis=1)


def _doubt_after_click(p_real: np.ndarray, detection: float, stray: float) -> np.ndarray:
    """Expected ``min(p, 1 - p)`` of being real after one more annotator clicks or not."""
    clicked = np.minimum(p_real * detection, (1 - p_real) * stray)
    missed = np.minimum(p_real * (1 - detection), (1 - p_real) * (1 - stray))
    return clicked + missed


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
    result, *, runs: pd.DataFrame | None = None, image_ids=None, rates: CrowdRates | None = None
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

    Returns
    -------
    DataFrame
        :data:`UNCERTAINTY_COLUMNS`, one row per image, sorted by ``image_id``:
        ``annotators``, ``cells``, ``expected_missed``, ``expected_label_errors``,
        ``cells_in_doubt`` (the summed doubt about cells being real),
        ``expected_errors`` (their sum) and ``gain`` (expected errors one more
        annotator would remove).

    Examples
    --------
    >>> from cellconsensus import find_consensus, make_truth, simulate_crowd
    >>> result = find_consensus(simulate_crowd(make_truth(10, seed=0), 3, seed=0))
    >>> table = image_uncertainty(result)
    >>> bool((table["gain"] <= table["expected_errors"] + 1e-12).all())
    True
    """
    rates = rates or crowd_rates(result, runs)
    pairs = _annotators_per_image(result, runs)
    detection = pairs["annotator_id"].map(rates.detection).fillna(rates.new_detection)
    log_miss = np.log1p(-detection.clip(upper=1 - 1e-9).to_numpy())
    miss = np.exp(pd.Series(log_miss).groupby(pairs["image_id"].to_numpy()).sum())
    ids = sorted(set(pairs["image_id"]) | {str(i) for i in (image_ids or [])})
    table = pd.DataFrame(index=pd.Index(ids, name="image_id"))
    table["annotators"] = pairs.groupby("image_id").size().reindex(ids, fill_value=0)
    cells = result.cells
    cell_image = cells["image_id"].astype(str).to_numpy()
    table["cells"] = pd.Series(cell_image).value_counts().reindex(ids, fill_value=0)
    m = miss.reindex(ids).fillna(1.0).to_numpy()
    seen = table["annotators"].to_numpy() > 0
    # Cells found; on a lone volunteer's image their clicks (the support rule may have
    # dropped their cells).
    a = result.assignments
    counted = a[a["status"].isin(["cell", "filtered"])]
    clicks = counted["image_id"].astype(str).value_counts().reindex(ids, fill_value=0)
    lone = table["annotators"].to_numpy() == 1
    found = np.where(lone, np.maximum(table["cells"], clicks), table["cells"]).astype(float)
    missed = expected_missed(found, m, seen)
    table["expected_missed"] = missed

    d, q = rates.new_detection, rates.accuracy
    if len(cells):
        proba = class_proba(cells, cells_vocabulary(cells))
        error = 1.0 - proba.max(axis=1)
        error_after = d * _label_error_after_vote(proba, q) + (1 - d) * error
        p_real = cells["p_real"].to_numpy(float) if "p_real" in cells else np.ones(len(cells))
        doubt = np.minimum(p_real, 1 - p_real)
        doubt_after = _doubt_after_click(p_real, d, rates.stray)
    else:
        error = error_after = doubt = doubt_after = np.zeros(0)
    by_image = pd.DataFrame({"image_id": cell_image, "error": error, "error_after": error_after,
                             "doubt": doubt, "doubt_after": doubt_after}).groupby("image_id").sum()  # fmt: skip
    by_image = by_image.reindex(ids, fill_value=0.0)
    table["expected_label_errors"] = by_image["error"]
    table["cells_in_doubt"] = by_image["doubt"]
    table["expected_errors"] = missed + by_image["error"] + by_image["doubt"]
    gain = (missed * d + (by_image["error"] - by_image["error_after"])
            + (by_image["doubt"] - by_image["doubt_after"]))  # fmt: skip
    table["gain"] = np.clip(gain, 0.0, table["expected_errors"])
    return table.reset_index()[list(UNCERTAINTY_COLUMNS)]
