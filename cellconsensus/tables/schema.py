"""The names and types of the tables: labels, columns, canvas policies, a reader's report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "LABELS",
    "LABEL_DTYPE",
    "LABEL_VALUES",
    "CLICK_COLUMNS",
    "CELL_COLUMNS",
    "TRUTH_REQUIRED",
    "OutOfCanvas",
    "OUT_OF_CANVAS_POLICIES",
    "InputReport",
    "empty_clicks",
    "label_codes",
]

#: The three labels of the Clicks and Cells tables.
LABELS: tuple[str, ...] = ("alive", "dead", "unsure")
#: Categorical dtype of the ``label`` column.
LABEL_DTYPE = pd.CategoricalDtype(list(LABELS))
#: Numeric value of each label for the mean rule of the thesis.
LABEL_VALUES: dict[str, float] = {"alive": 1.0, "dead": 0.0, "unsure": 0.5}

CLICK_COLUMNS: tuple[str, ...] = ("image_id", "annotator_id", "x", "y", "label")
CELL_COLUMNS: tuple[str, ...] = (
    "image_id",
    "cell_id",
    "x",
    "y",
    "n_annotators",
    "support",
    "p_alive",
    "label",
    "spread",
)

OutOfCanvas = Literal["keep", "clip", "drop", "raise"]
OUT_OF_CANVAS_POLICIES: tuple[str, ...] = ("keep", "clip", "drop", "raise")


@dataclass
class InputReport:
    """What a reader found and did, attached to ``clicks.attrs["report"]``.

    Attributes
    ----------
    sources : list of str
        Files (or other sources) read.
    n_records : int
        Task runs (or rows) read.
    n_clicks : int
        Clicks in the returned table.
    n_out_of_canvas : int
        Clicks found outside the canvas.
    out_of_canvas : str
        The policy applied to them (``keep``, ``clip`` or ``drop``).
    n_clipped, n_dropped_out_of_canvas : int
        Clicks moved onto the canvas edge, or removed, by that policy.
    n_duplicate_runs : int
        Runs removed because they repeat an earlier run (same image, same
        annotator, same clicks).
    n_empty_runs : int
        Runs with no click at all (kept: they count in the support).
    n_dropped_marks : int
        Marks without a position (a Zooniverse mark whose ``x`` or ``y`` is null),
        dropped.
    """

    sources: list[str] = field(default_factory=list)
    n_records: int = 0
    n_clicks: int = 0
    n_out_of_canvas: int = 0
    out_of_canvas: str = "keep"
    n_clipped: int = 0
    n_dropped_out_of_canvas: int = 0
    n_duplicate_runs: int = 0
    n_empty_runs: int = 0
    n_dropped_marks: int = 0

    def to_dict(self) -> dict:
        """Return the report as a plain dictionary."""
        return asdict(self)


def empty_clicks() -> pd.DataFrame:
    """Return an empty, valid Clicks table.

    Examples
    --------
    >>> list(empty_clicks().columns)
    ['image_id', 'annotator_id', 'x', 'y', 'label']
    """
    return pd.DataFrame(
        {
            "image_id": pd.Series([], dtype=object),
            "annotator_id": pd.Series([], dtype=object),
            "x": pd.Series([], dtype="float64"),
            "y": pd.Series([], dtype="float64"),
            "label": pd.Series([], dtype=LABEL_DTYPE),
        }
    )


def label_codes(values) -> np.ndarray:
    """Codes of labels in :data:`LABELS` order (0 alive, 1 dead, 2 unsure), -1 for unknown.

    Examples
    --------
    >>> label_codes(["dead", "alive", "zombie"]).tolist()
    [1, 0, -1]
    """
    codes, uniques = pd.factorize(pd.Series(values, copy=False))
    lookup = np.append(pd.Index(list(LABELS)).get_indexer(pd.Index(uniques, dtype=object)), -1)
    return lookup[codes]  # code -1 (missing) reads the appended -1


TRUTH_REQUIRED: tuple[str, ...] = ("image_id", "x", "y", "label")
