"""The figures of an evaluation: ROC and reliability curves, the confusion matrix and a
sheet of the worst errors (written next to ``<split>_evaluation.json``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn import metrics

from cellconsensus.plot import pyplot

from .calibration import reliability_bins
from .store import PatchStore

__all__ = ["roc_reliability_plots", "confusion_plot", "worst_errors_sheet"]


def roc_reliability_plots(
    curves: dict, calibration: tuple, axes: tuple, out: Path, prefix: str
) -> dict:
    """ROC curves (``name -> (y, p)``, one per class one-vs-rest for K classes) and the
    reliability curves of ``calibration`` (``name -> (outcomes, predicted probabilities)``,
    e.g. after and before temperature scaling); ``axes`` names the positive outcome and
    the predicted probability."""
    plt = pyplot()
    outcome, predicted = axes
    paths = {}
    fig, ax = plt.subplots(figsize=(4, 4))
    for name, (y, p) in curves.items():
        fpr, tpr, _ = metrics.roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{name}AUC {metrics.roc_auc_score(y, p):.3f}")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel=f"false {outcome} rate", ylabel=f"true {outcome} rate", title="ROC")
    ax.legend(loc="lower right")
    fig.tight_layout()
    paths["roc"] = str(out / f"{prefix}roc.png")
    fig.savefig(paths["roc"], dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0, 1], [0, 1], ":", color="grey")
    for name, (y, p) in calibration.items():
        _, centres, observed = reliability_bins(y, p)
        ax.plot(centres, observed, "o-", label=name or None)
    if any(calibration):
        ax.legend(loc="upper left", fontsize=8)
    ax.set(xlabel=f"predicted {predicted}", ylabel=f"observed fraction {outcome}",
           title="reliability")  # fmt: skip
    fig.tight_layout()
    paths["reliability"] = str(out / f"{prefix}reliability.png")
    fig.savefig(paths["reliability"], dpi=100)
    plt.close(fig)
    return paths


def confusion_plot(confusion: list[list[int]], classes, path: Path) -> str:
    """The confusion matrix drawn, counts in the cells (rows true, columns predicted)."""
    plt = pyplot()
    matrix = np.asarray(confusion)
    side = 2.4 + 0.5 * len(classes)
    fig, ax = plt.subplots(figsize=(side + 0.4, side))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), n in np.ndenumerate(matrix):
        colour = "white" if n > matrix.max() / 2 else "black"
        ax.text(j, i, str(n), ha="center", va="center", color=colour)
    ax.set(xticks=range(len(classes)), yticks=range(len(classes)), xticklabels=classes,
           yticklabels=classes, xlabel="predicted", ylabel="true (the store's label)")  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)


def worst_errors_sheet(
    source: PatchStore, rows, truth, predicted, proba, classes, out, prefix, n=16
) -> str:
    """A sheet of the ``n`` patches whose true class got the lowest probability, each
    captioned ``true as predicted P(predicted)``."""
    from PIL import Image, ImageDraw

    error = 1.0 - proba[np.arange(len(truth)), truth]
    worst = np.argsort(-error, kind="stable")[:n]
    side = source.size
    scale = max(1, -(-64 // side))
    tile = side * scale
    width = max(tile, 6 * max(len(c) for c in classes) + 40)
    sheet = Image.new("RGB", (n * (width + 4) + 4, tile + 34), "white")
    draw = ImageDraw.Draw(sheet)
    for k, i in enumerate(worst):
        row = int(rows[i])
        patch = source.read(row, row + 1)[0]
        image = Image.fromarray(patch[..., 0] if patch.shape[2] == 1 else patch)
        x = 4 + k * (width + 4)
        sheet.paste(image.resize((tile, tile), Image.Resampling.NEAREST), (x, 4))
        named = f"{classes[truth[i]]} as {classes[predicted[i]]}"
        draw.text((x, tile + 6), f"{named}\n{proba[i, predicted[i]]:.2f}", fill="black")
    path = out / f"{prefix}worst_errors.png"
    sheet.save(path)
    return str(path)
