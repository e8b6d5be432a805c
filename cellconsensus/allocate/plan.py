"""Where the next annotators go: a budget spread over images by expected gain.

The ``k``-th extra annotator on an image is taken to remove the same share of what
is left of its expected errors as the first one would
(:func:`~cellconsensus.allocate.uncertainty.image_uncertainty`): gains
``g, g r, g r^2, ...`` with ``r = 1 - g / E`` (``E`` the image's expected errors).
Detection errors (cells missed, cells in doubt) count :data:`DETECTION_WEIGHT`
times a wrong label in this ranking (not in the gains reported): a project wants
its cells found *and* labelled, and detection errors are the ones a few extra
volunteers leave behind.
The budget counts runs, and each run goes where it removes most (``cost="runs"``).
Where a project counts its volunteers' clicks instead, ``cost="clicks"`` ranks a run by
what it removes *per click* it costs: the next volunteer looks at the image's cells,
found and expected missed, plus :data:`RUN_OVERHEAD` for opening it (a run on an image
of 30 cells costs 31 clicks, one on an image of 3 costs 4, so the first gets a
volunteer before the second only where that volunteer removes about eight times as
much).
The budget goes to the largest gains over all images (the greedy allocation, exact
for such diminishing returns), found by bisecting on the smallest gain bought, so
ranking 100,000 images takes a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .detector_evidence import DetectorRates
from .uncertainty import CrowdRates, image_uncertainty

__all__ = [
    "next_tasks",
    "allocate_budget",
    "NEXT_TASK_COLUMNS",
    "RETIRE_BELOW",
    "DETECTION_WEIGHT",
    "RUN_OVERHEAD",
    "COSTS",
]

#: Columns of :func:`next_tasks`, in order.
NEXT_TASK_COLUMNS: tuple[str, ...] = (
    "image_id",
    "annotators",
    "extra",
    "expected_gain",
    "next_gain",
    "expected_errors",
    "retire",
)
#: An image whose next annotator would remove fewer expected errors than this, and gets
#: none, is marked to retire. Measured (``benchmarks/allocation.py``, 3 volunteers per
#: image on LDC and synthetic crowds, 8 seeds): 0.05 retires 51 % of the images, 4.0 %
#: of them still holding an error (5.5 of 91.5 errors); 0.01 retires 38 % (1.3 %), 0.1
#: retires 55 % (6.3 %), 0.2 retires 64 % (9.9 %): the largest threshold that keeps
#: wrongly retired images under one in twenty.
RETIRE_BELOW = 0.05
#: How many wrong labels a detection error (a cell missed or in doubt) counts for when
#: ranking images. Measured last with a lone volunteer's cell credited with two more
#: volunteers (``benchmarks/allocation.py``'s setting: 300 LDC and 300 synthetic images,
#: 8 seeds; the clicks saved to reach uniform 5-per-image redundancy's F1 and label
#: accuracy, medians, and the errors against uniform's at the same clicks, means, LDC /
#: synthetic): with a detector's cells, weight 2: 38 / 30 %, 0.413 / 0.461; 3: 35 / 31 %,
#: 0.405 / 0.470; 4: 36 / 29 %, 0.417 / 0.489; 6: 36 / 29 %, 0.430 / 0.506; without one,
#: 2: 17 / -2 %, 0.643 / 0.754; 3: 19 / 8 %, 0.637 / 0.762; 4: 21 / 6 %, 0.642 / 0.763; 8:
#: 21 / 12 %, 0.678 / 0.787. Less weight leaves fewer errors; without a detector too
#: little lets detection lag (on 3 seeds, weight 1: 7 / -3 %). 3 leaves the fewest errors
#: with a detector, as few as any without, and reaches the joint target as soon.
DETECTION_WEIGHT = 3.0
#: What a run costs, in clicks, beyond the cells on its image (``cost="clicks"``): the
#: effort of opening an image and finding nothing. Measured (``benchmarks/allocation.py``'s
#: setting, 8 seeds, LDC / synthetic; errors against uniform redundancy's at the same
#: clicks, mean over the budget up to uniform-5's clicks): ranking per run 0.667 / 0.770;
#: per click with an overhead of 0.3: 0.653 / 0.740, 1: 0.641 / 0.738, 3: 0.650 / 0.737
#: (seed by seed 1 against per run: -0.026 +- 0.005 / -0.032 +- 0.009). Again with the
#: two-vote credit of labels (``uncertainty``): 0.3 / 1 / 3: 0.621 / 0.729, 0.614 / 0.732,
#: 0.616 / 0.736, flat. Counted in runs instead, ranking per click does worse (errors
#: against uniform's at the same runs 0.572 / 0.684, per run 0.543 / 0.573 before the
#: two-vote credit): it sends volunteers to images with few cells, cheap in clicks.
RUN_OVERHEAD = 1.0
#: What :func:`next_tasks` ranks runs by: the errors they remove per run (``"runs"``, the
#: default: the budget counts runs) or per click they cost (``"clicks"``: the cells a run
#: looks at, plus :data:`RUN_OVERHEAD`).
COSTS: tuple[str, ...] = ("runs", "clicks")


def _counts(gain: np.ndarray, ratio: np.ndarray, cut: float, cap: np.ndarray) -> np.ndarray:
    """How many terms of each sequence ``gain * ratio**j`` are at least ``cut`` (capped)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # ratio 0: one term; ratio 1: every term (up to the cap).
        log_ratio = np.log(np.clip(ratio, 1e-300, 1.0))
        terms = np.where(ratio > 0, 1 + np.floor(np.log(cut / gain) / log_ratio), 1.0)
        terms = np.where(log_ratio == 0, np.inf, terms)  # a ratio of 1 (to rounding)
    terms = np.where(gain >= cut, terms, 0.0)
    terms = np.nan_to_num(terms, nan=0.0, posinf=np.inf, neginf=0.0)
    return np.clip(terms, 0, cap).astype(np.int64)


