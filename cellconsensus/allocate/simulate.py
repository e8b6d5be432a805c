"""An online allocation loop on a simulated crowd: how far each policy gets per click.

Every image has a queue of ``pool`` simulated volunteers
(:func:`~cellconsensus.simulate_crowd`, in the order they would arrive). The loop
starts with the first ``start`` of each queue, then repeatedly runs the consensus
on what has been revealed, scores it against the truth, and lets a *policy* choose
which images get their next volunteers (``batch`` runs per round):

- ``"uniform"``: the images with the fewest volunteers first (fixed redundancy, as
  PyBossa's ``n_answers`` or Zooniverse's classification-count retirement);
- ``"agreement"``: the same, but an image *retires* once at least two volunteers
  agree on it completely (the same number of cells, every cell clicked by all of
  them with one label): Zooniverse-style retirement by agreement;
- ``"ours"``: :func:`~cellconsensus.allocate.next_tasks` (expected errors removed
  per run), capped by the volunteers left in each queue (a batch left over where
  nothing is expected to be gained goes to the fewest-annotated images);
- ``"oracle"``: knows the truth and sends one more volunteer to each image whose
  consensus holds an error now, most errors first (the rest of a batch to the
  fewest-annotated images): no project can run it; it shows how much any policy
  choosing whole images could save on the same crowd.

Each round records the clicks and runs spent, the consensus's detection F1 and
label accuracy, and for ``"ours"`` the expected gain of the batch it chose beside
the errors the batch actually removed (the calibration of the predicted gain).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from ..consensus import find_consensus
from ..metrics import score
from ..report.rankings import errors_per_image
from ..simulate import simulate_crowd
from .plan import next_tasks

__all__ = ["POLICIES", "simulate_allocation", "reveal", "errors_of"]

#: The allocation policies of :func:`simulate_allocation`.
POLICIES: tuple[str, ...] = ("uniform", "agreement", "ours", "oracle")


def reveal(clicks: pd.DataFrame, queues: pd.DataFrame, revealed: pd.Series) -> pd.DataFrame:
    """The clicks (and runs, in ``attrs["runs"]``) of the first ``revealed[image]``
    volunteers of each image's queue (``queues``: ``image_id, annotator_id, position``)."""
    seen = queues[queues["position"] < queues["image_id"].map(revealed).fillna(0)]
    key = clicks["image_id"].astype(str) + "\0" + clicks["annotator_id"].astype(str)
    keep = key.isin(set(seen["image_id"].astype(str) + "\0" + seen["annotator_id"].astype(str)))
    part = clicks[keep.to_numpy()].reset_index(drop=True)
    part.attrs = {k: v for k, v in clicks.attrs.items() if k != "runs"}
    part.attrs["runs"] = seen[["image_id", "annotator_id"]].reset_index(drop=True)
    return part


def errors_of(cells: pd.DataFrame, truth: pd.DataFrame) -> tuple[float, float, float, int]:
    """Detection F1, label accuracy and balanced label accuracy against the truth, and the
    number of errors (true cells missed, extra cells, wrong labels)."""
    s = score(cells, truth)
    wrong = round((1 - s.label_accuracy) * s.tp) if s.tp else 0
    return s.f1, s.label_accuracy, s.balanced_label_accuracy, int(s.fn + s.fp + wrong)


def _agreed(result, counts: pd.Series) -> pd.Series:
    """Images where every volunteer clicked every cell with one label (two volunteers or
    more, and no stray click)."""
    a = result.assignments
    image = a["image_id"].astype(str)
    stray = (a["cell_id"] < 0).groupby(image).any()
    cells = result.cells
    key = cells["image_id"].astype(str)
    full = cells["n_annotators"].to_numpy() == key.map(counts).to_numpy()
    voted = a[a["cell_id"] >= 0]
    one_label = voted.groupby([voted["image_id"].astype(str), voted["cell_id"]])["label"].nunique()
    unanimous = (one_label <= 1).groupby(level=0).all()
    complete = pd.Series(full, index=key.to_numpy()).groupby(level=0).all()
    agreed = pd.DataFrame({"complete": complete, "unanimous": unanimous}).reindex(counts.index)
    agreed = agreed.fillna(True).all(axis=1) & ~stray.reindex(counts.index, fill_value=False)
    return agreed & (counts >= 2)


def _fewest_first(revealed: pd.Series, room: pd.Series, batch: int) -> pd.Series:
    """``batch`` runs to the images with the fewest volunteers (and volunteers left)."""
    extra = pd.Series(0, index=revealed.index)
    current = revealed.copy()
    left = room.copy()
    for _ in range(batch):
        open_ = left > 0
        if not open_.any():
            break
        image = current[open_].sort_values(kind="stable").index[0]
        extra[image] += 1
        current[image] += 1
        left[image] -= 1
    return extra


def _in_error(result, truth: pd.DataFrame, room: pd.Series, batch: int) -> pd.Series:
    """One run to each image whose consensus holds an error (most errors first), at most
    ``batch``, only where volunteers are left."""
    table = errors_per_image(result.cells, truth).set_index("image_id")
    errors = table["errors"].reindex(room.index, fill_value=0)
    wrong = errors[(errors > 0) & (room > 0)].sort_values(ascending=False, kind="stable")
    return pd.Series(1, index=wrong.index[:batch]).reindex(room.index, fill_value=0)


