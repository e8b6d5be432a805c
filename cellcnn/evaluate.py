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

from cellconsensus.errors import CellConsensusInputError
from cellconsensus.plot import pyplot

from .data import make_dataset
from .models import CUSTOM_OBJECTS
from .store import PatchStore

__all__ = [
    "PREDICT_BATCH",
    "best_threshold",
    "evaluate",
    "expected_calibration_error",
    "load_model",
    "predict_patches",
]


#: Patches per forward pass when evaluating or predicting. Measured on ``make demo``'s
#: model (compact, 95 px) on 2 cores: evaluating its test split peaks at 1.7 GB of memory
#: with 64 and 4.4 GB with 256, and takes 6.9 s against 8.2 s.
PREDICT_BATCH = 64


def predict_patches(net: keras.Model, pixels, tta: bool = False) -> np.ndarray:
    """P(alive) for a batch of ``uint8`` patches; with ``tta``, the mean over the
    eight symmetries of the square (test-time augmentation).

    Examples
    --------
    >>> from cellcnn.models import build_model
    >>> net = build_model("compact", (8, 8, 1), widths=(4,))
    >>> predict_patches(net, np.zeros((2, 8, 8, 1), np.uint8), tta=True).shape
    (2,)
    """
    x = np.asarray(pixels)
    if not tta:
        return np.asarray(net(x, training=False), dtype=float).reshape(-1)
    total = np.zeros(len(x))
    for k in range(4):
        turned = np.rot90(x, k, axes=(1, 2))
        for view in (turned, turned[:, :, ::-1]):
            total += np.asarray(
                net(np.ascontiguousarray(view), training=False), dtype=float
            ).reshape(-1)
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
    folder = Path(model_dir)
    path, record = folder / "model.keras", folder / "run.json"
    for needed in (path, record):
        if not needed.is_file():
            raise CellConsensusInputError(
                f"{needed.name} missing: not a finished cellcnn training run", source=str(folder)
            )
    try:
        run = json.loads(record.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise CellConsensusInputError(
            f"not a readable run record: {exc}", source=str(record)
        ) from None
    try:
        net = keras.saving.load_model(path, custom_objects=CUSTOM_OBJECTS)
    except Exception as exc:  # Keras raises anything from a damaged file: name the file
        raise CellConsensusInputError(
            f"cannot load the model ({type(exc).__name__}: {str(exc)[:200]})", source=str(path)
        ) from None
    return net, run


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of P(alive) against hard outcomes, equal-width bins.

    Examples
    --------
    >>> round(expected_calibration_error(np.array([1, 0, 1, 0]), np.array([0.9, 0.1, 0.8, 0.3])), 3)
    0.175
    """
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            error += inside.mean() * abs(y[inside].mean() - p[inside].mean())
    return float(error)


def _plots(y, p, out: Path, prefix: str) -> dict[str, str]:
    plt = pyplot()

    paths = {}
    fpr, tpr, _ = metrics.roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(fpr, tpr, label=f"AUC {metrics.roc_auc_score(y, p):.3f}")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="false alive rate", ylabel="true alive rate", title="ROC")
    ax.legend(loc="lower right")
    fig.tight_layout()
    paths["roc"] = str(out / f"{prefix}roc.png")
    fig.savefig(paths["roc"], dpi=100)
    plt.close(fig)

    edges = np.linspace(0, 1, 11)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, 9)
    centres, observed = [], []
    for b in range(10):
        if (which == b).any():
            centres.append(p[which == b].mean())
            observed.append(y[which == b].mean())
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.plot(centres, observed, "o-")
    ax.set(xlabel="predicted P(alive)", ylabel="observed fraction alive", title="reliability")
    fig.tight_layout()
    paths["reliability"] = str(out / f"{prefix}reliability.png")
    fig.savefig(paths["reliability"], dpi=100)
    plt.close(fig)
    return paths


def _worst(source: PatchStore, rows, y, p, out: Path, prefix: str, n: int = 16) -> str:
    from PIL import Image, ImageDraw

    error = np.abs(y - p)
    worst = np.argsort(-error)[:n]
    side = source.size
    scale = max(1, -(-64 // side))
    tile = side * scale
    sheet = Image.new("RGB", (n * (tile + 4) + 4, tile + 34), "white")
    draw = ImageDraw.Draw(sheet)
    for k, i in enumerate(worst):
        row = int(rows[i])
        patch = source.read(row, row + 1)[0]
        image = Image.fromarray(patch[..., 0] if patch.shape[2] == 1 else patch)
        x = 4 + k * (tile + 4)
        sheet.paste(image.resize((tile, tile), Image.Resampling.NEAREST), (x, 4))
        truth = "alive" if y[i] > 0.5 else "dead"
        draw.text((x, tile + 6), f"{truth} p={p[i]:.2f}", fill="black")
    path = out / f"{prefix}worst_errors.png"
    sheet.save(path)
    return str(path)


def _predictions(
    net, source: PatchStore, split: str, batch_size: int, tta: bool, progress: bool = False
):
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
    return (np.concatenate(ys) > 0.5).astype(int), np.concatenate(ps), np.concatenate(rows)


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


def evaluate(
    model_dir: str | os.PathLike,
    store: str | os.PathLike | Any | None = None,
    split: str = "test",
    *,
    size: int | None = None,
    batch_size: int = PREDICT_BATCH,
    tta: bool = False,
    threshold: float | Literal["val"] = 0.5,
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
    tta : bool, default False
        Average the predictions over the eight symmetries of the square.
    threshold : float or "val", default 0.5
        P(alive) above which a cell is called alive; ``"val"``: the threshold
        that maximises balanced accuracy on the validation split (never
        chosen on the split being evaluated).
    out_dir : path-like, optional
        Where to write ``<split>_evaluation.json`` and the plots (default ``model_dir``).
    storage_options : dict, optional
        For fsspec URLs.
    progress : bool, default False
        A progress bar over the batches.

    Returns
    -------
    dict
        ``n``, ``accuracy``, ``balanced_accuracy``, ``roc_auc``, ``pr_auc``
        (alive as positive), ``f1_alive``, ``f1_dead``, ``confusion``
        (rows true dead/alive, columns predicted), ``ece``, and the paths of
        the ROC and reliability plots and of the worst-error sheet.

    Examples
    --------
    >>> evaluate("runs/compact48", split="test")["balanced_accuracy"]  # doctest: +SKIP
    """
    net, run = load_model(model_dir)
    source = PatchStore(store or run["store"], size or run["size"], storage_options)
    y, p, rows = _predictions(net, source, split, batch_size, tta, progress)
    if threshold == "val":
        y_val, p_val, _ = _predictions(net, source, "val", batch_size, tta, progress)
        threshold = best_threshold(y_val, p_val)
    predicted = (p > threshold).astype(int)
    out = Path(out_dir or model_dir)
    out.mkdir(parents=True, exist_ok=True)
    prefix = f"{split}_" + ("tta_" if tta else "") + ("tuned_" if float(threshold) != 0.5 else "")
    result: dict[str, Any] = {
        "split": split,
        "tta": tta,
        "threshold": float(threshold),
        "n": int(len(y)),
        "accuracy": float(metrics.accuracy_score(y, predicted)),
        "balanced_accuracy": float(metrics.balanced_accuracy_score(y, predicted)),
        "f1_alive": float(metrics.f1_score(y, predicted, pos_label=1, zero_division=0)),
        "f1_dead": float(metrics.f1_score(y, predicted, pos_label=0, zero_division=0)),
        "confusion": metrics.confusion_matrix(y, predicted, labels=[0, 1]).tolist(),
        "ece": expected_calibration_error(y, p),
    }
    if len(np.unique(y)) == 2:
        result["roc_auc"] = float(metrics.roc_auc_score(y, p))
        result["pr_auc"] = float(metrics.average_precision_score(y, p))
        result["plots"] = _plots(y, p, out, prefix)
    result["worst_errors"] = _worst(source, rows, y, p, out, prefix)
    (out / f"{prefix}evaluation.json").write_text(json.dumps(result, indent=2))
    return result
