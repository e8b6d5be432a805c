"""The Clicks and Cells tables passed between pipeline steps, and their validation.

Every reader normalises its source to the *Clicks* table and calls
:func:`validate_clicks`; :func:`~cellconsensus.find_consensus` returns the *Cells*
table. Both are plain :class:`pandas.DataFrame` objects with the columns below.

Clicks (one row per click)
    ``image_id`` (str), ``annotator_id`` (str), ``x``, ``y`` (float64, pixels,
    origin top left), ``label`` (categorical: ``alive``, ``dead``, ``unsure``, or the
    answers of another :class:`~cellconsensus.tables.vocabulary.Vocabulary`, then kept
    in ``attrs["classes"]``); optional ``run_id`` (str).

Cells (one row per consensus cell)
    ``image_id``, ``cell_id`` (int, unique per image), ``x``, ``y`` (cluster
    centre), ``n_annotators``, ``support``, ``p_alive``, ``label``, ``spread``; for
    another label set a ``p_<class>`` column per class in place of ``p_alive``.

Readers attach what they did to the data (clicks clipped or dropped, duplicate
runs removed, runs without clicks) as an :class:`InputReport` in
``clicks.attrs["report"]``, and the list of every (image, annotator) run, empty
runs included, in ``clicks.attrs["runs"]``, so that an annotator who looked at an
image and clicked nothing still counts in the support of its cells.
"""

from .cells import (
    cells_vocabulary,
    class_proba,
    image_ids_of,
    split_by_image,
    validate_cells,
    validate_truth,
)
from .clicks import ClickCodes, count_runs, encode_clicks, validate_clicks
from .schema import (
    CELL_COLUMNS,
    CLICK_COLUMNS,
    LABEL_DTYPE,
    LABEL_VALUES,
    LABELS,
    OUT_OF_CANVAS_POLICIES,
    TRUTH_REQUIRED,
    InputReport,
    OutOfCanvas,
    empty_clicks,
    label_codes,
)
from .vocabulary import ALIVE_DEAD, Vocabulary

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
    "validate_clicks",
    "encode_clicks",
    "ClickCodes",
    "validate_cells",
    "cells_vocabulary",
    "class_proba",
    "validate_truth",
    "split_by_image",
    "image_ids_of",
    "empty_clicks",
    "count_runs",
    "label_codes",
    "Vocabulary",
    "ALIVE_DEAD",
]
