"""Fluorescence style: blue nuclei and green cytoplasm over a phase-contrast background.

Imitates the Cell Spotting images (``../shared/data/cellspotting``): a
grey-green background (the phase-contrast channel), living cells spread with
long tapering processes and granular green mitochondria around a large,
textured blue nucleus; some living cells rounded. Dividing cells (the optional
third class) are two round daughters side by side with condensed bright nuclei. Dead cells
are *apoptotic* (shrunken, round, blebbing membrane, condensed and sometimes
fragmented bright nucleus, dense green) or *necrotic* (swollen, faint green,
pale nucleus, inside a large pale membrane bubble). Debris, touching cells,
uneven illumination and sensor noise complete the picture.

Cells are drawn as three stain maps (phase-contrast grey, green, blue), which
are mixed into RGB once per image.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._draw import (
    Fields,
    angular_bumps,
    daughters,
    harmonics,
    illumination,
    polar,
    soft_inside,
    to_uint8,
    window,
)

__all__ = ["render_fluorescence"]

#: Median background of the 32 Cell Spotting app images (R, G, B).
BACKGROUND = np.array([76.0, 92.0, 79.0], dtype=np.float32)
#: RGB contribution of one unit of each stain map: phase grey, green, blue. Scaled
#: so that the 99th percentiles of green and blue excess over the other channels
#: match the Cell Spotting images (about 83 and 38 grey levels).
MIX = np.array([[1.0, 1.0, 1.0], [-18.0, 66.0, -18.0], [-7.0, -10.0, 58.0]], dtype=np.float32)
GREY, GREEN, BLUE = 0, 1, 2


class Look(NamedTuple):
    """How a phenotype is stained (ranges are drawn uniformly per cell)."""

    green: tuple[float, float]  # cytoplasm stain level
    grain: float  # 0: smooth cytoplasm, 1: all punctate mitochondria
    falloff: float  # perinuclear decay of the green, in radii
    blue: tuple[float, float]  # nucleus brightness
    nucleus: tuple[float, float]  # nucleus radius, in radii
    chromatin: float  # texture of the nucleus
    rim: float  # darkness of the phase-contrast rim


LOOKS = {
    "spread": Look((0.45, 1.1), 1.0, 1.3, (0.7, 1.0), (0.38, 0.5), 0.4, 36),
    "rounded": Look((0.6, 1.3), 0.8, 2.0, (0.8, 1.3), (0.35, 0.55), 0.35, 45),
    "apoptotic": Look((0.6, 1.3), 0.6, 2.5, (1.0, 1.5), (0.25, 0.42), 0.2, 90),
    "necrotic": Look((0.2, 0.6), 0.6, 2.0, (0.3, 0.6), (0.45, 0.6), 0.2, 20),
    # Half of a dividing cell: round, dense, a small condensed and very bright nucleus.
    "daughter": Look((0.7, 1.3), 0.7, 2.0, (1.2, 1.6), (0.3, 0.4), 0.15, 60),
}


def _outline(phenotype: str, radius: float, rng: np.random.Generator):
    """Elongation, harmonic wobble and angular bumps of a cell's outline."""
    wobble = np.zeros(5)
    bumps = np.empty((3, 0))
    if phenotype == "spread":
        elongation = rng.uniform(1.6, 4.0)
        wobble[[1, 2, 4]] = rng.uniform(0, 0.12, 3)
        n = rng.integers(1, 4)
        # Processes mostly leave along the long axis, as in the real spindle cells.
        bumps = np.array(
            [
                rng.choice([0.0, np.pi], size=n) + rng.normal(0, 0.5, n),
                rng.uniform(0.04, 0.1, n),
                radius * rng.uniform(0.8, 2.6, n),
            ]
        )
    elif phenotype == "apoptotic":  # blebbing membrane
        elongation = rng.uniform(1.0, 1.2)
        wobble[[1, 2, 4]] = rng.uniform(0, 0.05, 3)
        n = rng.integers(3, 9)
        bumps = np.array(
            [
                rng.uniform(-np.pi, np.pi, n),
                rng.uniform(0.15, 0.3, n),
                radius * rng.uniform(0.12, 0.35, n),
            ]
        )
    else:  # rounded (alive) or necrotic (dead): round, smooth outline
        elongation = rng.uniform(1.0, 1.3)
        wobble[[1, 2, 4]] = rng.uniform(0, 0.06, 3)
    return elongation, wobble, rng.uniform(0, 2 * np.pi, 5), bumps


def _extent(radius, angle, elongation, wobble, phases, bumps):
    """Bounding box (left, right, top, bottom offsets) of an outline, from 360 samples."""
    t = np.linspace(-np.pi, np.pi, 360, endpoint=False, dtype=np.float32)
    cos, sin = np.cos(t), np.sin(t)
    r = np.float32(radius) * (1 + harmonics(cos, sin, wobble, phases))
    if bumps.shape[1]:
        r += angular_bumps(cos, sin, *bumps)
    k = np.sqrt(elongation)  # undo the stretch of `polar`, then its rotation
    u, v = r * cos * k, r * sin / k
    dx = u * np.cos(angle) - v * np.sin(angle)
    dy = u * np.sin(angle) + v * np.cos(angle)
    return float(dx.min()), float(dx.max()), float(dy.min()), float(dy.max())


