"""Annotator reliability drawn: who is reliable, who answers at random."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._backend import new_axes

__all__ = ["plot_annotators"]


def plot_annotators(
    table: pd.DataFrame,
    *,
    ax: Any = None,
    name_worst: int = 5,
    title: str | None = None,
):
    """Each annotator's sensitivity against specificity, sized by votes.

    Points on the dashed diagonal ``sensitivity + specificity = 1`` answer
    independently of the cell (spammers, ``spammer_score`` 0); the top-right corner
    is a perfect annotator. Colour is ``detection_rate`` (share of the consensus
    cells on their images they clicked). The ``name_worst`` annotators with the
    lowest ``spammer_score`` are named.

    For another label set (a table with ``recall_<class>`` columns): each annotator's
    mean recall over the classes against their detection rate, coloured by the
    spammer score; the dashed line is the mean recall of random answers (1/K).

    Parameters
    ----------
    table : DataFrame
        :func:`~cellconsensus.annotators.annotator_table` (``Consensus.annotators_``).
    ax : matplotlib Axes, optional
        Draw there (default: a new figure).
    name_worst : int, default 5
        How many of the least reliable annotators to name.
    title : str, optional
        The title (default: what is plotted against what).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from cellconsensus import find_consensus, make_truth, simulate_crowd
    >>> clicks = simulate_crowd(make_truth(20, seed=0), 5, seed=0, spammer_fraction=0.2)
    >>> fig = plot_annotators(find_consensus(clicks).annotators_)
    >>> fig.axes[0].get_xlabel()
    'specificity: P(dead answer | dead cell)'
    """
    fig, ax = new_axes(ax, figsize=(6.5, 5.5))
    recalls = [c for c in table.columns if str(c).startswith("recall_")]
    if recalls:
        return _plot_classes(fig, ax, table, recalls, name_worst, title)
    title = title or "Annotators: sensitivity against specificity"
    rated = table.dropna(subset=["sensitivity", "specificity"])
    votes = rated["votes"].to_numpy(dtype=float)
    size = 15 + 185 * np.sqrt(votes / votes.max()) if len(votes) else []
    points = ax.scatter(rated["specificity"], rated["sensitivity"], s=size,
                        c=rated["detection_rate"], cmap="viridis", vmin=0, vmax=1,
                        alpha=0.8, edgecolors="black", linewidths=0.4)  # fmt: skip
    ax.plot([0, 1], [1, 0], ls="--", color="0.5", lw=1, label="answers at random")
    for name, row in rated.nsmallest(name_worst, "spammer_score").iterrows():
        ax.annotate(str(name), (row["specificity"], row["sensitivity"]), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")  # fmt: skip
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), aspect="equal",
           xlabel="specificity: P(dead answer | dead cell)",
           ylabel="sensitivity: P(alive answer | alive cell)")  # fmt: skip
    unrated = len(table) - len(rated)
    ax.set_title(title + (f"\n({unrated} with too few votes to rate)" if unrated else ""),
                 fontsize=9)  # fmt: skip
    fig.colorbar(points, ax=ax, fraction=0.046, pad=0.04, label="detection rate")
    ax.legend(fontsize=7, loc="lower left")
    return fig


def _plot_classes(fig, ax, table: pd.DataFrame, recalls: list[str], name_worst: int, title):
    """Mean recall over K classes against detection rate, coloured by spammer score."""
    mean_recall = table[recalls].mean(axis=1, skipna=False).rename("mean_recall")
    rated = table.join(mean_recall).dropna(subset=["mean_recall", "detection_rate"])
    votes = rated["votes"].to_numpy(dtype=float)
    size = 15 + 185 * np.sqrt(votes / votes.max()) if len(votes) else []
    points = ax.scatter(rated["detection_rate"], rated["mean_recall"], s=size,
                        c=rated["spammer_score"], cmap="viridis", vmin=0, vmax=1,
                        alpha=0.8, edgecolors="black", linewidths=0.4)  # fmt: skip
    k = len(recalls)
    ax.axhline(1 / k, ls="--", color="0.5", lw=1, label=f"answers at random (1/{k})")
    for name, row in rated.nsmallest(name_worst, "spammer_score").iterrows():
        ax.annotate(str(name), (row["detection_rate"], row["mean_recall"]), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")  # fmt: skip
    classes = ", ".join(c.removeprefix("recall_") for c in recalls)
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), aspect="equal",
           xlabel="detection rate: share of the cells on their images clicked",
           ylabel=f"mean recall over the classes ({classes})")  # fmt: skip
    unrated = len(table) - len(rated)
    title = title or "Annotators: finding cells against labelling them"
    ax.set_title(title + (f"\n({unrated} with too few votes to rate)" if unrated else ""),
                 fontsize=9)  # fmt: skip
    fig.colorbar(points, ax=ax, fraction=0.046, pad=0.04, label="spammer score")
    ax.legend(fontsize=7, loc="lower left")
    return fig
