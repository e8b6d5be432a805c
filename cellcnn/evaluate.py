"""Evaluate a trained model on a split of a store: metrics, plots, the worst errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import keras
import numpy as np
from sklearn import metrics
from tqdm.auto import tqdm

from cellconsensus.metrics import classification_intervals

from .calibration import calibrate, expected_calibration_error, fit_temperature
from .classes import class_proba, run_vocabulary
from .data import make_dataset
from .evaluation_plots import confusion_plot, roc_reliability_plots, worst_errors_sheet
from .model_files import load_model_folder
from .models import CUSTOM_OBJECTS
from .store import PatchStore

__all__ = [
    "PREDICT_BATCH",
    "best_threshold",
    "tune_prediction",
    "prediction_setting",
    "run_temperature",
    "evaluate",
    "expected_calibration_error",
    "load_model",
    "predict_patches",
    "symmetric_mean",
]


#: Patches per forward pass when evaluating or predicting. Measured on ``make demo``'s
#: model (compact, 95 px) on 2 cores: evaluating its test split peaks at 1.7 GB of memory
#: with 64 and 4.4 GB with 256, and takes 6.9 s against 8.2 s.
PREDICT_BATCH = 64


def _forward(net: keras.Model, x: np.ndarray) -> np.ndarray:
    out = np.asarray(net(x, training=False), dtype=float)
    return out.reshape(len(x)) if out.ndim == 1 or out.shape[1:] == (1,) else out


def predict_patches(net: keras.Model, pixels, tta: bool = False) -> np.ndarray:
    """The model's output for a batch of ``uint8`` patches: P(first class) ``(n,)`` for
    two classes (P(alive)), class probabilities ``(n, K)`` for more; with ``tta``, the
    mean over the eight symmetries of the square (test-time augmentation).

    Examples
    --------
    >>> from cellcnn.models import build_model
    >>> net = build_model("compact", (8, 8, 1), widths=(4,))
    >>> predict_patches(net, np.zeros((2, 8, 8, 1), np.uint8), tta=True).shape
    (2,)
    """
    x = np.asarray(pixels)
    if not tta:
        return _forward(net, x)
    return symmetric_mean(lambda view: _forward(net, view), x)


def symmetric_mean(forward, x: np.ndarray, *, maps: bool = False) -> np.ndarray:
    """The mean of ``forward`` over the eight symmetries of square images ``(n, s, s, c)``
    (test-time augmentation); with ``maps``, outputs are maps of the images and each is
    turned back before averaging.

    Examples
    --------
    >>> x = np.arange(8.0).reshape(2, 2, 2, 1)
    >>> symmetric_mean(lambda v: v, x, maps=True).ravel().tolist() == x.ravel().tolist()
    True
    >>> symmetric_mean(lambda v: v[:, 0, 0, 0], x).tolist()  # the mean pixel of each
    [1.5, 5.5]
    """
    total = 0.0
    for turns in range(4):
        for flip in (False, True):
            view = np.rot90(x, turns, axes=(1, 2))
            view = view[:, :, ::-1] if flip else view
            out = forward(np.ascontiguousarray(view))
            if maps:
                out = np.rot90(out[:, :, ::-1] if flip else out, -turns, axes=(1, 2))
            total = total + out
    return total / 8


def load_model(model_dir: str | os.PathLike) -> tuple[keras.Model, dict]:
    """The best model of a training run and its ``run.json``.

    Raises
    ------
    CellConsensusInputError
        Naming the file: no ``model.keras`` or ``run.json`` (not a finished training
        run), a ``run.json`` that is not JSON, or a model file Keras cannot load
        (truncated, from another program).
    """
    return load_model_folder(model_dir, "model.keras", "run.json",
                             kind="cellcnn training run", custom_objects=CUSTOM_OBJECTS)  # fmt: skip


def _predictions(
    net, source: PatchStore, split: str, batch_size: int, tta: bool, progress: bool = False
):
    """The true class index of every labelled cell of a split, the model's outputs and
    the cells' store rows."""
    ds = make_dataset(
        source, split=split, batch_size=batch_size, shuffle=False, with_index=True, cache=False
    )
    ys, ps, rows = [], [], []
    total = -(-len(source.rows(split)) // batch_size)
    bar = tqdm(ds, total=total, desc=f"predict {split}", unit="batch", disable=not progress)
    for x, y, _, index in bar:
        ps.append(predict_patches(net, x, tta))
        ys.append(y.numpy())
        rows.append(index.numpy())
    if not ys:
        raise ValueError(f"the split {split!r} of {source.location} has no labelled cells")
    y = np.concatenate(ys)
    truth = np.where(y > 0.5, 0, 1) if y.ndim == 1 else np.argmax(y, axis=1)
    return truth, np.concatenate(ps), np.concatenate(rows)


def best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The threshold on P(alive) that maximises balanced accuracy (Youden's J).

    Examples
    --------
    >>> best_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.7, 0.9]))
    0.65
    """
    if len(np.unique(y)) < 2:
        return 0.5
    fpr, tpr, cuts = metrics.roc_curve(y, p)
    k = int(np.argmax(tpr - fpr))
    # Midway to the next lower score, so the chosen cut is not on a training point.
    lower = p[p < cuts[k]].max(initial=0.0)
    return float((cuts[k] + lower) / 2) if np.isfinite(cuts[k]) else 0.5


def tune_prediction(
    net, source: PatchStore, n_classes: int, batch_size: int = PREDICT_BATCH
) -> dict:
    """How a trained model predicts best, chosen on the validation split: with or without
    test-time augmentation, the temperature that calibrates its probabilities there
    (:func:`cellcnn.calibration.fit_temperature`), and (two classes) the threshold on the
    first class's calibrated probability that maximises balanced accuracy there
    (:func:`best_threshold`).

    Measured in ``benchmarks/crop_size.py`` (LDC, compact): TTA with the threshold chosen
    on the validation split lifts test balanced accuracy from 0.923 / 0.946 / 0.954 to
    0.974 / 0.9745 / 0.983 at 32 / 48 / 64 px.

    Returns
    -------
    dict
        ``tta``, ``threshold`` (None for K > 2 classes: the most probable class),
        ``val_balanced_accuracy``, ``temperature``, ``val_ece`` and
        ``val_ece_uncalibrated`` (after and before it) and ``chosen_on`` (``"val"``);
        TTA only where it does strictly better.

    Examples
    --------
    >>> tune_prediction(net, PatchStore("patches.zarr", 48), 2)  # doctest: +SKIP
    {'tta': True, 'threshold': 0.41, 'val_balanced_accuracy': 0.98, 'temperature': 1.3, ...}
    """
    best: dict[str, Any] = {}
    for tta in (False, True):
        truth, raw, _ = _predictions(net, source, "val", batch_size, tta)
        temperature = fit_temperature(truth, raw)
        p = calibrate(raw, temperature)
        if n_classes == 2:
            threshold: float | None = best_threshold((truth == 0).astype(int), p)
            predicted = np.where(p > threshold, 0, 1)
        else:
            threshold, predicted = None, np.argmax(p, axis=1)
        score = float(metrics.balanced_accuracy_score(truth, predicted))
        if not best or score > best["val_balanced_accuracy"] + 1e-12:
            best = {"tta": tta, "threshold": threshold, "val_balanced_accuracy": score,
                    "temperature": temperature, "val_ece": _ece(truth, p),
                    "val_ece_uncalibrated": _ece(truth, raw)}  # fmt: skip
    return {**best, "chosen_on": "val"}


def _ece(truth: np.ndarray, p: np.ndarray) -> float:
    """ECE of P(first class) (two classes) or of the top class's probability (K)."""
    if p.ndim == 1:
        return expected_calibration_error((truth == 0).astype(int), p)
    top = np.argmax(p, axis=1)
    return expected_calibration_error((top == truth).astype(int), p[np.arange(len(p)), top])


