"""The seed thesis' fixed-radius merge (R = 35 px), reproduced with its quirks."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real

import numpy as np
import pandas as pd

from ..clustering import ClickArrays, DraftCells
from ..params import Interval
from ..tables import LABEL_VALUES
from ._base import BaseStrategy

__all__ = ["ThesisRadiusStrategy"]


class ThesisRadiusStrategy(BaseStrategy):
    """The Cell Spotting thesis' merge rule, exactly as its code runs, for comparison only.

    For each image, with its task runs taken in export order and ``n`` the
    number of runs on the image (runs without clicks included), label values
    alive 1, dead 0, unsure 0.5:

    1. **One run**: every click passes through as a cell at its position,
       scored by its label value.
    2. **Runs with different numbers of clicks**: the image yields *no cell
       at all* (the thesis code returns the integer 1, meaning empty, when
       annotators clicked different numbers of cells, even if one of them
       just missed one).
    3. **Otherwise**: start from the first run's ``[value, x, y]`` rows times
       ``1 / n``; then for every *later* run, every first-run click ``i`` and
       every click ``j`` of that run strictly closer than ``radius`` to ``i``,
       add ``[value_j, x_j, y_j] / n`` to row ``i``. Every first-run click
       becomes one cell at the row's ``(x, y)``, scored by the row's value.

    The thesis code skips a run when it compares ``==`` to the first run's
    list; at that point the first run's labels are already numbers and the
    other runs' are still strings, so only the first run itself is skipped
    (a later run with the very same clicks is added). The quirks this keeps:
    a cell's position is a weighted *sum*, not a mean (a click nobody else
    saw is pulled toward the origin, to ``1 / n`` of its coordinates; two
    matches in one run push it outwards); its score can exceed 1; a click
    further than ``radius`` from every first-run click is lost; every
    first-run click becomes a cell, so no ``min_support`` /
    ``min_annotators`` filter applies to this strategy.

    The cell's ``p_alive`` is the score clipped to [0, 1]; the raw score is
    kept in the extra column ``thesis_score``. ``n_annotators`` counts the runs
    with a click strictly within ``radius`` of the first-run click (the first
    run included), ``support`` divides that by ``n``, ``spread`` is the RMS
    distance of those clicks to the first-run click. In the click assignments
    each later click goes to the nearest first-run click within ``radius``.
    A run is a ``run_id`` when the input has one, else an annotator. This
    strategy computes its own label scores, so the ``labels`` argument of
    :func:`~cellconsensus.find_consensus` does not apply to it: it overrides
    :meth:`make_cells` with a final, labelled draft. ``fit_predict`` gives the
    cell each click was merged into (-1: none), taking the rows in the order
    given and each annotator as one run.

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
    [[11.0, 10.0, 1.0], [102.0, 100.0, 0.5]]
    """

    name = "radius-thesis"
    _parameter_constraints = {"radius": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, *, radius: float = 35.0) -> None:
        self.radius = radius

    def make_cells(
        self, clicks: ClickArrays, *, n_jobs: int = 1, progress: bool = False
    ) -> DraftCells:
        """The thesis' cells and label scores, as a final draft (no support rule, no label
        model); ``n_jobs`` and ``progress`` do not apply (the rule is one pass)."""
        images, empty = clicks.codes.images, clicks.empty
        raw, assigned = self.fit_cells(
            clicks.table, dict(zip(images[empty > 0], empty[empty > 0], strict=True))
        )
        return DraftCells(
            cid=assigned,
            taken_out=np.zeros(len(assigned), bool),
            stats={k: raw[k].to_numpy() for k in ("x", "y", "n_annotators", "support", "spread")},
            cell_image=pd.Index(images).get_indexer(raw["image_id"]).astype(np.int64),
            final=True,
            p_alive=raw["p_alive"].to_numpy(dtype="float64"),
            extra={"thesis_score": raw["thesis_score"].to_numpy()},
        )

    def fit_predict_batch(
        self, X: np.ndarray, image_index: np.ndarray, annotators: np.ndarray
    ) -> np.ndarray:
        """The cell each click was merged into (-1: none); rows in the order given, each
        annotator one run. Ids are unique across images."""
        clicks = pd.DataFrame(
            {
                "image_id": np.asarray(image_index),
                "annotator_id": np.asarray(annotators),
                "x": np.asarray(X, dtype="float64")[:, 0],
                "y": np.asarray(X, dtype="float64")[:, 1],
                "label": "alive",
            }
        )
        return self.fit_cells(clicks)[1]

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
            in ``n``); see :func:`~cellconsensus.tables.count_runs`.

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
        run_codes = pd.factorize(run_key)[0]
        values = clicks["label"].astype(object).map(LABEL_VALUES).to_numpy(dtype="float64")
        xy = clicks[["x", "y"]].to_numpy(dtype="float64")
        extra_runs = dict(empty_runs or {})
        assignment = np.full(len(clicks), -1, np.int64)
        parts: list[tuple] = []
        n_rows = 0
        groups = pd.Series(np.arange(len(clicks))).groupby(
            clicks["image_id"].to_numpy(), sort=False
        )
        for image_id, positions in groups:
            idx = positions.to_numpy()
            keys = run_codes[idx]
            run_order = pd.unique(keys)
            counts = [int(np.sum(keys == k)) for k in run_order] + [0] * extra_runs.get(image_id, 0)
            n = len(counts)
            if n > 1 and len(set(counts)) > 1:
                continue  # quirk: annotators disagree on the number of cells -> no cell
            is_first = keys == run_order[0]
            first, later = idx[is_first], idx[~is_first]
            # Later-run clicks strictly within R of each first-run click (rows: first run).
            dist = np.hypot(*(xy[first][:, None, :] - xy[later][None, :, :]).transpose(2, 0, 1))
            within = dist < radius
            row = np.column_stack([values[first], xy[first]]) / n
            row += within.astype("float64") @ np.column_stack([values[later], xy[later]]) / n
            runs_near = np.array([len(np.unique(keys[~is_first][w])) for w in within], np.int64) + 1
            matched = within.sum(axis=1) + 1  # the first-run click itself, at distance 0
            spread = np.sqrt((np.where(within, dist, 0.0) ** 2).sum(axis=1) / matched)
            assignment[first] = n_rows + np.arange(len(first))
            hit = within.any(axis=0)
            nearest = np.where(within, dist, np.inf).argmin(axis=0)
            assignment[later[hit]] = n_rows + nearest[hit]
            parts.append((image_id, row, runs_near, n, spread))
            n_rows += len(first)
        cells = pd.DataFrame(
            {
                "image_id": pd.Series(
                    [p[0] for p in parts for _ in range(len(p[1]))], dtype=object
                ),
                "x": _concat([p[1][:, 1] for p in parts]),
                "y": _concat([p[1][:, 2] for p in parts]),
                "n_annotators": _concat([p[2] for p in parts]).astype(np.int64),
                "support": _concat([p[2] / p[3] for p in parts]),
                "thesis_score": _concat([p[1][:, 0] for p in parts]),
                "spread": _concat([p[4] for p in parts]),
            }
        )
        cells["p_alive"] = cells["thesis_score"].clip(0.0, 1.0)
        return cells, assignment


def _concat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros(0)
