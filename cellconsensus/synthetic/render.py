"""Render synthetic truth tables into images, deterministically and in parallel."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from .._parallel import map_chunks
from ..tables import split_by_image
from ._draw import Fields
from .brightfield import render_brightfield
from .fluorescence import render_fluorescence
from .styles import Style, get_style
from .truth import make_truth

__all__ = [
    "render_image",
    "render_images",
    "make_images",
    "SyntheticImages",
]

RENDERERS: dict[str, Callable[..., np.ndarray]] = {
    "fluorescence": render_fluorescence,
    "brightfield": render_brightfield,
}


@lru_cache(maxsize=8)
def _fields(seed: int) -> Fields:
    return Fields.from_seed(seed)


def _image_rng(seed: int, image_id: str) -> np.random.Generator:
    # Keyed by the image id, not its position: an image looks the same whichever
    # subset of images is rendered, in whatever order, by however many workers.
    return np.random.default_rng([seed, zlib.crc32(image_id.encode())])


def _style_of(truth: pd.DataFrame, style: str | Style | None) -> Style:
    if style is None:
        style = truth.attrs.get("style")
        if style is None:
            raise ValueError(
                "truth.attrs has no 'style': pass style='fluorescence' or 'brightfield'"
            )
    return get_style(style)


def _canvas(cells: pd.DataFrame, spec: Style) -> tuple[int, int]:
    if len(cells) and {"image_width", "image_height"} <= set(cells.columns):
        w, h = cells["image_width"].iloc[0], cells["image_height"].iloc[0]
        if np.isfinite(w) and np.isfinite(h):
            return int(w), int(h)
    return spec.canvas


def render_image(
    cells: pd.DataFrame,
    image_id: str,
    *,
    style: str | Style | None = None,
    seed: int = 0,
    noise: float = 1.0,
    canvas: tuple[int, int] | None = None,
) -> np.ndarray:
    """Render the cells of one image.

    Parameters
    ----------
    cells : DataFrame
        The truth rows of this image (``x, y, size, phenotype``, as
        :func:`~cellconsensus.synthetic.make_truth` gives); may be empty. A
        missing ``phenotype`` is taken from the label (the style's first
        phenotype for it).
    image_id : str
        Keys the random details, so an image renders identically wherever it
        is rendered.
    style : {"fluorescence", "brightfield"}, optional
        Default: ``cells.attrs["style"]``.
    seed : int, default 0
        With ``image_id``, fixes every random detail.
    noise : float, default 1.0
        Scales sensor noise and uneven illumination (0 gives clean images).
    canvas : (width, height), optional
        Default: the truth's ``image_width``/``image_height``, else the style's.

    Returns
    -------
    ndarray
        ``uint8``; ``(height, width, 3)`` for fluorescence, ``(height, width)``
        for brightfield.

    Examples
    --------
    >>> truth = make_truth(n_images=1, seed=0)
    >>> render_image(truth, "syn00000", seed=0).shape
    (391, 524, 3)
    """
    spec = _style_of(cells, style)
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    if "phenotype" in cells.columns:
        phenotype = cells["phenotype"].to_numpy()
    else:
        first = {
            "alive": spec.alive_phenotypes[0][0],
            "dead": spec.dead_phenotypes[0][0],
            "mitotic": spec.mitotic_phenotypes[0][0],
        }
        phenotype = cells["label"].astype(str).map(first).to_numpy()
    return RENDERERS[spec.name](
        cells["x"].to_numpy(float),
        cells["y"].to_numpy(float),
        cells["size"].to_numpy(float),
        phenotype,
        canvas=canvas or _canvas(cells, spec),
        rng=_image_rng(seed, image_id),
        fields=_fields(seed),
        noise=noise,
    )


def _render_chunk(groups, spec, seed, noise):
    return [render_image(cells, iid, style=spec, seed=seed, noise=noise) for iid, cells in groups]


def render_images(
    truth: pd.DataFrame,
    *,
    style: str | Style | None = None,
    seed: int = 0,
    noise: float = 1.0,
    n_jobs: int = 1,
    progress: bool = False,
) -> Iterator[tuple[str, np.ndarray]]:
    """Render every image of a truth table, lazily, in the order of its image ids.

    Parameters
    ----------
    truth : DataFrame
        From :func:`~cellconsensus.synthetic.make_truth`; images listed in
        ``truth.attrs["image_ids"]`` without cells are rendered too.
    style, seed, noise
        See :func:`render_image`.
    n_jobs : int, default 1
        Worker processes (-1: all cores). Results do not depend on it.
    progress : bool, default False
        Show a progress bar.

    Yields
    ------
    (str, ndarray)
        Image id and pixels. Only a few chunks are held in memory at a time.

    Examples
    --------
    >>> truth = make_truth(n_images=3, seed=0)
    >>> [(iid, img.shape) for iid, img in render_images(truth)][0]
    ('syn00000', (391, 524, 3))
    """
    spec = _style_of(truth, style)
    yield from map_chunks(
        _render_chunk,
        split_by_image(truth),
        spec,
        seed,
        noise,
        n_jobs=n_jobs,
        desc=f"rendering ({spec.name})",
        progress=progress,
    )


@dataclass
class SyntheticImages:
    """Synthetic images and their ground truth.

    Attributes
    ----------
    truth : DataFrame
        One row per cell (see :func:`~cellconsensus.synthetic.make_truth`).
    images : dict of str to ndarray
        Pixels by image id, in the order of ``truth.attrs["image_ids"]``.
    style : str
        ``"fluorescence"`` or ``"brightfield"``.
    seed : int
        The seed both were made with.
    """

    truth: pd.DataFrame
    images: dict[str, np.ndarray]
    style: str
    seed: int


def make_images(
    n_images: int = 20,
    *,
    style: str = "fluorescence",
    cells_per_image: tuple[int, int] | None = None,
    dead_fraction: float = 0.35,
    mitotic_fraction: float = 0.0,
    cell_size: tuple[float, float] | None = None,
    noise: float = 1.0,
    seed: int = 0,
    n_jobs: int = 1,
    progress: bool = False,
) -> SyntheticImages:
    """Generate ground truth and render its images, in memory.

    For large sets, write them to disk with
    :func:`~cellconsensus.synthetic.write_synthetic` (which streams) instead.

    Parameters
    ----------
    n_images, style, cells_per_image, dead_fraction, mitotic_fraction, cell_size, seed
        See :func:`~cellconsensus.synthetic.make_truth`.
    noise, n_jobs, progress
        See :func:`render_images`.

    Returns
    -------
    SyntheticImages

    Examples
    --------
    >>> data = make_images(2, style="brightfield", seed=3)
    >>> list(data.images), data.images["syn00000"].shape
    (['syn00000', 'syn00001'], (219, 225))
    """
    truth = make_truth(
        n_images,
        style=style,
        cells_per_image=cells_per_image,
        cell_size=cell_size,
        dead_fraction=dead_fraction,
        mitotic_fraction=mitotic_fraction,
        seed=seed,
    )
    images = dict(render_images(truth, seed=seed, noise=noise, n_jobs=n_jobs, progress=progress))
    return SyntheticImages(truth=truth, images=images, style=get_style(style).name, seed=seed)
