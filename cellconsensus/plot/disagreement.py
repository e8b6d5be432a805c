"""Disagreement drawn: cells by doubt on their image, and strategies against each other."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..disagreement import cell_doubt, strategy_agreement
from ._backend import new_axes, one_image
from .image import _background

__all__ = ["plot_disagreement", "plot_agreement"]


def plot_disagreement(
    image_id: str,
    cells: pd.DataFrame,
    images: Any = None,
    *,
    ax: Any = None,
    title: str | None = None,
):
    """Draw one image's cells coloured by how much they are in doubt.

    Colour is :func:`~cellconsensus.disagreement.cell_doubt`'s ``doubt`` (0 dark,
    a coin flip bright); squares mark cells whose doubt is about being a cell at
    all (``real_doubt`` above ``label_doubt``), circles cells whose label is.

    Parameters
    ----------
    image_id : str
        The image.
    cells : DataFrame
        A Cells table (``p_alive``, optionally ``p_real``).
    images : folder, mapping or ImageSource, optional
        The pixels (default: a dark canvas).
    ax : matplotlib Axes, optional
        Draw there (default: a new figure).
    title : str, optional
        Default: the image id and its cells in doubt (doubt above 0.5).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> cells = pd.DataFrame({"image_id": "a", "x": [10.0, 40], "y": [10.0, 30],
    ...                       "p_alive": [0.5, 1.0], "label": ["unsure", "alive"]})
    >>> plot_disagreement("a", cells).axes[0].get_title()
    'a: 1 of 2 cells in doubt'
    """
    fig, ax = new_axes(ax)
    mine = one_image(cells, image_id, "cells").reset_index(drop=True)
    _background(ax, image_id, images, [mine])
    doubt = cell_doubt(mine)
    realness = (doubt["real_doubt"] > doubt["label_doubt"]).to_numpy()
    drawn = None
    for marker, chosen, name in (
        ("o", ~realness, "label in doubt"),
        ("s", realness, "cell in doubt"),
    ):
        if chosen.any() or (marker == "o" and not realness.any()):
            drawn = ax.scatter(mine["x"][chosen], mine["y"][chosen], c=doubt["doubt"][chosen],
                               cmap="inferno", vmin=0, vmax=1, marker=marker, s=70,
                               edgecolors="white", linewidths=0.5, label=name, zorder=3)  # fmt: skip
    fig.colorbar(drawn, ax=ax, fraction=0.04, pad=0.02, label="doubt (1: a coin flip)")
    n_doubt = int((doubt["doubt"] > 0.5).sum())
    if title is None:
        title = f"{image_id}: {n_doubt} of {len(mine)} cells in doubt"
        if "p_real" in mine and len(mine) and mine["p_real"].isna().all():
            title += "\n(one annotator: whether each is a cell is not assessed)"
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    if realness.any():
        ax.legend(fontsize=7, loc="upper right")
    return fig


def plot_agreement(
    cells_by_name: Mapping[str, pd.DataFrame] | pd.DataFrame,
    *,
    ax: Any = None,
    title: str = "Agreement between strategies (detection F1)",
    **agreement: Any,
):
    """Heat map of pairwise agreement between strategies, the numbers written in.

    Parameters
    ----------
    cells_by_name : mapping of str to DataFrame, or DataFrame
        Cells tables by strategy name, or a matrix made by
        :func:`~cellconsensus.disagreement.strategy_agreement`.
    ax : matplotlib Axes, optional
        Draw there (default: a new figure).
    title : str
        The title.
    **agreement
        ``tolerance`` and ``default_size`` for ``strategy_agreement``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"image_id": "i", "x": [10.0], "y": [10.0], "label": "alive"})
    >>> fig = plot_agreement({"a": a, "b": a})
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['1.00', '1.00', '1.00', '1.00']
    """
    if isinstance(cells_by_name, pd.DataFrame):
        matrix = cells_by_name
    else:
        matrix = strategy_agreement(cells_by_name, **agreement)
    n = len(matrix)
    fig, ax = new_axes(ax, figsize=(1.0 + 0.6 * n, 0.8 + 0.5 * n))
    values = matrix.to_numpy(dtype=float)
    image = ax.imshow(values, cmap="viridis", vmin=min(0.5, np.nanmin(values)), vmax=1)
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                color="black" if v > 0.8 else "white")  # fmt: skip
    names = [str(c) for c in matrix.columns]
    ax.set_xticks(range(n), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), [str(i) for i in matrix.index], fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig
