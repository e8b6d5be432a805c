"""Images in a chunked zarr store, so that detector training reads crops, not whole sets.

:func:`cache_images` writes every image of a source as one ``uint8`` array
``(height, width, channels)`` in chunks of :data:`CHUNK` pixels (image ``k`` of the
list under ``images/k``, its id in the array's attributes). Each array is marked
done after its pixels; the store is marked complete last. An interrupted run leaves
a store that does not look complete, and running it again finishes it (images
already done are not read again); a store made for other images or channels is an
error, never silently reused. :func:`open_images` opens a complete store: its
arrays read only the chunks a crop touches.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence

import numpy as np
import zarr

from cellconsensus.errors import CellConsensusInputError
from cellconsensus.images import as_image_source

__all__ = ["cache_images", "open_images", "CHUNK"]

logger = logging.getLogger(__name__)

#: Side of a chunk, in pixels (a 128 px training crop touches at most four).
CHUNK = 256
_FORMAT = "cellcnn-image-cache/1"


def _fingerprint(ids: Sequence[str], channels: int) -> str:
    text = json.dumps({"ids": list(ids), "channels": channels})
    return hashlib.sha256(text.encode()).hexdigest()


def cache_images(
    images, path: str | os.PathLike, image_ids: Sequence[str], channels: int
) -> dict[str, zarr.Array]:
    """Write (or finish writing) the images to a zarr store and open them.

    Parameters
    ----------
    images : folder, mapping or ImageSource
        Where the pixels come from (:func:`cellconsensus.images.as_image_source`).
    path : path-like
        The store (a folder); created, or finished when an earlier run was interrupted.
    image_ids : sequence of str
        The images, in order.
    channels : int
        Channels every image is read with.

    Returns
    -------
    dict
        ``image_id -> zarr.Array`` of the complete store.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> arrays = cache_images({"a": np.zeros((5, 7), np.uint8)}, tempfile.mkdtemp(), ["a"], 1)
    >>> arrays["a"].shape
    (5, 7, 1)
    """
    ids = [str(i) for i in image_ids]
    fingerprint = _fingerprint(ids, channels)
    root = zarr.open_group(str(path), mode="a", zarr_format=3)
    attrs = dict(root.attrs)
    if attrs.get("format") not in (None, _FORMAT) or attrs.get("fingerprint") not in (
        None,
        fingerprint,
    ):
        raise CellConsensusInputError(
            "an image cache of other images or channels; give another path or delete it",
            source=str(path),
        )
    if not attrs.get("complete"):
        root.attrs.update(format=_FORMAT, fingerprint=fingerprint, complete=False)
        source = as_image_source(images)
        group = root.require_group("images")
        for k, image_id in enumerate(ids):
            name = str(k)
            if name in group and group[name].attrs.get("done"):
                continue
            pixels = source.load(image_id, channels=channels)[0]
            array = group.create_array(name, shape=pixels.shape, dtype=np.uint8,
                                       chunks=(CHUNK, CHUNK, channels), overwrite=True)  # fmt: skip
            array[...] = pixels
            array.attrs.update(image_id=image_id, done=True)
        root.attrs["complete"] = True
        logger.info("cached %d images in %s", len(ids), path)
    return open_images(path, ids)


def open_images(path: str | os.PathLike, image_ids: Sequence[str]) -> dict[str, zarr.Array]:
    """The arrays of a complete :func:`cache_images` store, by image id.

    Examples
    --------
    >>> open_images("no/such/cache", ["a"])  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    CellConsensusInputError: no/such/cache: not a complete image cache
    """
    try:
        root = zarr.open_group(str(path), mode="r", zarr_format=3)
    except (FileNotFoundError, ValueError, zarr.errors.GroupNotFoundError) as error:
        raise CellConsensusInputError("not a complete image cache", source=str(path)) from error
    if not root.attrs.get("complete") or root.attrs.get("format") != _FORMAT:
        raise CellConsensusInputError("not a complete image cache", source=str(path))
    group = root["images"]
    arrays = {group[str(k)].attrs["image_id"]: group[str(k)] for k in range(len(group))}
    missing = [i for i in image_ids if str(i) not in arrays]
    if missing:
        raise CellConsensusInputError(
            f"image cache lacks {len(missing)} image(s), e.g. {missing[0]!r}", source=str(path)
        )
    return {str(i): arrays[str(i)] for i in image_ids}