def _reliability_curves(y, p, raw, temperature: float) -> dict:
    """The reliability plot's curves: calibrated, and before where a temperature applies."""
    if temperature == 1.0:
        return {"": (y, p)}
    return {f"calibrated (T = {temperature:.2f})": (y, p), "uncalibrated": (y, raw)}


def run_temperature(run: dict, calibrated: bool | None = None) -> float:
    """The temperature to predict with: the run's own (fitted on its validation split,
    :func:`tune_prediction`) unless ``calibrated`` is False; 1 for runs from before.

    Examples
    --------
    >>> run_temperature({"prediction": {"temperature": 1.7}}), run_temperature({}, True)
    (1.7, 1.0)
    >>> run_temperature({"prediction": {"temperature": 1.7}}, calibrated=False)
    1.0
    """
    if calibrated is False:
        return 1.0
    return float((run.get("prediction") or {}).get("temperature", 1.0))


def prediction_setting(run: dict, tta: bool | None, threshold) -> tuple[bool, Any]:
    """The TTA and threshold to predict with: those given, else the run's own choice
    (``run.json``'s ``prediction``, :func:`tune_prediction`), else no TTA and 0.5.

    Examples
    --------
    >>> prediction_setting({"prediction": {"tta": True, "threshold": 0.3}}, None, None)
    (True, 0.3)
    >>> prediction_setting({}, None, None), prediction_setting({"prediction": {"tta": True}}, False, 0.5)
    ((False, 0.5), (False, 0.5))
    """
    chosen = run.get("prediction") or {}
    if tta is None:
        tta = bool(chosen.get("tta", False))
    if threshold is None:
        threshold = chosen.get("threshold")
        threshold = 0.5 if threshold is None else float(threshold)
    return tta, threshold