def simulate_allocation(
    truth: pd.DataFrame,
    policy: Literal["uniform", "agreement", "ours", "oracle"],
    *,
    start: int = 1,
    batch: int | None = None,
    budget_runs: int | None = None,
    pool: int = 10,
    seed: int = 0,
    crowd: dict | None = None,
    consensus: dict | None = None,
    detections: pd.DataFrame | None = None,
    tasks: dict | None = None,
) -> pd.DataFrame:
    """Run the allocation loop of the module's description.

    Parameters
    ----------
    truth : DataFrame
        Ground-truth cells (``image_id, x, y, label`` ...; ``attrs["image_ids"]`` for
        images without cells).
    policy : {"uniform", "agreement", "ours", "oracle"}
        Who chooses the images of each batch.
    start : int, default 1
        Volunteers per image before the first allocation.
    batch : int, optional
        Runs per round (default: a tenth of the images, at least 1).
    budget_runs : int, optional
        Stop once this many runs are spent (default: every queue revealed).
    pool : int, default 10
        Volunteers in each image's queue.
    seed : int, default 0
        Seeds the crowd.
    crowd : dict, optional
        More arguments of :func:`~cellconsensus.simulate_crowd`.
    consensus : dict, optional
        Arguments of :func:`~cellconsensus.find_consensus`.
    detections : DataFrame, optional
        An automatic detector's cells on these images, for ``"ours"`` (see
        :func:`~cellconsensus.allocate.next_tasks`).
    tasks : dict, optional
        More arguments of :func:`~cellconsensus.allocate.next_tasks` for ``"ours"``
        (e.g. ``{"cost": "clicks"}``).

    Returns
    -------
    DataFrame
        One row per round: ``round``, ``runs``, ``clicks`` (spent so far), ``f1``,
        ``label_accuracy``, ``balanced_label_accuracy``, ``errors``, ``retired``
        (images no policy may send more to), and ``predicted_gain`` (expected errors
        the round's batch removes; ``"ours"`` only) beside ``realised_gain`` (errors
        before the batch minus after).

    Examples
    --------
    >>> from cellconsensus import make_truth
    >>> rounds = simulate_allocation(make_truth(6, seed=0), "uniform", pool=3, batch=6)
    >>> rounds["runs"].tolist()
    [6, 12, 18]
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    if not 1 <= start <= pool:
        raise ValueError(f"start must be between 1 and pool ({pool}), got {start}")
    clicks = simulate_crowd(truth, pool, seed=seed, **(crowd or {}))
    queues = clicks.attrs["runs"].astype(str).copy()
    queues["position"] = queues.groupby("image_id").cumcount()
    images = pd.Index(sorted(queues["image_id"].unique()))
    revealed = pd.Series(start, index=images)
    batch = batch or max(1, len(images) // 10)
    retired = pd.Series(False, index=images)
    rounds = []
    predicted = np.nan
    previous_errors = None
    while True:
        part = reveal(clicks, queues, revealed)
        result = find_consensus(part, **(consensus or {}))
        f1, accuracy, balanced, errors = errors_of(result.cells, truth)
        if previous_errors is not None:
            rounds[-1]["realised_gain"] = previous_errors - errors
        rounds.append({"round": len(rounds), "runs": int(revealed.sum()), "clicks": len(part),
                       "f1": f1, "label_accuracy": accuracy, "balanced_label_accuracy": balanced,
                       "errors": errors, "retired": int(retired.sum()),
                       "predicted_gain": np.nan, "realised_gain": np.nan})  # fmt: skip
        room = (pool - revealed).where(~retired, 0)
        if room.sum() == 0 or (budget_runs is not None and revealed.sum() >= budget_runs):
            break
        step = min(batch, int(room.sum()))
        if budget_runs is not None:
            step = min(step, int(budget_runs - revealed.sum()))
        if policy == "ours":
            plan = next_tasks(result, step, runs=part.attrs["runs"], image_ids=list(images),
                              max_per_image=room.to_dict(),
                              detections=detections,
                              **(tasks or {})).set_index("image_id")  # fmt: skip
            extra = plan["extra"].reindex(images, fill_value=0)
            predicted = float(plan["expected_gain"].sum())
            if extra.sum() < step:  # nothing left to gain anywhere: spend the rest evenly
                extra += _fewest_first(revealed + extra, room - extra, step - int(extra.sum()))
        elif policy == "oracle":
            extra = _in_error(result, truth, room, step)
            extra += _fewest_first(revealed + extra, room - extra, step - int(extra.sum()))
        else:
            if policy == "agreement":
                retired |= _agreed(result, revealed)
                room = room.where(~retired, 0)
                if room.sum() == 0:
                    break
            extra = _fewest_first(revealed, room, step)
        rounds[-1]["predicted_gain"] = predicted if policy == "ours" else np.nan
        previous_errors = errors
        revealed = revealed + extra
    return pd.DataFrame(rounds)
