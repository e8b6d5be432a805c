"""Where the crowd, or the strategies, disagree: per cell, per image, per strategy pair.

Without ground truth, disagreement is the next best thing: a cell whose label the
model finds a coin flip, a cell that may not be real, an image on which two
strategies find different cells. These tables feed the report's rankings and the
plots of :mod:`cellconsensus.plot`.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

import numpy as np
import pandas as pd

from .metrics import score

__all__ = ["cell_doubt", "strategy_agreement", "image_disagreement"]


def cell_doubt(cells: pd.DataFrame) -> pd.DataFrame:
    """How much in doubt each cell is: its label, and whether it is a cell at all.

    Parameters
    ----------
    cells : DataFrame
        A Cells table (``p_alive``; ``p_real`` where the annotator model made it).

    Returns
    -------
    DataFrame
        Aligned with ``cells``: ``label_doubt = 1 - |2 p_alive - 1|`` (0 when the
        label model is certain, 1 for a coin flip), ``real_doubt`` the same of
        ``p_real`` (0 without that column; NaN where the annotator model does not
        assess a cell: images with a single annotator) and ``doubt``, the larger
        of the two (the label doubt where the other is NaN).

    Examples
    --------
    >>> import pandas as pd
    >>> cells = pd.DataFrame({"p_alive": [1.0, 0.5, 0.9], "p_real": [1.0, 1.0, 0.6]})
    >>> cell_doubt(cells)["doubt"].round(2).tolist()
    [0.0, 1.0, 0.8]
    """
    label = 1 - np.abs(2 * cells["p_alive"].to_numpy(dtype=float) - 1)
    if "p_real" in cells:
        real = 1 - np.abs(2 * cells["p_real"].to_numpy(dtype=float) - 1)
    else:
        real = np.zeros(len(cells))
    return pd.DataFrame(
        {"label_doubt": label, "real_doubt": real, "doubt": np.fmax(label, real)},
        index=cells.index,
    )


def _pair(a: pd.DataFrame, b: pd.DataFrame, images: list[str], tolerance, default_size):
    """Matched cells per image between two Cells tables (b plays the truth)."""
    matches = score(a, b, tolerance=tolerance, default_size=default_size, image_ids=images).matches
    return matches.groupby("image_id").size().reindex(images, fill_value=0)


def _counts(cells: pd.DataFrame, images: list[str]) -> pd.Series:
    return cells["image_id"].astype(str).value_counts().reindex(images, fill_value=0)


def _images(cells_by_name: Mapping[str, pd.DataFrame]) -> list[str]:
    ids = set()
    for cells in cells_by_name.values():
        ids |= set(cells["image_id"].astype(str))
    return sorted(ids)


def strategy_agreement(
    cells_by_name: Mapping[str, pd.DataFrame],
    *,
    tolerance: float = 0.5,
    default_size: float = 30.0,
) -> pd.DataFrame:
    """Pairwise detection F1 between the cells of several strategies (no truth needed).

    Each pair is matched as :func:`~cellconsensus.score` matches cells to truth
    (Hungarian, within ``tolerance * default_size`` px); the F1 of a pair is
    ``2 * matched / (n_a + n_b)``, symmetric, 1 on the diagonal.

    Parameters
    ----------
    cells_by_name : mapping of str to DataFrame
        Cells tables by strategy name.
    tolerance, default_size : float
        As in :func:`~cellconsensus.score` (cells have no size: ``default_size``
        px is assumed).

    Returns
    -------
    DataFrame
        Square, indexed and columned by the names.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"image_id": ["i", "i"], "x": [10.0, 60], "y": [10.0, 60],
    ...                   "label": "alive"})
    >>> b = a.iloc[:1]
    >>> float(strategy_agreement({"a": a, "b": b}).loc["a", "b"].round(3))
    0.667
    """
    names = list(cells_by_name)
    images = _images(cells_by_name)
    matrix = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for a, b in combinations(names, 2):
        matched = _pair(cells_by_name[a], cells_by_name[b], images, tolerance, default_size).sum()
        total = len(cells_by_name[a]) + len(cells_by_name[b])
        matrix.loc[a, b] = matrix.loc[b, a] = 2 * matched / total if total else 1.0
    return matrix


def image_disagreement(
    cells_by_name: Mapping[str, pd.DataFrame],
    *,
    tolerance: float = 0.5,
    default_size: float = 30.0,
) -> pd.DataFrame:
    """Per image, how much the strategies agree, the least agreed images first.

    Parameters
    ----------
    cells_by_name : mapping of str to DataFrame
        Cells tables by strategy name (at least two).
    tolerance, default_size : float
        As in :func:`strategy_agreement`.

    Returns
    -------
    DataFrame
        One row per image with cells in any table: ``image_id``, ``agreement``
        (mean pairwise F1 on the image; 1 where no strategy found a cell),
        ``min_cells``, ``max_cells`` and one ``n_<name>`` column per strategy;
        sorted by ``agreement`` then ``image_id``.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"image_id": ["i", "j"], "x": [10.0, 10], "y": [10.0, 10],
    ...                   "label": "alive"})
    >>> image_disagreement({"a": a, "b": a.iloc[1:]})["image_id"].tolist()
    ['i', 'j']
    """
    names = list(cells_by_name)
    if len(names) < 2:
        raise ValueError(f"image_disagreement needs two or more tables, got {len(names)}")
    images = _images(cells_by_name)
    counts = pd.DataFrame({f"n_{n}": _counts(cells_by_name[n], images) for n in names})
    f1 = []
    for a, b in combinations(names, 2):
        matched = _pair(cells_by_name[a], cells_by_name[b], images, tolerance, default_size)
        total = counts[f"n_{a}"] + counts[f"n_{b}"]
        f1.append(np.where(total > 0, 2 * matched / total.where(total > 0, 1), 1.0))
    table = pd.DataFrame(
        {
            "image_id": images,
            "agreement": np.mean(f1, axis=0) if images else [],
            "min_cells": counts.min(axis=1).to_numpy(),
            "max_cells": counts.max(axis=1).to_numpy(),
        }
    )
    table = pd.concat([table, counts.reset_index(drop=True)], axis=1)
    return table.sort_values(["agreement", "image_id"], kind="stable").reset_index(drop=True)
