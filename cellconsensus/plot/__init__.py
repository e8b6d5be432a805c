"""Plots of clicks, consensus cells, truth, disagreement and annotators.

Every function returns a matplotlib ``Figure`` (drawn on the file-only Agg
backend, no screen needed) and takes any Clicks, Cells or truth table; pass
``ax=`` to draw into an existing figure. Matplotlib is an optional dependency:
``pip install 'cellconsensus[plot]'``.

Examples
--------
>>> from cellconsensus import find_consensus, simulate_crowd
>>> from cellconsensus.plot import plot_image
>>> from cellconsensus.synthetic import make_images
>>> data = make_images(1, seed=0)
>>> clicks = simulate_crowd(data.truth, 3, seed=0)
>>> fig = plot_image("syn00000", data.images, clicks=clicks,
...                  cells=find_consensus(clicks).cells, truth=data.truth)
>>> fig.savefig("overlay.png")  # doctest: +SKIP
"""

from ._backend import pyplot
from .annotators import plot_annotators
from .disagreement import plot_agreement, plot_disagreement
from .image import LABEL_COLOURS, plot_image

__all__ = [
    "plot_image",
    "plot_disagreement",
    "plot_agreement",
    "plot_annotators",
    "pyplot",
    "LABEL_COLOURS",
]
