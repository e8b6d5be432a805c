"""Detections drawn on their images, one PNG per image."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from cellconsensus.io._files import atomic_write, safe_file_name
from cellconsensus.plot import plot_image, pyplot
from cellconsensus.tables import image_ids_of

__all__ = ["draw_detections"]


def draw_detections(
    cells: pd.DataFrame,
    images,
    out_dir: str | os.PathLike,
    *,
    image_ids: Sequence[str] | None = None,
    truth: pd.DataFrame | None = None,
    progress: bool = False,
) -> list[Path]:
    """Write ``<image_id>.png`` per image: its cells circled by label, with the truth's
    misses and the extra cells marked when ``truth`` is given
    (:func:`cellconsensus.plot.plot_image`).

    Parameters
    ----------
    cells : DataFrame
        :func:`~cellcnn.detect.detect`'s table (or any Cells table).
    images : folder, mapping or ImageSource
        Where the pixels come from.
    out_dir : path-like
        Folder of the PNG files (created).
    image_ids : sequence of str, optional
        Default ``cells.attrs["image_ids"]``, else the images of ``cells``.
    truth : DataFrame, optional
        True cells: misses and extra cells are marked.
    progress : bool, default False
        A progress bar over the images.

    Returns
    -------
    list of Path
        The files written.

    Examples
    --------
    >>> draw_detections(detect("runs/detector", "new/"), "new/", "drawn/")  # doctest: +SKIP
    """
    ids = image_ids_of(cells, image_ids or None)
    out = Path(out_dir)
    plt = pyplot()
    written = []
    for image_id in tqdm(ids, desc="draw", unit="image", disable=not progress):
        fig = plot_image(str(image_id), images, cells=cells, truth=truth)
        path = out / f"{safe_file_name(str(image_id))}.png"
        written.append(atomic_write(path, lambda p, fig=fig: fig.savefig(p, format="png", dpi=100)))
        plt.close(fig)
    return written
