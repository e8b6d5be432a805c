"""Brightfield style: small round cells in a counting chamber, grey.

Imitates the LDC images (``../shared/data/ldc``, trypan-blue viability
counts): a mid-grey background with uneven illumination; living cells about
18 px across, a dark phase ring around a bright, often off-centre highlight;
dead cells a little larger, stained dark and grainy throughout, some with a
faint centre left; dividing cells (the optional third class) two small bright
daughters side by side; out-of-focus ghosts; the chamber's grid lines (a dark
line with a bright edge, in parallel groups); blur and noise. Measured on the
LDC data: background about 103 grey levels (spread 21 between images), a
living cell's centre +80 and its ring -36, a dead cell -25 to -29 out to
0.9 radii, pixel noise about 4.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ._draw import Fields, daughters, illumination, polar, soft_inside, to_uint8, window

__all__ = ["render_brightfield"]


def _gauss(d: np.ndarray, width: float) -> np.ndarray:
    return np.exp(-0.5 * (d / np.float32(width)) ** 2)


def _cell(image, x, y, size, phenotype, rng, fields):
    if phenotype == "dividing":  # two daughters, each drawn as a cell of its own
        centres, diameter = daughters(x, y, size, rng)
        for cx, cy in centres:
            _cell(image, cx, cy, diameter, "daughter", rng, fields)
        return
    height, width = image.shape
    radius = size / 2
    win = window(x, y, 1.4 * radius + 2, height, width)
    if win is None:
        return
    rho, _, _ = polar(win.dx, win.dy, rng.uniform(0, np.pi), rng.uniform(1.0, 1.15))
    # The highlight: elongated and off-centre, with a dark crescent opposite it.
    ox, oy = rng.normal(0, 0.15 * radius, 2)
    glint, _, _ = polar(
        win.dx - np.float32(ox), win.dy - np.float32(oy), rng.uniform(0, np.pi), rng.uniform(1, 3)
    )
    centre = _gauss(glint, 0.25 * radius)
    shade = _gauss(np.hypot(win.dx + np.float32(2 * ox), win.dy + np.float32(2 * oy)), 0.3 * radius)
    halo = _gauss(rho - np.float32(1.15 * radius), 0.15 * radius)
    if phenotype == "stained":
        grain = 0.7 + 0.6 * fields.texture.take(rng, *win.shape)
        body = soft_inside(rho, np.float32(0.9 * radius), edge=0.3 * radius)
        ring = _gauss(rho - np.float32(0.85 * radius), 0.15 * radius)
        faint = rng.uniform(5, 60) if rng.random() < 0.5 else 0.0
        layer = -rng.uniform(8, 40) * body * grain - 10 * ring + faint * centre + 5 * halo
    else:  # bright-centred living cell (or a daughter of a dividing one)
        ring = _gauss(rho - np.float32(0.72 * radius), 0.22 * radius)
        layer = (
            -rng.uniform(20, 55) * ring
            + rng.uniform(10, 140) * centre
            - rng.uniform(0, 25) * shade
            + 8 * halo
        )
    image[win.rows, win.cols] += layer


def _ghosts(image, rng):
    """Out-of-focus cells and debris: faint, large, soft blobs (not labelled)."""
    height, width = image.shape
    for _ in range(rng.poisson(0.8)):
        x, y, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(6, 14)
        win = window(x, y, 2 * r, height, width)
        if win is not None:
            d = np.hypot(win.dx, win.dy)
            image[win.rows, win.cols] += rng.uniform(-10, 4) * _gauss(d, r / 1.5)


def _grid_lines(image, rng):
    """A counting chamber's ruling: groups of parallel bands, light with dark edges."""
    if rng.random() >= 0.3:
        return
    height, width = image.shape
    yy = np.arange(height, dtype=np.float32)[:, None]
    xx = np.arange(width, dtype=np.float32)[None, :]
    theta = rng.normal(0, 0.02) + (np.pi / 2 if rng.random() < 0.5 else 0.0)
    # Signed distance from a line through the origin with direction theta.
    normal = yy * np.float32(np.cos(theta)) - xx * np.float32(np.sin(theta))
    lo, hi = float(normal.min()), float(normal.max())
    position = rng.uniform(lo, hi)
    for _ in range(rng.integers(1, 4)):
        band = rng.uniform(6, 10)
        d = np.abs(normal - np.float32(position))
        image += 20 * soft_inside(d, np.float32(band / 2), edge=1.5) - 35 * _gauss(
            d - np.float32(band / 2), 1.2
        )
        position += rng.choice([-1, 1]) * rng.uniform(10, 40)


def render_brightfield(
    x: np.ndarray,
    y: np.ndarray,
    size: np.ndarray,
    phenotype: np.ndarray,
    *,
    canvas: tuple[int, int],
    rng: np.random.Generator,
    fields: Fields,
    noise: float = 1.0,
) -> np.ndarray:
    """Render one brightfield image, ``(height, width)`` ``uint8``.

    Parameters are those of
    :func:`~cellconsensus.synthetic.fluorescence.render_fluorescence`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> img = render_brightfield([30.0], [30.0], [18.0], ["bright-centred"], canvas=(60, 50),
    ...                          rng=rng, fields=Fields.from_seed(0), noise=0)
    >>> img.shape, img.dtype.name
    ((50, 60), 'uint8')
    >>> bool(img[30, 30] > img[5, 5])  # the bright centre of a living cell
    True
    """
    width, height = canvas
    image = np.full((height, width), 103 + rng.normal(0, 15) * min(noise, 1), dtype=np.float32)
    for cx, cy, s, p in zip(x, y, size, phenotype, strict=True):
        _cell(image, float(cx), float(cy), float(s), p, rng, fields)
    _ghosts(image, rng)
    _grid_lines(image, rng)
    image *= illumination(rng, height, width, 0.15 * noise)
    image = ndimage.gaussian_filter(image, rng.uniform(0.4, 1.1))  # focus varies
    if noise > 0:
        image += fields.noise.take(rng, height, width)[..., 0] * np.float32(3.5 * noise)
    return to_uint8(image)
