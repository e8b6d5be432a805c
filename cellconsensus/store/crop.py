"""The crop stage: decode a few images and cut every size's patches (one worker's work)."""

from __future__ import annotations

from ..errors import CellConsensusInputError
from ..images import ImageSource
from ..images.read import normalise_image
from ..patches import PatchReport, cell_patches, image_noise

__all__ = ["crop_images", "first_channels"]


def crop_images(units, source: ImageSource, sizes, border, channels, fill, min_contrast) -> list:
    """Decode and crop images; per image ``(id, digest, error, converted, {size: (patches,
    report)})``, where an unreadable image has its error and no patches.

    ``units`` are ``(image_id, (x, y))`` as :func:`~cellconsensus.store.plan.image_units`
    gives them; images of other channels than ``channels`` are converted.
    """
    out = []
    for image_id, (x, y) in units:
        try:
            image, digest = source.load(image_id, "auto")
        except CellConsensusInputError as exc:
            out.append((image_id, None, exc, False, {}))
            continue
        converted = image.shape[2] != channels
        if converted:
            image = normalise_image(image, channels)
        noise = image_noise(image)
        per_size = {}
        for size in sizes:
            report = PatchReport()
            patches = cell_patches(image, x, y, size, border, fill, min_contrast, report, noise)
            per_size[size] = (patches, report)
        out.append((image_id, digest, None, converted, per_size))
    return out


def first_channels(source: ImageSource, image_order: list[str], on_error: str) -> int:
    """Channels of the first readable image (the store's, under ``channels="auto"``)."""
    for image_id in image_order:
        try:
            return int(source.load(image_id, "auto")[0].shape[2])
        except CellConsensusInputError:
            if on_error == "raise":
                raise
    return 1
