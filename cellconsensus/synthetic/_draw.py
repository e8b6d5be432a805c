"""Drawing primitives shared by the synthetic renderers.

Everything works on a small window around one object, with coordinates as
broadcastable row and column vectors (never a full meshgrid), so drawing a
cell costs in proportion to its area and whole images need no per-pixel
Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = [
    "Window",
    "window",
    "polar",
    "soft_inside",
    "harmonics",
    "angular_bumps",
    "RandomField",
    "Fields",
    "illumination",
    "to_uint8",
    "daughters",
]


@dataclass(frozen=True)
class Window:
    """A rectangle of the image and pixel offsets from an object's centre."""

    rows: slice
    cols: slice
    dx: np.ndarray  # shape (1, w)
    dy: np.ndarray  # shape (h, 1)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.dy.shape[0], self.dx.shape[1])


def window(
    cx: float,
    cy: float,
    reach: float,
    height: int,
    width: int,
    *,
    extent: tuple[float, float, float, float] | None = None,
) -> Window | None:
    """The part of a ``height x width`` image within ``reach`` px of ``(cx, cy)``.

    ``extent`` (``left, right, top, bottom`` offsets from the centre) gives a
    tighter box than a square, for elongated objects; ``reach`` is then a margin
    around it. Returns ``None`` when the part is empty (the object lies off
    the image).

    Examples
    --------
    >>> w = window(5.0, 5.0, 3.0, 100, 100)
    >>> w.shape, float(w.dx[0, 0])
    ((7, 7), -3.0)
    >>> window(50.0, 50.0, 1.0, 100, 100, extent=(-10, 10, -2, 2)).shape
    (7, 23)
    """
    left, right, top, bottom = extent if extent is not None else (0.0, 0.0, 0.0, 0.0)
    x0 = max(int(np.floor(cx + left - reach)), 0)
    x1 = min(int(np.ceil(cx + right + reach)) + 1, width)
    y0 = max(int(np.floor(cy + top - reach)), 0)
    y1 = min(int(np.ceil(cy + bottom + reach)) + 1, height)
    if x0 >= x1 or y0 >= y1:
        return None
    dx = (np.arange(x0, x1, dtype=np.float32) - np.float32(cx))[None, :]
    dy = (np.arange(y0, y1, dtype=np.float32) - np.float32(cy))[:, None]
    return Window(slice(y0, y1), slice(x0, x1), dx, dy)


