"""The training log (``log.csv``, one row per epoch) read back, and drawn."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cellconsensus.plot import pyplot

__all__ = ["read_log", "plot_learning_curves"]


def read_log(path: Path) -> dict[str, list[float]]:
    """Each column of ``log.csv`` as a list, one entry per epoch (the last row of an epoch
    repeated by a resumed run); ``{}`` without a log.

    Examples
    --------
    >>> read_log(Path("no-such-run") / "log.csv")
    {}
    """
    if not path.exists():
        return {}
    table = pd.read_csv(path).drop_duplicates("epoch", keep="last")
    return {c: table[c].tolist() for c in table.columns}


def plot_learning_curves(log: dict[str, list[float]], out: Path) -> None:
    """Loss and AUC by epoch, training and validation, from :func:`read_log`'s columns."""
    plt = pyplot()
    epochs = [e + 1 for e in log["epoch"]]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, metric in zip(axes, ("loss", "auc"), strict=True):
        for prefix, style in (("", "-"), ("val_", "--")):
            if prefix + metric in log:
                ax.plot(epochs, log[prefix + metric], style, label=(prefix or "train_") + metric)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
