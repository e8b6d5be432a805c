"""Images in: decoding with one normalisation rule, and finding files by image id.

- :func:`read_image` -- PNG, JPEG, TIFF, any mode met in practice, as ``(H, W, C)`` ``uint8``;
- :class:`ImageFolder`, :class:`ImageTable`, :func:`as_image_source` -- image id -> pixels.
"""

from .read import MAX_PIXELS, normalise_image, read_image
from .source import IMAGE_SUFFIXES, ImageFolder, ImageSource, ImageTable, as_image_source

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "ImageFolder",
    "ImageSource",
    "ImageTable",
    "as_image_source",
    "normalise_image",
    "read_image",
]