def evaluate(
    model_dir: str | os.PathLike,
    store: str | os.PathLike | Any | None = None,
    split: str = "test",
    *,
    size: int | None = None,
    batch_size: int = PREDICT_BATCH,
    tta: bool | None = None,
    threshold: float | Literal["val"] | None = None,
    calibrated: bool | None = None,
    out_dir: str | os.PathLike | None = None,
    storage_options: dict | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Evaluate the best model of a run on one split, against hard labels.

    Parameters
    ----------
    model_dir : path-like
        A folder written by :func:`cellcnn.train.train`.
    store : path, URL or zarr store, optional
        Default: the store the model was trained on.
    split : str, default "test"
        The split to evaluate.
    size : int, optional
        Default: the size the model was trained on.
    batch_size : int, default :data:`PREDICT_BATCH` (64)
        Patches per forward pass.
    tta : bool, optional
        Average the predictions over the eight symmetries of the square. Default:
        the run's own choice (:func:`tune_prediction`, made on the validation split
        when it was trained; no TTA for runs from before).
    threshold : float or "val", optional
        Two classes: P(alive) (the first class's probability) above which a cell
        is called alive; ``"val"``: the threshold that maximises balanced accuracy
        on the validation split (never chosen on the split being evaluated).
        Default: the run's own choice (0.5 for runs from before). K > 2 classes:
        the most probable class (only 0.5 is accepted).
    calibrated : bool, optional
        Apply the run's temperature (:func:`run_temperature`); default yes where the run
        has one.
    out_dir : path-like, optional
        Where to write ``<split>_evaluation.json`` and the plots (default ``model_dir``).
    storage_options : dict, optional
        For fsspec URLs.
    progress : bool, default False
        A progress bar over the batches.

    Returns
    -------
    dict
        ``classes`` (the model's, in order), ``n``, ``accuracy``,
        ``balanced_accuracy`` (the mean recall over classes), ``f1_<class>`` and
        ``recall_<class>`` per class, ``confusion`` (rows the true classes,
        columns the predicted, both in class order), ``ece``, ``roc_auc`` and
        ``pr_auc`` (two classes: the first, alive, as positive; K > 2: the
        macro mean of one-vs-rest figures, with ``roc_auc_<class>`` per class,
        and ``ece`` of the top class's probability), and the paths of the ROC
        and reliability plots (where the split holds both outcomes), of the drawn
        confusion matrix and of the worst-error sheet. ``balanced_accuracy_interval``
        and ``roc_auc_interval``: their 95 % bootstrap intervals, the cells drawn again
        by the store's ``group`` (look-alike groups of images, or each image alone;
        :func:`cellconsensus.metrics.classification_intervals`): how far the figures
        may lie from the model's on many more cells like these.

    Examples
    --------
    >>> evaluate("runs/compact48", split="test")["balanced_accuracy"]  # doctest: +SKIP
    """
    net, run = load_model(model_dir)
    source = PatchStore(store or run["store"], size or run["size"], storage_options)
    vocabulary = run_vocabulary(run)
    classes, k = vocabulary.classes, vocabulary.n_classes
    tta, threshold = prediction_setting(run, tta, threshold if k == 2 else (threshold or 0.5))
    temperature = run_temperature(run, calibrated)
    truth, raw, rows = _predictions(net, source, split, batch_size, tta, progress)
    p = calibrate(raw, temperature)
    proba = class_proba(p)
    if k == 2:
        if threshold == "val":
            truth_val, p_val, _ = _predictions(net, source, "val", batch_size, tta, progress)
            threshold = best_threshold((truth_val == 0).astype(int), calibrate(p_val, temperature))
        predicted = np.where(p > threshold, 0, 1)
    else:
        if threshold != 0.5:
            raise ValueError(
                f"threshold applies to two classes; a model of {k} classes takes the most "
                f"probable one (got threshold={threshold!r})"
            )
        predicted = np.argmax(proba, axis=1)
    out = Path(out_dir or model_dir)
    out.mkdir(parents=True, exist_ok=True)
    prefix = f"{split}_" + ("tta_" if tta else "") + ("tuned_" if float(threshold) != 0.5 else "")
    every = list(range(k))
    f1 = metrics.f1_score(truth, predicted, labels=every, average=None, zero_division=0)
    recall = metrics.recall_score(truth, predicted, labels=every, average=None, zero_division=0)
    result: dict[str, Any] = {
        "split": split,
        "tta": tta,
        "threshold": float(threshold),
        "temperature": temperature,
        "classes": list(classes),
        "n": int(len(truth)),
        "accuracy": float(metrics.accuracy_score(truth, predicted)),
        "balanced_accuracy": float(metrics.balanced_accuracy_score(truth, predicted)),
        **{f"f1_{c}": float(v) for c, v in zip(classes, f1, strict=True)},
        **{f"recall_{c}": float(v) for c, v in zip(classes, recall, strict=True)},
        "confusion": metrics.confusion_matrix(truth, predicted, labels=every).tolist(),
    }
    figures = {"confusion": confusion_plot(result["confusion"], classes,
                                            out / f"{prefix}confusion.png")}  # fmt: skip
    result["ece"] = _ece(truth, p)
    if temperature != 1.0:
        result["ece_uncalibrated"] = _ece(truth, raw)
    if k == 2:
        first = (truth == 0).astype(int)
        if len(np.unique(first)) == 2:
            result["roc_auc"] = float(metrics.roc_auc_score(first, p))
            result["pr_auc"] = float(metrics.average_precision_score(first, p))
            reliability = _reliability_curves(first, p, raw, temperature)
            figures |= roc_reliability_plots({"": (first, p)}, reliability,
                              (classes[0], f"P({classes[0]})"), out, prefix)  # fmt: skip
    else:
        correct = (predicted == truth).astype(int)
        confidence = proba[np.arange(len(truth)), predicted]
        raw_top = np.asarray(raw)[np.arange(len(truth)), predicted]
        curves = {}
        for c, name in enumerate(classes):
            one = (truth == c).astype(int)
            if 0 < one.sum() < len(one):
                result[f"roc_auc_{name}"] = float(metrics.roc_auc_score(one, proba[:, c]))
                curves[f"{name} "] = (one, proba[:, c])
        if len(curves) == k:  # every class present: macro one-vs-rest figures
            onehot = np.eye(k)[truth]
            result["roc_auc"] = float(np.mean([result[f"roc_auc_{c}"] for c in classes]))
            result["pr_auc"] = float(metrics.average_precision_score(onehot, proba))
        if curves:
            reliability = _reliability_curves(correct, confidence, raw_top, temperature)
            figures |= roc_reliability_plots(curves, reliability,
                              ("positive", "P(top class)"), out, prefix)  # fmt: skip
    units = source.coords.get("group", source.coords.get("image_id"))
    intervals = classification_intervals(truth, predicted, proba if "roc_auc" in result else None,
                                         groups=None if units is None else units[rows])  # fmt: skip
    for name, bounds in intervals.items():
        result[f"{name}_interval"] = list(bounds)
    result["plots"] = figures
    result["worst_errors"] = worst_errors_sheet(
        source, rows, truth, predicted, proba, classes, out, prefix
    )
    (out / f"{prefix}evaluation.json").write_text(json.dumps(result, indent=2))
    return result