def allocate_budget(
    gain: np.ndarray, errors: np.ndarray, budget: int, cap: int | np.ndarray | None = None
) -> np.ndarray:
    """Extra annotators per image: the ``budget`` largest gains of the sequences
    ``gain * r**j`` (``r = 1 - gain / errors``), at most ``cap`` per image (a number, or
    one per image).

    Ties are broken by the order of the images (the earlier first).

    Examples
    --------
    >>> allocate_budget(np.array([1.0, 0.5, 0.1]), np.array([2.0, 0.5, 1.0]), 3).tolist()
    [2, 1, 0]
    """
    gain = np.asarray(gain, dtype=float)
    errors = np.asarray(errors, dtype=float)
    if budget < 0:
        raise ValueError(f"budget must be a non-negative integer, got {budget}")
    n = len(gain)
    limit = np.minimum(np.broadcast_to(budget if cap is None else cap, n), budget).astype(np.int64)
    useful = gain > 0
    if budget == 0 or not useful.any():
        return np.zeros(n, np.int64)
    ratio = np.where(errors > 0, np.clip(1 - gain / np.where(errors > 0, errors, 1), 0, 1), 0)
    tiny = np.nextafter(0, 1)
    if _counts(gain, ratio, tiny, limit).sum() <= budget:
        return _counts(gain, ratio, tiny, limit) * useful
    # Bisect (in log space: gains span many decades) on the smallest gain bought.
    low, high = np.log(1e-300), np.log(float(gain.max())) + 1.0  # nothing is bought at high
    for _ in range(100):
        mid = (low + high) / 2
        if _counts(gain, ratio, np.exp(mid), limit).sum() > budget:
            low = mid
        else:
            high = mid
        if high - low <= 1e-12:
            break
    extra = _counts(gain, ratio, np.exp(high), limit)
    while (left := budget - int(extra.sum())) > 0:
        # The terms just below the cut, largest first (earlier images on ties).
        following = np.where(extra < limit, gain * ratio**extra, 0.0)
        order = np.lexsort((np.arange(n), -following))[:left]
        order = order[following[order] > 0]
        if not len(order):
            break
        extra[order] += 1
    return extra


def _caps(max_per_image, image_ids: pd.Series) -> np.ndarray | int | None:
    """The per-image cap of :func:`next_tasks` as :func:`allocate_budget` takes it."""
    if max_per_image is None:
        return None
    if isinstance(max_per_image, Mapping):
        caps = image_ids.astype(str).map({str(k): v for k, v in max_per_image.items()})
        caps = caps.fillna(0).to_numpy()
        if (caps < 0).any():
            raise ValueError("max_per_image must not be negative")
        return caps.astype(np.int64)
    if not isinstance(max_per_image, int | np.integer) or max_per_image < 1:
        raise ValueError(f"max_per_image must be a positive integer, got {max_per_image!r}")
    return int(max_per_image)