def _cell(stains, x, y, size, phenotype, rng, fields):
    """Draw one cell centred at ``(x, y)`` with diameter ``size`` into the stain maps."""
    if phenotype == "dividing":  # two daughters, each drawn as a cell of its own
        centres, diameter = daughters(x, y, size, rng)
        for cx, cy in centres:
            _cell(stains, cx, cy, diameter, "daughter", rng, fields)
        return
    height, width = stains.shape[:2]
    radius = size / 2
    angle = rng.uniform(0, np.pi)
    elongation, wobble, phases, bumps = _outline(phenotype, radius, rng)
    if phenotype == "necrotic":  # a large pale membrane bubble around the cell
        halo = radius * rng.uniform(1.3, 1.9)
        extent = (-halo, halo, -halo, halo)
    else:
        halo = 0.0
        extent = _extent(radius, angle, elongation, wobble, phases, bumps)
    win = window(x, y, 3, height, width, extent=extent)
    if win is None:
        return
    rho, cos, sin = polar(win.dx, win.dy, angle, elongation)
    outline = np.float32(radius) * (1 + harmonics(cos, sin, wobble, phases))
    if bumps.shape[1]:
        outline += angular_bumps(cos, sin, *bumps)
    body = soft_inside(rho, outline, edge=1.5)
    local = stains[win.rows, win.cols]
    dist = np.hypot(win.dx, win.dy)

    look = LOOKS[phenotype]
    # Phase-contrast look of the cell body: slightly lighter, darker rim.
    local[..., GREY] += 5 * body - np.float32(look.rim) * body * (1 - body)
    if halo:
        bubble = soft_inside(dist, np.float32(halo), edge=2.0)
        local[..., GREY] += 6 * bubble - 40 * bubble * (1 - bubble)

    # Cytoplasm: punctate green mitochondria, densest around the nucleus.
    granules = np.float32(3 * look.grain) * np.square(fields.texture.take(rng, *win.shape))
    perinuclear = np.exp(dist * np.float32(-1 / (look.falloff * radius)))
    local[..., GREEN] += (
        np.float32(rng.uniform(*look.green))
        * body
        * perinuclear
        * (np.float32(1 - look.grain) + granules)
    )

    # Nucleus (or its fragments), each in its own small window.
    if phenotype == "apoptotic" and rng.random() < 0.4:
        # Karyorrhexis: the condensed nucleus breaks into fragments.
        n = rng.integers(2, 5)
        nuclei = [(rng.normal(0, 0.22 * radius, 2), rng.uniform(0.13, 0.22)) for _ in range(n)]
    else:
        nuclei = [(rng.normal(0, 0.1 * radius, 2), rng.uniform(*look.nucleus))]
    brightness = np.float32(rng.uniform(*look.blue))
    for (ox, oy), r in nuclei:
        r_px = r * radius
        nwin = window(x + ox, y + oy, r_px * 1.1 + 2, height, width)
        if nwin is None:
            continue
        n_rho, _, _ = polar(nwin.dx, nwin.dy, angle, 1.3)
        nucleus = soft_inside(n_rho, np.float32(r_px), edge=1.2)
        chromatin = np.float32(1 - look.chromatin) + np.float32(
            2 * look.chromatin
        ) * fields.texture.take(rng, *nwin.shape)
        blue = stains[nwin.rows, nwin.cols, BLUE]
        # Fragments may overlap: keep the brightest, do not add up.
        np.maximum(blue, brightness * nucleus * chromatin, out=blue)
        # No mitochondria inside the nucleus.
        stains[nwin.rows, nwin.cols, GREEN] *= 1 - np.float32(0.6) * nucleus


def _debris(stains, rng):
    """Small dark particles and green specks that are not cells."""
    height, width = stains.shape[:2]
    for kind, count, (r_lo, r_hi) in (("dark", 3, (1.5, 4.0)), ("speck", 2, (1.0, 2.5))):
        for _ in range(rng.poisson(count)):
            x, y, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(r_lo, r_hi)
            win = window(x, y, r + 3, height, width)
            if win is None:
                continue
            d = np.hypot(win.dx, win.dy)
            inside = soft_inside(d, np.float32(r), edge=1.0)
            local = stains[win.rows, win.cols]
            if kind == "dark":
                ring = soft_inside(d, np.float32(r + 2), edge=1.5) - inside
                local[..., GREY] += 8 * ring - 30 * inside
            else:
                local[..., GREEN] += 0.7 * inside


def render_fluorescence(
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
    """Render one fluorescence image, ``(height, width, 3)`` ``uint8``.

    Parameters
    ----------
    x, y, size, phenotype : array-like
        One entry per cell (as in :func:`~cellconsensus.synthetic.make_truth`).
    canvas : (width, height)
        Image size.
    rng : numpy.random.Generator
        Draws every random detail of the image.
    fields : Fields
        Texture and noise shared by the images of one set.
    noise : float, default 1.0
        Scales the sensor noise and the unevenness of illumination (0: none).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> img = render_fluorescence([50.0], [40.0], [30.0], ["spread"], canvas=(100, 80),
    ...                           rng=rng, fields=Fields.from_seed(0))
    >>> img.shape, img.dtype.name
    ((80, 100, 3), 'uint8')
    >>> bool(img[40, 50, 2] > img[5, 5, 2])  # a blue nucleus where the cell is
    True
    """
    width, height = canvas
    stains = np.zeros((height, width, 3), dtype=np.float32)
    for cx, cy, s, p in zip(x, y, size, phenotype, strict=True):
        _cell(stains, float(cx), float(cy), float(s), p, rng, fields)
    _debris(stains, rng)
    image = stains.reshape(-1, 3) @ MIX
    image += BACKGROUND
    image = image.reshape(height, width, 3)
    image *= illumination(rng, height, width, 0.2 * noise)[..., None]
    if noise > 0:
        image += fields.noise.take(rng, height, width) * np.float32(3.0 * noise)
    return to_uint8(image)
