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
    title: str = "Annotators: sensitivity against specificity",
):
    """Each annotator's sensitivity against specificity, sized by votes.

    Points on the dashed diagonal ``sensitivity + specificity = 1`` answer
    independently of the cell (spammers, ``spammer_score`` 0); the top-right corner
    is a perfect annotator. Colour is ``detection_rate`` (share of the consensus
    cells on their images they clicked). The ``name_worst`` annotators with the
    lowest ``spammer_score`` are named.

    Parameters
    ----------
    table : DataFrame
        :func:`~cellconsensus.annotators.annotator_table` (``Consensus.annotators_``).
    ax : matplotlib Axes, optional
        Draw there (default: a new figure).
    name_worst : int, default 5
        How many of the least reliable annotators to name.
    title : str
        The title.

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
