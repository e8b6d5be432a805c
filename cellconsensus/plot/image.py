"""One image with everything known about it: clicks, consensus cells, the truth."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import CellConsensusInputError
from ..images import as_image_source
from ..metrics import score
from ..tables import cells_vocabulary, class_proba
from ._backend import new_axes, one_image, pyplot

__all__ = ["plot_image", "LABEL_COLOURS", "label_colours"]

#: Edge colours of consensus cells by label (bright on grey microscopy).
LABEL_COLOURS = {"alive": "lime", "dead": "red", "unsure": "gold"}
#: Colours of the classes of another label set, in order.
EXTRA_COLOURS = ("cyan", "magenta", "orange", "deepskyblue", "violet", "springgreen", "yellow")
#: Annotators named in the legend; the rest are summed up in one entry.
LEGEND_ANNOTATORS = 10


def _background(ax, image_id: str, images: Any, points: list[pd.DataFrame]) -> None:
    """The image's pixels, or (without images) an empty canvas in image coordinates."""
    if images is not None:
        pixels, _ = as_image_source(images).load(str(image_id))
        height, width = pixels.shape[:2]
        grey = pixels[..., 0] if pixels.shape[2] == 1 else pixels
        ax.imshow(grey, cmap="gray", extent=(0, width, height, 0), interpolation="nearest")
        return
    xy = pd.concat([p[["x", "y"]] for p in points if p is not None and len(p)], ignore_index=True)
    high = xy.max().to_numpy() + 20 if len(xy) else np.array([100.0, 100.0])
    ax.set(xlim=(0, high[0]), ylim=(high[1], 0), aspect="equal", facecolor="0.15")


def _clicks(ax, clicks: pd.DataFrame) -> None:
    colours = pyplot().get_cmap("tab10")
    groups = list(clicks.groupby(clicks["annotator_id"].astype(str), sort=True))
    for k, (annotator, theirs) in enumerate(groups):
        name = annotator if k < LEGEND_ANNOTATORS else None
        ax.scatter(theirs["x"], theirs["y"], s=12, color=colours(k % 10), label=name, zorder=2)
    if len(groups) > LEGEND_ANNOTATORS:
        ax.scatter([], [], s=12, color="0.6",
                   label=f"+ {len(groups) - LEGEND_ANNOTATORS} more annotators")  # fmt: skip


def label_colours(classes) -> dict[str, str]:
    """Edge colour of each label: :data:`LABEL_COLOURS` for alive, dead and unsure, then
    bright colours for the classes of another label set, in order.

    Examples
    --------
    >>> label_colours(["alive", "dead", "mitotic"])["mitotic"]
    'cyan'
    """
    colours = dict(LABEL_COLOURS)
    spare = iter(c for c in EXTRA_COLOURS if c not in colours.values())
    for name in classes:
        if name not in colours:
            colours[name] = next(spare, "white")
    return colours


def _cells(ax, cells: pd.DataFrame, extra: np.ndarray, radius: float) -> None:
    """Consensus cells circled in their label's colour, P(label) written beside each."""
    try:
        vocabulary = cells_vocabulary(cells)
    except CellConsensusInputError:  # labels that make no label set: colour what is known
        vocabulary = None
    classes = vocabulary.classes if vocabulary else ()
    for label, colour in label_colours(classes).items():
        mine = (cells["label"].astype(str) == label).to_numpy()
        for dashed, name in ((False, f"cell: {label}"), (True, None)):
            chosen = cells[mine & (extra == dashed)]
            if len(chosen) or (not dashed and mine.any()):
                ax.scatter(chosen["x"], chosen["y"], s=(2 * radius) ** 2, facecolors="none",
                           edgecolors=colour, linewidths=1.4, linestyle="--" if dashed else "-",
                           label=name, zorder=3)  # fmt: skip
    if extra.any():
        ax.scatter([], [], s=80, facecolors="none", edgecolors="white", linestyle="--",
                   label="extra: no true cell (dashed)")  # fmt: skip
    probabilities = [f"p_{c}" for c in classes if vocabulary and not vocabulary.is_alive_dead]
    if classes and all(c in cells for c in probabilities or ["p_alive"]) and len(cells) <= 80:
        proba = class_proba(cells, vocabulary)
        index = pd.Series(range(len(classes)), index=classes)
        code = index.reindex(cells["label"].astype(str)).to_numpy()
        # P(label); for a cell left unsure, its most probable class's.
        chosen = np.where(np.isnan(code), proba.max(axis=1),
                          proba[np.arange(len(proba)), np.nan_to_num(code).astype(int)])  # fmt: skip
        ax.plot([], [], " ", label="number: P(label), label model")
        for x, y, q in zip(cells["x"], cells["y"], chosen, strict=True):
            ax.annotate(f"{q:.2f}", (x, y), xytext=(radius * 0.8, -radius * 0.8),
                        textcoords="offset points", fontsize=6, color="white", zorder=4)  # fmt: skip