def next_tasks(
    result,
    budget: int,
    *,
    runs: pd.DataFrame | None = None,
    image_ids=None,
    max_per_image: int | Mapping[str, int] | None = None,
    retire_below: float = RETIRE_BELOW,
    detection_weight: float = DETECTION_WEIGHT,
    cost: str = "runs",
    rates: CrowdRates | None = None,
    detections: pd.DataFrame | None = None,
    detector: DetectorRates | None = None,
) -> pd.DataFrame:
    """The next ``budget`` annotator runs, spread over the images where they buy most.

    Parameters
    ----------
    result : Consensus
        From :func:`~cellconsensus.find_consensus`.
    budget : int
        Annotator runs (one annotator on one image) to send.
    runs, image_ids, rates, detections, detector
        See :func:`~cellconsensus.allocate.image_uncertainty` (pass every image of the
        project as ``image_ids`` to include those nobody has annotated; an automatic
        detector's cells as ``detections`` to find the images where the crowd is
        probably wrong).
    max_per_image : int or mapping, optional
        At most this many extra annotators per image (or ``image_id -> most``, e.g. the
        volunteers left who have not seen it; an image not listed gets none).
    retire_below : float, default :data:`RETIRE_BELOW`
        An image that gets no extra annotator and whose next one would remove fewer
        expected errors than this is marked ``retire``.
    detection_weight : float, default :data:`DETECTION_WEIGHT`
        How many wrong labels a detection error counts for in the ranking (1: all
        errors alike).
    cost : {"runs", "clicks"}, default "runs"
        Rank runs by the expected errors they remove per run, or per click they cost
        (the image's cells, found and expected missed, plus :data:`RUN_OVERHEAD`): for a
        project that counts its volunteers' clicks rather than their runs.

    Returns
    -------
    DataFrame
        :data:`NEXT_TASK_COLUMNS`, one row per image: ``annotators`` so far,
        ``extra`` to send, ``expected_gain`` (expected errors those extras remove),
        ``next_gain`` (what one more than ``extra`` would), ``expected_errors`` now,
        ``retire``; ranked by ``extra``, then ``expected_gain`` (highest first), then
        ``image_id``.

    Examples
    --------
    >>> from cellconsensus import find_consensus, make_truth, simulate_crowd
    >>> result = find_consensus(simulate_crowd(make_truth(20, seed=0), 2, seed=0))
    >>> plan = next_tasks(result, budget=10)
    >>> int(plan["extra"].sum())
    10
    """
    if not isinstance(budget, int | np.integer) or budget < 0:
        raise ValueError(f"budget must be a non-negative integer, got {budget!r}")
    if not (np.isfinite(detection_weight) and detection_weight > 0):
        raise ValueError(f"detection_weight must be a positive number, got {detection_weight!r}")
    if cost not in COSTS:
        raise ValueError(f"cost must be one of {COSTS}, got {cost!r}")
    table = image_uncertainty(result, runs=runs, image_ids=image_ids, rates=rates,
                              detections=detections, detector=detector)  # fmt: skip
    gain, errors = table["gain"].to_numpy(), table["expected_errors"].to_numpy()
    # The ranking's units: a detection error counts detection_weight wrong labels.
    detection = table["detection_gain"].to_numpy()
    priority = gain + (detection_weight - 1) * detection
    weighted = errors + (detection_weight - 1) * (
        table["expected_missed"].to_numpy() + table["cells_in_doubt"].to_numpy()
    )
    if cost == "clicks":  # what a run removes per click it costs; the ratio r unchanged
        clicks = table["cells"].to_numpy() + table["expected_missed"].to_numpy() + RUN_OVERHEAD
        priority, weighted = priority / clicks, weighted / clicks
    extra = allocate_budget(priority, weighted, int(budget),
                            _caps(max_per_image, table["image_id"]))  # fmt: skip
    ratio = np.where(weighted > 0, 1 - priority / np.where(weighted > 0, weighted, 1), 0)
    ratio = np.clip(ratio, 0.0, 1.0)
    # The sum of g r^j for j < extra (in errors, not the ranking's units), and the term after.
    bought = np.where(ratio < 1, gain * (1 - ratio**extra) / np.where(ratio < 1, 1 - ratio, 1),
                      gain * extra)  # fmt: skip
    out = pd.DataFrame(
        {
            "image_id": table["image_id"],
            "annotators": table["annotators"],
            "extra": extra,
            "expected_gain": bought,
            "next_gain": gain * ratio**extra,
            "expected_errors": errors,
        }
    )
    out["retire"] = (out["extra"] == 0) & (out["next_gain"] < retire_below)
    order = np.lexsort((out["image_id"].to_numpy(), -out["expected_gain"].to_numpy(),
                        -out["extra"].to_numpy()))  # fmt: skip
    return out.iloc[order].reset_index(drop=True)[list(NEXT_TASK_COLUMNS)]
