"""The seed thesis' fixed-radius merge (R = 35 px), reproduced with its quirks."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real

import numpy as np
import pandas as pd

from ..tables import LABEL_VALUES
from ._base import BaseStrategy
from ._validation import Interval

__all__ = ["ThesisRadiusStrategy"]


class ThesisRadiusStrategy(BaseStrategy):
    """The Cell Spotting thesis' merge rule, quirks included, for comparison only.

    For each image, with its task runs taken in export order:

    1. **One run**: every click passes through as a cell with the click's
       label value (alive 1, dead 0, unsure 0.5).
    2. **Runs with different numbers of clicks**: the image yields *no cell
       at all* (quirk: the thesis only merged images where every annotator
       clicked the same number of cells, even if one of them just missed one).
    3. **Otherwise**: for every click ``c`` of the *first* run, one cell at
       ``c``'s position (quirk: not the mean of the merged clicks) whose score
       is the sum of the label values of *every* click within ``radius`` of
       ``c`` (``<=``, all runs, ``c`` itself included), each weighted
       ``1 / n_runs``. Quirks: a click near two first-run clicks counts for
       both; two clicks of one run near ``c`` both count, so the score can
       exceed 1; a click further than R from every first-run click is lost;
       a first-run click nobody else saw still becomes a cell.

    The cell's ``p_alive`` is the score clipped to [0, 1]; the raw score is
    kept in the extra column ``thesis_score``. ``n_annotators`` counts the runs
    with a click within R, ``support`` divides that by the image's runs,
    ``spread`` is the RMS distance of those clicks to ``c``. In the click
    assignments each click goes to the nearest first-run click within R.
    A run is a ``run_id`` when the input has one, else an annotator. This
    strategy computes its own label scores, so the ``labels`` argument of
    :func:`~cellconsensus.find_consensus` does not apply to it.

    Parameters
    ----------
    radius : float, default 35.0
        The thesis' R, in pixels of the 524 x 391 Cell Spotting canvas.

    Attributes
    ----------
    name : str
        ``"radius-thesis"``.

    Examples
    --------
    >>> import pandas as pd
    >>> clicks = pd.DataFrame({"image_id": ["a"] * 4, "annotator_id": ["u1", "u1", "u2", "u2"],
    ...     "x": [10.0, 100, 12, 104], "y": [10.0, 100, 10, 100],
    ...     "label": ["alive", "dead", "alive", "alive"]})
    >>> cells, _ = ThesisRadiusStrategy().fit_cells(clicks)
    >>> cells[["x", "y", "thesis_score"]].values.tolist()
    [[10.0, 10.0, 1.0], [100.0, 100.0, 0.5]]
    """

    name = "radius-thesis"
    defines_cells = True
    _parameter_constraints = {"radius": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, *, radius: float = 35.0) -> None:
        self.radius = radius

    def fit_cells(
        self, clicks: pd.DataFrame, empty_runs: Mapping[str, int] | None = None
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """Apply the thesis rule to a Clicks table in export order.

        Parameters
        ----------
        clicks : DataFrame
            Clicks table (``run_id`` used when present).
        empty_runs : mapping, optional
            Image id -> number of runs on it without any click (they count
            in ``n_runs``); see :func:`~cellconsensus.tables.count_runs`.

        Returns
        -------
        cells : DataFrame
            ``image_id, x, y, n_annotators, support, p_alive, spread, thesis_score``.
        assignment : ndarray of int
            For each click (in input order), the row of ``cells`` it was
            merged into, or -1.
        """
        self._validate_params()
        radius = float(self.radius)
        run_key = clicks["run_id"] if "run_id" in clicks.columns else clicks["annotator_id"]
        values = clicks["label"].astype(object).map(LABEL_VALUES).to_numpy(dtype="float64")
        xy = clicks[["x", "y"]].to_numpy(dtype="float64")
        extra_runs = dict(empty_runs or {})
        assignment = np.full(len(clicks), -1, np.int64)
        rows: list[tuple] = []
        groups = pd.Series(np.arange(len(clicks))).groupby(
            clicks["image_id"].to_numpy(), sort=False
        )
        for image_id, positions in groups:
            idx = positions.to_numpy()
            keys = run_key.to_numpy()[idx]
            run_order = list(dict.fromkeys(keys))
            counts = [int(np.sum(keys == k)) for k in run_order] + [0] * extra_runs.get(image_id, 0)
            n_runs = len(counts)
            if n_runs == 1:
                for i in idx:
                    assignment[i] = len(rows)
                    rows.append((image_id, xy[i, 0], xy[i, 1], 1, 1.0, values[i], 0.0))
                continue
            if len(set(counts)) > 1:
                continue  # quirk: annotators disagree on the number of cells -> no cell
            first = idx[keys == run_order[0]]
            dist = np.hypot(*(xy[first][:, None, :] - xy[idx][None, :, :]).transpose(2, 0, 1))
            within = dist <= radius
            nearest = np.where(within, dist, np.inf).argmin(axis=0)
            has = within.any(axis=0)
            for r, i in enumerate(first):
                w = within[r]
                rows.append(
                    (
                        image_id,
                        xy[i, 0],
                        xy[i, 1],
                        len(set(keys[w])),
                        len(set(keys[w])) / n_runs,
                        values[idx][w].sum() / n_runs,
                        float(np.sqrt(np.mean(dist[r][w] ** 2))),
                    )
                )
            assignment[idx[has]] = len(rows) - len(first) + nearest[has]
        cells = pd.DataFrame(
            rows,
            columns=["image_id", "x", "y", "n_annotators", "support", "thesis_score", "spread"],
        )
        cells["image_id"] = cells["image_id"].astype(object)
        cells["n_annotators"] = cells["n_annotators"].astype(np.int64)
        cells["p_alive"] = cells["thesis_score"].clip(0.0, 1.0)
        return cells, assignment
