"""Built-in synthetic ground truth: cell positions, sizes, labels and phenotypes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..io.voc import TRUTH_COLUMNS
from ..tables import LABEL_DTYPE, Vocabulary
from .styles import Style, get_style

__all__ = ["make_truth", "image_names", "MITOTIC_CLASSES"]


def image_names(n_images: int) -> list[str]:
    """Ids of synthetic images: ``syn00000``, ``syn00001``, ...

    Examples
    --------
    >>> image_names(2)
    ['syn00000', 'syn00001']
    """
    return [f"syn{i:05d}" for i in range(n_images)]


#: The label set of synthetic truth with dividing cells (``mitotic_fraction > 0``).
MITOTIC_CLASSES = Vocabulary(("alive", "dead", "mitotic"))


def _phenotypes(
    rng: np.random.Generator, code: np.ndarray, style: Style
) -> tuple[np.ndarray, np.ndarray]:
    """A phenotype name and size factor per cell (class codes 0 alive, 1 dead, 2 mitotic),
    drawn by the style's probabilities."""
    names = np.empty(len(code), dtype=object)
    factor = np.ones(len(code))
    u = rng.random(len(code))
    options_of = (style.alive_phenotypes, style.dead_phenotypes, style.mitotic_phenotypes)
    for k, options in enumerate(options_of):
        mask = code == k
        if not mask.any():
            continue
        edges = np.cumsum([p for _, p, _ in options])
        pick = np.minimum(np.searchsorted(edges / edges[-1], u[mask], side="right"), len(edges) - 1)
        names[mask] = np.array([n for n, _, _ in options], dtype=object)[pick]
        factor[mask] = np.array([f for _, _, f in options])[pick]
    return names, factor


def make_truth(
    n_images: int = 20,
    *,
    style: str | Style = "fluorescence",
    cells_per_image: tuple[int, int] | None = None,
    canvas: tuple[int, int] | None = None,
    cell_size: tuple[float, float] | None = None,
    dead_fraction: float = 0.35,
    mitotic_fraction: float = 0.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Generate ground-truth cells (the table :func:`~cellconsensus.io.read_voc` returns).

    Cells sit on a jittered grid whose pitch is 1.1 times the largest drawn
    cell, so they never overlap but may touch, as in a dense culture. Each cell
    gets a *phenotype* from the style (e.g. ``spread`` or ``rounded`` living
    cells, ``apoptotic`` or ``necrotic`` dead ones) that scales its size and
    tells the renderer how to draw it.

    Parameters
    ----------
    n_images : int, default 20
        Number of images (ids ``syn00000``, ``syn00001``, ...).
    style : {"fluorescence", "brightfield"}, default "fluorescence"
        Sets the defaults below (see :mod:`cellconsensus.synthetic.styles`).
    cells_per_image : (int, int), optional
        Inclusive range of the number of cells per image (uniform), capped by
        how many fit on the canvas. Default: the style's, (3, 20) or (0, 7).
    canvas : (width, height), optional
        Image size; default the style's, 524 x 391 or 225 x 219.
    cell_size : (float, float), optional
        Range of living-cell diameters in pixels (uniform) before the
        phenotype's size factor; default the style's, (40, 70) or (15, 21).
    dead_fraction : float, default 0.35
        Probability that a cell is dead.
    mitotic_fraction : float, default 0.0
        Probability that a cell is dividing (a third class, ``mitotic``: two round
        daughters side by side, each with a condensed bright nucleus). With any, the
        labels are ``alive``, ``dead`` and ``mitotic`` and ``attrs["classes"]`` is
        :data:`MITOTIC_CLASSES`.
    seed : int, default 0
        Random seed; the same seed gives the same table.

    Returns
    -------
    DataFrame
        ``image_id, x, y, width, height, size, label, image_width,
        image_height, phenotype``; ``attrs["image_ids"]`` lists every image
        (including any without cells) and ``attrs["style"]`` names the style.

    Examples
    --------
    >>> truth = make_truth(n_images=2, cells_per_image=(3, 3), seed=0)
    >>> truth.groupby("image_id").size().tolist()
    [3, 3]
    >>> sorted(set(make_truth(50, seed=1)["phenotype"]))
    ['apoptotic', 'necrotic', 'rounded', 'spread']
    >>> make_truth(50, mitotic_fraction=0.2, seed=1)["label"].value_counts().sort_index().tolist()
    [235, 209, 125]
    """
    spec = get_style(style)
    if n_images < 1:
        raise ValueError(f"n_images must be at least 1, got {n_images}")
    lo, hi = cells_per_image if cells_per_image is not None else spec.cells_per_image
    if not 0 <= lo <= hi:
        raise ValueError(
            f"cells_per_image must be (low, high) with 0 <= low <= high, got {(lo, hi)}"
        )
    if not (0 <= dead_fraction <= 1 and 0 <= mitotic_fraction <= 1 - dead_fraction):
        raise ValueError(
            "dead_fraction and mitotic_fraction must be in [0, 1] with a sum of at most 1, "
            f"got {dead_fraction} and {mitotic_fraction}"
        )
    width, height = canvas if canvas is not None else spec.canvas
    size_lo, size_hi = cell_size if cell_size is not None else spec.cell_size
    if not 0 < size_lo <= size_hi:
        raise ValueError(f"cell_size must be (low, high) with 0 < low <= high, got {cell_size}")
    rng = np.random.default_rng(seed)
    pitch = 1.1 * size_hi * spec.max_size_factor
    nx, ny = int(width // pitch), int(height // pitch)
    if nx * ny == 0:
        raise ValueError(f"cells of size {size_hi} do not fit on a {width} x {height} canvas")
    slots = nx * ny
    counts = np.minimum(rng.integers(lo, hi + 1, size=n_images), slots)
    # A random subset of grid slots per image: the first `count` of a random permutation.
    perm = np.argsort(rng.random((n_images, slots)), axis=1)
    take = np.arange(slots)[None, :] < counts[:, None]
    image = np.repeat(np.arange(n_images), counts)
    slot = perm[take]
    base = rng.uniform(size_lo, size_hi, size=len(slot))
    u = rng.random(len(slot))
    code = np.where(u < dead_fraction, 1, np.where(u < dead_fraction + mitotic_fraction, 2, 0))
    phenotype, factor = _phenotypes(rng, code, spec)
    size = base * factor
    room = (pitch - size) / 2
    margin_x = (width - nx * pitch) / 2
    margin_y = (height - ny * pitch) / 2
    x = margin_x + (slot % nx + 0.5) * pitch + rng.uniform(-1, 1, len(slot)) * room
    y = margin_y + (slot // nx + 0.5) * pitch + rng.uniform(-1, 1, len(slot)) * room
    names = np.array(image_names(n_images), dtype=object)
    label_dtype = (
        pd.CategoricalDtype(list(MITOTIC_CLASSES.classes)) if mitotic_fraction else LABEL_DTYPE
    )
    truth = pd.DataFrame(
        {
            "image_id": names[image],
            "x": x,
            "y": y,
            "width": size,
            "height": size,
            "size": size,
            "label": pd.Categorical.from_codes(code, dtype=label_dtype),
            "image_width": float(width),
            "image_height": float(height),
            "phenotype": phenotype,
        }
    )[[*TRUTH_COLUMNS, "phenotype"]]
    truth.attrs["image_ids"] = names.tolist()
    truth.attrs["style"] = spec.name
    if mitotic_fraction:
        truth.attrs["classes"] = MITOTIC_CLASSES
    return truth
