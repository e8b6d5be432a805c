"""The detector's training crops: random squares of whole images and their targets.

A crop may reach up to the tiles' margin (:data:`~cellcnn.detect.tiles.MARGIN`) beyond
the image's edges, padded as the tiles are at inference
(:data:`~cellcnn.detect.tiles.PADDING`), so that the network learns the edges as it
will see them; it always shows some of the image. On LDC this lifted the test F1 of
two detectors from 0.958 / 0.956 to 0.961 / 0.961 (before, crops stayed inside the
image, padded only where it was smaller than a crop). Each crop is turned into one of
the eight symmetries of the square, its target
(:func:`~cellcnn.detect.heatmap.render_targets`) with it. Only the pixels inside the
image are read: a crop of a zarr image (:mod:`~cellcnn.detect.image_cache`) reads the
chunks it touches.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .heatmap import render_targets
from .tiles import PADDING

__all__ = ["TrainingImage", "crop_range", "random_crop", "crop_stream"]


@dataclass(frozen=True)
class TrainingImage:
    """One training image: its pixels and its cells' positions and targets.

    Attributes
    ----------
    pixels : array ``(H, W, C)``
        In memory, or a zarr array of an image cache (read a crop at a time).
    x, y : arrays ``(n,)``
        The cells' centres.
    proba : array ``(n, K)``
        Their class probabilities.
    weight, class_weight : arrays ``(n,)``
        Their weights in the centre map's and the class maps' losses.
    """

    pixels: np.ndarray
    x: np.ndarray
    y: np.ndarray
    proba: np.ndarray
    weight: np.ndarray
    class_weight: np.ndarray


def crop_range(n: int, side: int, reach: int) -> tuple[int, int]:
    """The range (``low``, ``high`` exclusive) of a crop's first row (or column) on an
    image of ``n`` rows: at most ``reach`` beyond either edge, never wholly beyond it.

    Examples
    --------
    >>> crop_range(220, 128, 32)
    (-32, 125)
    >>> crop_range(10, 16, 0)  # an image smaller than a crop: padded after it
    (0, 1)
    """
    low = max(-reach, 1 - side)
    return low, max(min(n + reach - side, n - 1), low) + 1


def random_crop(
    image: TrainingImage, side: int, rng: np.random.Generator, sigma: float, reach: int
) -> tuple[np.ndarray, np.ndarray]:
    """A random ``side`` crop of an image reaching at most ``reach`` beyond its edges,
    one of the square's symmetries, and its target (bumps of width ``sigma``).

    Examples
    --------
    >>> image = TrainingImage(np.zeros((40, 50, 1), np.uint8), np.array([20.0]),
    ...                       np.array([25.0]), np.array([[1.0, 0.0]]), np.ones(1), np.ones(1))
    >>> patch, target = random_crop(image, 32, np.random.default_rng(0), 3.0, 8)
    >>> patch.shape, target.shape
    ((32, 32, 1), (32, 32, 5))
    """
    pixels, x, y = image.pixels, image.x, image.y
    height, width = pixels.shape[:2]
    top, left = (int(rng.integers(*crop_range(n, side, reach))) for n in (height, width))
    y0, y1 = max(top, 0), min(top + side, height)
    x0, x1 = max(left, 0), min(left + side, width)
    patch = np.pad(np.asarray(pixels[y0:y1, x0:x1]),
                   ((y0 - top, top + side - y1), (x0 - left, left + side - x1), (0, 0)),
                   mode=PADDING)  # fmt: skip
    target = render_targets((side, side), x - left, y - top, image.proba, sigma=sigma,
                            weight=image.weight, class_weight=image.class_weight)  # fmt: skip
    turns, flip = int(rng.integers(4)), bool(rng.integers(2))
    patch, target = np.rot90(patch, turns), np.rot90(target, turns)
    if flip:
        patch, target = patch[:, ::-1], target[:, ::-1]
    return np.ascontiguousarray(patch), np.ascontiguousarray(target)


def crop_stream(
    images: list[TrainingImage], side: int, sigma: float, reach: int, seed: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Endless :func:`random_crop` of the images, each once per pass in a random order."""
    rng = np.random.default_rng(seed)
    while True:
        for i in rng.permutation(len(images)):
            yield random_crop(images[i], side, rng, sigma, reach)
