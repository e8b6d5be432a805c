"""Matplotlib without a screen: the one place that selects the Agg backend."""

from __future__ import annotations

from typing import Any

from ..errors import CellConsensusInputError

__all__ = ["pyplot", "new_axes"]


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend (imported on first use).

    Raises
    ------
    ImportError
        Matplotlib is not installed (``pip install 'cellconsensus[plot]'``).

    Examples
    --------
    >>> plt = pyplot()
    >>> plt.get_backend().lower()
    'agg'
    """
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - matplotlib is in every extra that plots
        raise ImportError("plots need matplotlib: pip install 'cellconsensus[plot]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def new_axes(ax: Any = None, figsize: tuple[float, float] = (8.0, 6.0)):
    """``(figure, axes)``: the given axes and their figure, or a new figure with one axes."""
    if ax is not None:
        return ax.figure, ax
    return pyplot().subplots(figsize=figsize)


def one_image(table, image_id: str, kind: str):
    """The rows of ``table`` on ``image_id`` (``None`` stays ``None``)."""
    if table is None:
        return None
    if "image_id" not in table.columns:
        raise CellConsensusInputError(f"{kind} table lacks column 'image_id'")
    return table[table["image_id"].astype(str) == str(image_id)]
