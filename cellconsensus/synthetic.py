"""Built-in synthetic ground truth: cell positions, sizes and labels.

The issue on synthetic microscopy extends this module with rendered images;
for consensus work, positions and labels are all that is needed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .io.voc import TRUTH_COLUMNS
from .tables import LABEL_DTYPE

__all__ = ["make_truth"]


def make_truth(
    n_images: int = 20,
    *,
    cells_per_image: tuple[int, int] = (5, 40),
    canvas: tuple[int, int] = (524, 391),
    cell_size: tuple[float, float] = (25.0, 45.0),
    dead_fraction: float = 0.35,
    seed: int = 0,
) -> pd.DataFrame:
    """Generate ground-truth cells (the table :func:`~cellconsensus.io.read_voc` returns).

    Cells sit on a jittered grid with a pitch of 1.1 times the largest cell
    size, so they never overlap but may touch, as in a dense culture.

    Parameters
    ----------
    n_images : int, default 20
        Number of images (ids ``syn00000``, ``syn00001``, ...).
    cells_per_image : (int, int), default (5, 40)
        Inclusive range of the number of cells per image (uniform), capped by
        how many fit on the canvas.
    canvas : (width, height), default (524, 391)
        Image size (the Cell Spotting web canvas).
    cell_size : (float, float), default (25, 45)
        Range of cell diameters in pixels (uniform).
    dead_fraction : float, default 0.35
        Probability that a cell is dead.
    seed : int, default 0
        Random seed; the same seed gives the same table.

    Returns
    -------
    DataFrame
        ``image_id, x, y, width, height, size, label, image_width, image_height``;
        ``attrs["image_ids"]`` lists every image.

    Examples
    --------
    >>> truth = make_truth(n_images=2, cells_per_image=(3, 3), seed=0)
    >>> truth.groupby("image_id").size().tolist()
    [3, 3]
    """
    if n_images < 1:
        raise ValueError(f"n_images must be at least 1, got {n_images}")
    lo, hi = cells_per_image
    if not 0 <= lo <= hi:
        raise ValueError(
            f"cells_per_image must be (low, high) with 0 <= low <= high, got {cells_per_image}"
        )
    rng = np.random.default_rng(seed)
    width, height = canvas
    pitch = 1.1 * cell_size[1]
    nx, ny = int(width // pitch), int(height // pitch)
    if nx * ny == 0:
        raise ValueError(f"cells of size {cell_size[1]} do not fit on a {width} x {height} canvas")
    slots = nx * ny
    counts = np.minimum(rng.integers(lo, hi + 1, size=n_images), slots)
    # A random subset of grid slots per image: the first `count` of a random permutation.
    perm = np.argsort(rng.random((n_images, slots)), axis=1)
    take = np.arange(slots)[None, :] < counts[:, None]
    image = np.repeat(np.arange(n_images), counts)
    slot = perm[take]
    size = rng.uniform(*cell_size, size=len(slot))
    room = (pitch - size) / 2
    margin_x = (width - nx * pitch) / 2
    margin_y = (height - ny * pitch) / 2
    x = margin_x + (slot % nx + 0.5) * pitch + rng.uniform(-1, 1, len(slot)) * room
    y = margin_y + (slot // nx + 0.5) * pitch + rng.uniform(-1, 1, len(slot)) * room
    dead = rng.random(len(slot)) < dead_fraction
    names = np.array([f"syn{i:05d}" for i in range(n_images)], dtype=object)
    truth = pd.DataFrame(
        {
            "image_id": names[image],
            "x": x,
            "y": y,
            "width": size,
            "height": size,
            "size": size,
            "label": pd.Categorical(np.where(dead, "dead", "alive"), dtype=LABEL_DTYPE),
            "image_width": float(width),
            "image_height": float(height),
        }
    )[list(TRUTH_COLUMNS)]
    truth.attrs["image_ids"] = names.tolist()
    return truth
