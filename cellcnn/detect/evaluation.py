"""Score a detector's cells against the truth on one of its splits."""

from __future__ import annotations

import os

import pandas as pd

from cellconsensus.metrics import Score, score

from ..model_files import read_record
from .inference import DETECTOR_FILES, detect

__all__ = ["evaluate_detector"]


def evaluate_detector(
    model_dir: str | os.PathLike,
    truth: pd.DataFrame,
    images,
    *,
    split: str = "test",
    **options,
) -> tuple[Score, pd.DataFrame]:
    """Detection precision, recall, F1, localisation error and label accuracy on the
    images of one split of the detector's training (Hungarian matching within half a
    cell, :func:`cellconsensus.metrics.score`).

    Parameters
    ----------
    model_dir : path-like
        A detector folder (:func:`~cellcnn.detect.train_detector`).
    truth : DataFrame
        ``image_id, x, y, label`` (and ``size``; default the detector's cell size).
    images : folder, mapping or ImageSource
        Where the pixels come from.
    split : {"test", "val", "train"}, default "test"
        Whose images (as the detector's training split them).
    **options
        Passed to :func:`~cellcnn.detect.detect` (``threshold``, ``classifier``, ...).

    Returns
    -------
    (Score, DataFrame)
        The figures and the cells found.

    Examples
    --------
    >>> figures, cells = evaluate_detector("runs/detector", truth, "images/")  # doctest: +SKIP
    >>> figures.f1  # doctest: +SKIP
    """
    record = read_record(model_dir, DETECTOR_FILES[1], kind="cellcnn detector")
    ids = list(record["splits"][split])
    found = detect(model_dir, images, ids, **options)
    truth = truth[truth["image_id"].astype(str).isin(ids)]
    if "size" not in truth:
        truth = truth.assign(size=record["cell_size"])
    return score(found, truth, image_ids=ids, default_size=record["cell_size"]), found
