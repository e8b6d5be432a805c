"""Built-in synthetic microscopy: images of living and dying cells, with ground truth.

The embedded default that the demo, the examples and most tests run on when
no real data is given.

- :func:`make_truth` -- where the cells are, their size, label and phenotype;
- :func:`render_image` / :func:`render_images` -- the pixels, in the
  ``fluorescence`` (Cell Spotting-like) or ``brightfield`` (LDC-like) style;
- :func:`make_images` -- both at once;
- :func:`write_synthetic` -- a folder of PNG images, Pascal VOC XML and CSV
  truth, and a simulated crowd as a PyBossa JSON export, readable by the same
  readers as real data.
"""

from .render import SyntheticImages, make_images, render_image, render_images
from .styles import STYLES, Style, get_style
from .truth import image_names, make_truth
from .write import SyntheticSet, write_synthetic

__all__ = [
    "STYLES",
    "Style",
    "SyntheticImages",
    "SyntheticSet",
    "get_style",
    "image_names",
    "make_images",
    "make_truth",
    "render_image",
    "render_images",
    "write_synthetic",
]
