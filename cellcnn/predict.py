"""Classify cells at given positions in new images, cropping exactly as in training."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cellconsensus.errors import CellConsensusInputError
from cellconsensus.images import as_image_source, normalise_image, read_image
from cellconsensus.patches import crop

from .calibration import calibrate
from .classes import labels_of, n_outputs, probability_columns, run_vocabulary
from .evaluate import (
    PREDICT_BATCH,
    load_model,
    predict_patches,
    prediction_setting,
    run_temperature,
)

__all__ = ["predict", "predict_cells", "training_crops"]


def _crop_settings(run: dict) -> dict[str, Any]:
    crop_policy = run.get("crop") or {}
    return {"border": crop_policy.get("border", "reflect"), "fill": crop_policy.get("fill", 0)}


def training_crops(run: dict, image: np.ndarray, x, y) -> tuple[np.ndarray, np.ndarray]:
    """Patches cut as the training store cut them, and which points got one.

    Parameters
    ----------
    run : dict
        A run's ``run.json`` (size, channels and the store's crop policy).
    image : ndarray
        ``(H, W, C)`` pixels.
    x, y : array-like
        Cell positions in pixels.

    Examples
    --------
    >>> run = {"size": 4, "channels": 1, "crop": {"border": "reflect", "fill": 0}}
    >>> training_crops(run, np.zeros((10, 10, 1), np.uint8), [5.0], [5.0])[0].shape
    (1, 4, 4, 1)
    """
    image = normalise_image(image, run["channels"]) if image.shape[2] != run["channels"] else image
    settings = _crop_settings(run)
    pixels, keep, _, _ = crop(image, x, y, run["size"], settings["border"], settings["fill"])
    return pixels, keep


def _points(points: pd.DataFrame | np.ndarray) -> np.ndarray:
    """``points`` as an ``(n, 2)`` float array of x, y (a clear error for anything else)."""
    if isinstance(points, pd.DataFrame):
        missing = [c for c in ("x", "y") if c not in points.columns]
        if missing:
            raise CellConsensusInputError(f"points lack column(s) {', '.join(missing)}")
        points = points[["x", "y"]]
    try:
        xy = np.asarray(points, dtype=float)
    except (TypeError, ValueError) as exc:
        raise CellConsensusInputError(f"points must be numbers x, y: {exc}") from None
    if xy.ndim == 1 and xy.size == 2:
        xy = xy.reshape(1, 2)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise CellConsensusInputError(
            f"points must be an (n, 2) array of x, y (or a table with x, y), got shape {xy.shape}"
        )
    return xy


def _outside(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    return (x < 0) | (y < 0) | (x >= width) | (y >= height)


def _classify(
    net, run, image: np.ndarray, x, y, batch_size: int, tta: bool = False, temperature: float = 1.0
) -> np.ndarray:
    """The model's (calibrated) output per point: ``(n,)`` or ``(n, K)``, NaN where no
    patch was cut."""
    pixels, keep = training_crops(run, image, x, y)
    outputs = n_outputs(run_vocabulary(run))
    p = np.full((len(keep),) if outputs == 1 else (len(keep), outputs), np.nan)
    if len(pixels):
        p[keep] = np.concatenate(
            [
                predict_patches(net, pixels[a : a + batch_size], tta)
                for a in range(0, len(pixels), batch_size)
            ]
        )
    return calibrate(p, temperature)


def predict(
    model_dir: str | os.PathLike,
    image: str | os.PathLike | np.ndarray,
    points: pd.DataFrame | np.ndarray,
    *,
    batch_size: int = PREDICT_BATCH,
    threshold: float | None = None,
    tta: bool | None = None,
    calibrated: bool | None = None,
) -> pd.DataFrame:
    """Class probabilities and a label for cells at ``points`` in one image.

    Patches are cut as the training store cut them: same size, same border
    policy (``drop`` leaves border cells with NaN), channels converted to the
    model's.

    Parameters
    ----------
    model_dir : path-like
        A folder written by :func:`cellcnn.train.train`.
    image : path or array
        An image file (read by :func:`cellconsensus.images.read_image`) or pixels.
    points : DataFrame or array
        Columns ``x, y``, or an ``(n, 2)`` array, in image pixels.
    batch_size : int, default :data:`~cellcnn.evaluate.PREDICT_BATCH` (64)
        Patches per forward pass.
    threshold : float, optional
        P(alive) above which the label is ``alive`` (for another pair of classes: the
        first class's probability); a model of K > 2 classes takes the most probable.
        Default: the run's own choice, made on the validation split when it was trained
        (:func:`cellcnn.evaluate.tune_prediction`; 0.5 for runs from before).
    tta : bool, optional
        Average over the eight symmetries of the square; default: the run's own choice.
    calibrated : bool, optional
        Probabilities calibrated by the run's temperature (fitted on its validation
        split, :func:`cellcnn.calibration.fit_temperature`); default yes where it has one.

    Returns
    -------
    DataFrame
        ``x, y, p_alive, label, outside`` (for a model of another label set a
        ``p_<class>`` column per class instead of ``p_alive``, as Cells tables have):
        ``outside`` flags points off the image (their patch is mostly border padding;
        those more than half a patch away get none: probabilities NaN, label None).

    Raises
    ------
    CellConsensusInputError
        ``points`` not an ``(n, 2)`` array or a table with ``x, y``; a NaN or infinite
        position; a damaged model folder (naming the file).

    Examples
    --------
    >>> predict("runs/compact48", "new.png", [[120.5, 80.0]])  # doctest: +SKIP
    """
    xy = _points(points)
    net, run = load_model(model_dir)
    tta, threshold = prediction_setting(run, tta, threshold)
    pixels = read_image(image) if not isinstance(image, np.ndarray) else normalise_image(image)
    temperature = run_temperature(run, calibrated)
    p = _classify(net, run, pixels, xy[:, 0], xy[:, 1], batch_size, tta, temperature)
    vocabulary = run_vocabulary(run)
    return pd.DataFrame(
        {
            "x": xy[:, 0],
            "y": xy[:, 1],
            **probability_columns(vocabulary, p),
            "label": labels_of(vocabulary, p, threshold),
            "outside": _outside(pixels, xy[:, 0], xy[:, 1]),
        }
    )


def predict_cells(
    model_dir: str | os.PathLike,
    cells: pd.DataFrame,
    images,
    *,
    batch_size: int = PREDICT_BATCH,
    threshold: float | None = None,
    tta: bool | None = None,
    calibrated: bool | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Classify every cell of a Cells (or truth) table in its image.

    Parameters
    ----------
    model_dir : path-like
        A folder written by :func:`cellcnn.train.train`.
    cells : DataFrame
        ``image_id, x, y`` (e.g. ``find_consensus(...).cells``).
    images : folder, mapping or ImageSource
        Where the pixels come from (:func:`cellconsensus.images.as_image_source`).
    batch_size, threshold, tta, calibrated
        See :func:`predict`.
    progress : bool, default False
        A progress bar over the images.

    Returns
    -------
    DataFrame
        ``cells`` with ``p_alive_cnn`` (for another label set ``p_<class>_cnn`` per
        class), ``label_cnn`` and ``outside`` (the cell lies off its image, see
        :func:`predict`) added.

    Examples
    --------
    >>> predict_cells("runs/compact48", cells, "images/")  # doctest: +SKIP
    """
    if "image_id" not in cells.columns:
        raise CellConsensusInputError("cells lack column image_id")
    xy = _points(cells)
    net, run = load_model(model_dir)
    tta, threshold = prediction_setting(run, tta, threshold)
    temperature = run_temperature(run, calibrated)
    source = as_image_source(images)
    out = cells.copy()
    vocabulary = run_vocabulary(run)
    outputs = n_outputs(vocabulary)
    p = np.full((len(cells),) if outputs == 1 else (len(cells), outputs), np.nan)
    outside = np.zeros(len(cells), bool)
    positions = np.arange(len(cells))
    groups = pd.Series(positions).groupby(cells["image_id"].to_numpy())
    bar = tqdm(groups, total=groups.ngroups, desc="predict", unit="image", disable=not progress)
    for image_id, index in bar:
        pixels, _ = source.load(str(image_id))
        rows = index.to_numpy()
        x, y = xy[rows, 0], xy[rows, 1]
        p[rows] = _classify(net, run, pixels, x, y, batch_size, tta, temperature)
        outside[rows] = _outside(pixels, x, y)
    for name, values in probability_columns(vocabulary, p, "_cnn").items():
        out[name] = values
    out["label_cnn"] = labels_of(vocabulary, p, threshold)
    out["outside"] = outside
    return out
