"""A contact sheet: random patches of each class, as one PNG."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from .read import open_patches

__all__ = ["contact_sheet"]


def contact_sheet(
    store: str | os.PathLike | Any,
    out: str | os.PathLike,
    size: int | None = None,
    *,
    per_class: int = 12,
    split: str | None = None,
    scale: int | None = None,
    seed: int = 0,
    storage_options: dict | None = None,
) -> Path:
    """Draw ``per_class`` random patches of every label, one row per label.

    Parameters
    ----------
    store : path, fsspec URL or zarr store
        A complete patch store.
    out : path-like
        PNG to write.
    size : int, optional
        Patch size (default: the store's only size).
    per_class : int, default 12
        Patches per row.
    split : str, optional
        Only this split (``train``, ``val``, ``test``).
    scale : int, optional
        Magnification; default so that patches are shown at least 64 px.
    seed : int, default 0
        Which patches are drawn.
    storage_options : dict, optional
        For fsspec URLs.

    Returns
    -------
    Path
        The PNG.

    Examples
    --------
    >>> contact_sheet("patches.zarr", "sheet.png")  # doctest: +SKIP
    """
    ds = open_patches(store, size, storage_options=storage_options)
    labels = (
        ds["label"].values.astype(object)
        if "label" in ds.coords
        else np.full(ds.sizes["cell"], "all")
    )
    keep = (
        np.ones(len(labels), bool) if split is None else ds["split"].values.astype(object) == split
    )
    side = ds.sizes["y"]
    scale = scale or max(1, -(-64 // side))
    tile, title, pad = side * scale, 16, 4
    classes = sorted(set(labels[keep]))
    rng = np.random.default_rng(seed)
    sheet = Image.new(
        "RGB",
        (pad + per_class * (tile + pad), max(1, len(classes)) * (tile + title + pad)),
        "white",
    )
    draw = ImageDraw.Draw(sheet)
    for row, label in enumerate(classes):
        pool = np.flatnonzero(keep & (labels == label))
        chosen = np.sort(rng.choice(pool, size=min(per_class, len(pool)), replace=False))
        top = row * (tile + title + pad)
        draw.text((pad, top + 2), f"{label} ({len(pool)} patches)", fill="black")
        pixels = ds["patches"].isel(cell=chosen).values
        for k, patch in enumerate(pixels):
            image = Image.fromarray(patch[..., 0] if patch.shape[2] == 1 else patch)
            sheet.paste(
                image.resize((tile, tile), Image.Resampling.NEAREST),
                (pad + k * (tile + pad), top + title),
            )
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path
