"""The two microscopy styles the synthetic generator imitates, and their defaults.

``fluorescence``
    Like the Cell Spotting images: RGB, 524 x 391 px, blue nuclei and green
    cytoplasm over a grey-green phase-contrast background; cell bodies 40-70
    px across, living cells spread into spindles with long processes.
``brightfield``
    Like the LDC ("Living and Dead Cell") images: grey, 225 x 219 px, small
    round cells about 18-21 px across in a counting chamber.

Each style also fixes what a dead cell looks like (its *phenotypes* and how
much they shrink or swell), and a dividing (*mitotic*) cell for the optional
third class; :func:`~cellconsensus.synthetic.make_truth` draws
them and the renderers draw the pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Style", "STYLES", "get_style"]


@dataclass(frozen=True)
class Style:
    """Defaults and phenotypes of one microscopy style.

    Attributes
    ----------
    name : str
        ``"fluorescence"`` or ``"brightfield"``.
    canvas : (int, int)
        Image width and height in pixels.
    cells_per_image : (int, int)
        Default inclusive range of cells per image.
    cell_size : (float, float)
        Default range of living-cell diameters in pixels.
    channels : int
        3 (RGB) or 1 (grey).
    alive_phenotypes, dead_phenotypes, mitotic_phenotypes : tuple of (name, probability, size factor)
        What a living, dead or dividing cell may look like; the size factor scales
        its drawn diameter (apoptotic cells shrink, necrotic cells swell; a dividing
        cell is two daughters side by side, about 1.1 of a living cell long).
    """

    name: str
    canvas: tuple[int, int]
    cells_per_image: tuple[int, int]
    cell_size: tuple[float, float]
    channels: int
    alive_phenotypes: tuple[tuple[str, float, float], ...]
    dead_phenotypes: tuple[tuple[str, float, float], ...]
    mitotic_phenotypes: tuple[tuple[str, float, float], ...] = (("dividing", 1.0, 1.0),)

    @property
    def max_size_factor(self) -> float:
        """The largest size factor of any phenotype (sets the grid pitch)."""
        every = self.alive_phenotypes + self.dead_phenotypes + self.mitotic_phenotypes
        return max(f for _, _, f in every)


STYLES: dict[str, Style] = {
    "fluorescence": Style(
        name="fluorescence",
        canvas=(524, 391),
        cells_per_image=(3, 20),
        # Cell bodies as in the Cell Spotting images shown on the 524 x 391 canvas
        # (the thesis cropped 90-128 px patches around them).
        cell_size=(40.0, 70.0),
        channels=3,
        # Spread cells with processes, and rounded ones (e.g. in mitosis).
        alive_phenotypes=(("spread", 0.7, 1.0), ("rounded", 0.3, 0.8)),
        # Apoptosis: shrunken, round, condensed nucleus, blebs. Necrosis: swollen, faint.
        dead_phenotypes=(("apoptotic", 0.7, 0.7), ("necrotic", 0.3, 1.15)),
    ),
    "brightfield": Style(
        name="brightfield",
        canvas=(225, 219),
        cells_per_image=(0, 7),  # LDC: 3.5 cells per image on average
        cell_size=(15.0, 21.0),
        channels=1,
        alive_phenotypes=(("bright-centred", 1.0, 1.0),),
        # Trypan-blue stained: dark, slightly swollen; some still show a faint centre.
        dead_phenotypes=(("stained", 1.0, 1.08),),
    ),
}


def get_style(style: str | Style) -> Style:
    """Look a style up by name.

    Examples
    --------
    >>> get_style("brightfield").canvas
    (225, 219)
    """
    if isinstance(style, Style):
        return style
    try:
        return STYLES[style]
    except KeyError:
        raise ValueError(f"unknown style {style!r}; choose one of {sorted(STYLES)}") from None