def polar(
    dx: np.ndarray, dy: np.ndarray, angle: float = 0.0, elongation: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Radius, cosine and sine of the angle in a frame rotated by ``angle`` and stretched.

    An ellipse of axes ``r * sqrt(elongation)`` (along ``angle``) and
    ``r / sqrt(elongation)`` has radius ``r`` in this frame. Cosine and sine
    stand in for the angle itself, so shapes need no ``arctan2`` or ``cos``
    over the window (see :func:`harmonics` and :func:`angular_bumps`).

    Examples
    --------
    >>> rho, cos, sin = polar(np.array([[2.0]]), np.array([[0.0]]), elongation=4.0)
    >>> float(rho[0, 0]), float(cos[0, 0]), float(sin[0, 0])
    (1.0, 1.0, 0.0)
    """
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    k = np.float32(np.sqrt(elongation))
    u = (dx * c + dy * s) / k
    v = (dy * c - dx * s) * k
    rho = np.hypot(u, v)
    inv = np.float32(1) / np.maximum(rho, np.float32(1e-6))
    return rho, np.where(rho > 0, u * inv, np.float32(1)), v * inv


def soft_inside(rho: np.ndarray, radius: np.ndarray | float, edge: float = 1.0) -> np.ndarray:
    """1 inside ``radius``, 0 outside, with a linear ramp ``edge`` px wide.

    Examples
    --------
    >>> soft_inside(np.array([0.0, 5.0, 10.0]), 5.0, edge=2.0).tolist()
    [1.0, 0.5, 0.0]
    """
    return np.clip((radius - rho) / np.float32(edge) + np.float32(0.5), 0, 1)


def harmonics(
    cos: np.ndarray, sin: np.ndarray, amplitudes: np.ndarray, phases: np.ndarray
) -> np.ndarray:
    """``sum_k a_k cos(k theta + p_k)`` for ``k = 1, 2, ...``, by angle-addition recurrences.

    Examples
    --------
    >>> t = np.array([0.3])
    >>> got = harmonics(np.cos(t), np.sin(t), np.array([0.0, 0.5]), np.array([0.0, 0.2]))
    >>> bool(np.isclose(got[0], 0.5 * np.cos(2 * 0.3 + 0.2)))
    True
    """
    out = np.zeros_like(cos)
    ck, sk = cos, sin
    for a, p in zip(amplitudes, phases, strict=True):
        if a:
            out += np.float32(a * np.cos(p)) * ck - np.float32(a * np.sin(p)) * sk
        ck, sk = ck * cos - sk * sin, sk * cos + ck * sin
    return out


def angular_bumps(
    cos: np.ndarray, sin: np.ndarray, centres: np.ndarray, widths: np.ndarray, heights: np.ndarray
) -> np.ndarray:
    """Sum of bumps in angle (von Mises shaped, about Gaussian of the given width).

    Added to a radius, a bump with a small width and a large height makes a
    thin, tapering process; a wide, low one makes a bleb or a lobe.

    Examples
    --------
    >>> t = np.array([0.0, np.pi])
    >>> b = angular_bumps(np.cos(t), np.sin(t), np.array([0.0]), np.array([0.1]), np.array([2.0]))
    >>> b.round(3).tolist()
    [2.0, 0.0]
    """
    out = np.zeros_like(cos)
    for c, w, h in zip(centres, widths, heights, strict=True):
        closeness = cos * np.float32(np.cos(c)) + sin * np.float32(np.sin(c)) - np.float32(1)
        out += np.float32(h) * np.exp(closeness / np.float32(w * w))
    return out


class RandomField:
    """A pre-drawn random field that objects and images take random windows of.

    Blurring fresh noise for every cell, or drawing fresh sensor noise for
    every image, would dominate the cost of rendering; windows at random
    offsets of one field per image set look the same and cost a copy.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the field (so it is deterministic given the caller's seed).
    size : int, default 384
        Side of the square field; larger windows wrap around.
    sigma : float, default 0
        Grain in pixels (Gaussian blur); 0 leaves white noise.
    channels : int, optional
        Give the field a trailing channel axis.
    texture : bool, default False
        Rescale to ``[0, 1]`` (1st to 99th percentile) instead of unit variance.

    Examples
    --------
    >>> bank = RandomField(np.random.default_rng(0), size=64, sigma=1.0, texture=True)
    >>> patch = bank.take(np.random.default_rng(1), 10, 20)
    >>> patch.shape, bool(patch.min() >= 0 and patch.max() <= 1)
    ((10, 20), True)
    """

    def __init__(
        self,
        rng: np.random.Generator,
        size: int = 384,
        *,
        sigma: float = 0.0,
        channels: int | None = None,
        texture: bool = False,
    ):
        shape = (size, size) if channels is None else (size, size, channels)
        field = rng.standard_normal(shape, dtype=np.float32)
        if sigma:
            field = ndimage.gaussian_filter(field, (sigma, sigma, 0)[: field.ndim], mode="wrap")
        if texture:
            lo, hi = np.percentile(field, [1, 99])
            field = np.clip((field - lo) / (hi - lo), 0, 1)
        else:
            field = field / field.std()
        self.field = field.astype(np.float32)

    def take(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        """A random ``h x w`` window of the field."""
        n = self.field.shape[0]
        if h <= n and w <= n:
            y0, x0 = (int(v) for v in rng.integers(0, (n - h + 1, n - w + 1)))
            return self.field[y0 : y0 + h, x0 : x0 + w]
        y0, x0 = (int(v) for v in rng.integers(0, n, size=2))
        return self.field[
            (np.arange(y0, y0 + h) % n)[:, None], (np.arange(x0, x0 + w) % n)[None, :]
        ]


@dataclass(frozen=True)
class Fields:
    """The random fields one image set shares: cell texture and sensor noise.

    Examples
    --------
    >>> Fields.from_seed(0).noise.field.shape
    (640, 640, 3)
    """

    texture: RandomField
    noise: RandomField

    @classmethod
    def from_seed(cls, seed: int) -> Fields:
        """Fields drawn from ``seed`` (deterministic)."""
        rng = np.random.default_rng([seed, 0x7E87])
        return cls(
            texture=RandomField(rng, 384, sigma=1.2, texture=True),
            noise=RandomField(rng, 640, channels=3),
        )


def illumination(rng: np.random.Generator, height: int, width: int, strength: float) -> np.ndarray:
    """A smooth multiplicative field around 1 (vignetting and a tilt), shape ``(h, w)``.

    Separable, so it costs one outer product.

    Examples
    --------
    >>> f = illumination(np.random.default_rng(0), 30, 40, 0.2)
    >>> f.shape, bool(0.6 < f.min() <= f.max() < 1.4)
    ((30, 40), True)
    """
    x = np.linspace(-1, 1, width, dtype=np.float32)
    y = np.linspace(-1, 1, height, dtype=np.float32)
    cx, cy = rng.uniform(-0.6, 0.6, size=2)
    tilt_x, tilt_y = rng.uniform(-1, 1, size=2) * strength / 2
    fx = -strength / 2 * (x - cx) ** 2 + tilt_x * x
    fy = -strength / 2 * (y - cy) ** 2 + tilt_y * y
    # 0.45 * strength is the mean of the two parabolas, so the field averages about 1.
    return np.float32(1 + 0.45 * strength) + fy[:, None] + fx[None, :]


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Round and clip a float image to ``uint8``.

    Examples
    --------
    >>> to_uint8(np.array([-3.0, 12.6, 300.0])).tolist()
    [0, 13, 255]
    """
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def daughters(
    x: float, y: float, size: float, rng: np.random.Generator
) -> tuple[list[tuple[float, float]], float]:
    """Centres and diameter of the two daughters of a dividing cell of diameter ``size``:
    side by side along a random axis, overlapping a little (the cleavage furrow between).

    Examples
    --------
    >>> centres, diameter = daughters(10.0, 10.0, 20.0, np.random.default_rng(0))
    >>> diameter, round(float(np.hypot(*np.subtract(*centres))), 1)
    (12.0, 10.4)
    """
    angle = rng.uniform(0, np.pi)
    dx, dy = 0.26 * size * np.cos(angle), 0.26 * size * np.sin(angle)
    return [(x - dx, y - dy), (x + dx, y + dy)], 0.6 * size