def _truth(ax, truth: pd.DataFrame, missed: np.ndarray) -> None:
    ax.scatter(truth["x"][~missed], truth["y"][~missed], marker="+", s=60, color="white",
               linewidths=1.2, label="truth", zorder=4)  # fmt: skip
    if missed.any():
        ax.scatter(truth["x"][missed], truth["y"][missed], marker="X", s=90, color="orangered",
                   edgecolors="white", linewidths=0.6, label="missed: no cell", zorder=5)  # fmt: skip


def plot_image(
    image_id: str,
    images: Any = None,
    *,
    clicks: pd.DataFrame | None = None,
    cells: pd.DataFrame | None = None,
    truth: pd.DataFrame | None = None,
    tolerance: float = 0.5,
    cell_radius: float = 9.0,
    ax: Any = None,
    title: str | None = None,
):
    """Draw one image with its clicks, consensus cells and truth.

    Clicks are dots coloured by annotator; consensus cells are circles coloured by
    label (alive lime, dead red, unsure gold; the classes of another label set cyan,
    magenta, orange, ...) with the label model's probability of
    that label beside each (when there are at most 80 cells); true cells are white
    crosses. With both cells and truth, they are matched as :func:`~cellconsensus.score`
    matches them: true cells no cell found are marked "missed" (orange X) and cells
    with no true cell are dashed ("extra").

    Parameters
    ----------
    image_id : str
        The image to draw; rows of the tables on other images are ignored.
    images : folder, mapping or ImageSource, optional
        Where the pixels come from (:func:`~cellconsensus.images.as_image_source`);
        without it the points are drawn on a dark canvas in image coordinates.
    clicks, cells, truth : DataFrame, optional
        A Clicks table, a Cells table (``label``, optionally ``p_alive``) and a
        truth table (``x, y``, optionally ``size`` and ``label``).
    tolerance : float, default 0.5
        Match distance as a fraction of the true cell's size (as in ``score``).
    cell_radius : float, default 9.0
        Radius of the cell circles, in points.
    ax : matplotlib Axes, optional
        Draw there (default: a new figure).
    title : str, optional
        Default: the image id and what was missed or extra.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from cellconsensus import find_consensus, simulate_crowd
    >>> from cellconsensus.synthetic import make_images
    >>> data = make_images(1, seed=0)
    >>> clicks = simulate_crowd(data.truth, 4, seed=0)
    >>> cells = find_consensus(clicks).cells
    >>> fig = plot_image("syn00000", data.images, clicks=clicks, cells=cells, truth=data.truth)
    >>> fig.axes[0].get_title().startswith("syn00000")
    True
    """
    fig, ax = new_axes(ax)
    clicks, cells, truth = (
        one_image(t, image_id, kind)
        for t, kind in ((clicks, "clicks"), (cells, "cells"), (truth, "truth"))
    )
    cells = None if cells is None else cells.reset_index(drop=True)
    truth = None if truth is None else truth.reset_index(drop=True)
    _background(ax, image_id, images, [clicks, cells, truth])
    extra = np.zeros(0 if cells is None else len(cells), dtype=bool)
    missed = np.zeros(0 if truth is None else len(truth), dtype=bool)
    if cells is not None and truth is not None:
        matches = score(cells, truth, tolerance=tolerance, image_ids=[str(image_id)]).matches
        extra = ~np.isin(np.arange(len(cells)), matches["cell"].to_numpy())
        missed = ~np.isin(np.arange(len(truth)), matches["truth"].to_numpy())
    if clicks is not None:
        _clicks(ax, clicks)
    if cells is not None:
        _cells(ax, cells, extra, cell_radius)
    if truth is not None:
        _truth(ax, truth, missed)
    if title is None:
        title = str(image_id)
        if cells is not None:
            title += f": {len(cells)} cells"
        if cells is not None and truth is not None:
            title += f", {int(missed.sum())} missed, {int(extra.sum())} extra"
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), framealpha=0.9)
    return fig
