"""Names the command line offers before TensorFlow is imported (``cellcnn --help`` stays
fast); :func:`cellcnn.models.available_models` must list the same, which a test checks."""

from __future__ import annotations

__all__ = ["MODEL_NAMES"]

#: The models :func:`cellcnn.models.build_model` builds.
MODEL_NAMES: tuple[str, ...] = ("compact", "thesis_vgg")
