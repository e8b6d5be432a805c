"""Where the pixels of an image id come from: a folder, a table of paths, or arrays.

Crowd exports name images by id (a PyBossa link such as
``.../feb2013-33-23``), files carry extensions (``feb2013-33-23.jpg``). An
*image source* maps one to the other and loads the pixels, so the patch
builder never guesses file names.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import CellConsensusInputError, reading
from .read import Channels, normalise_image, read_image

__all__ = ["ImageSource", "ImageFolder", "ImageTable", "as_image_source", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


class ImageSource:
    """Base class: ``describe`` names an image's origin, ``read`` returns its bytes or array."""

    def ids(self) -> list[str]:
        """Every image id this source knows (may be expensive for large folders)."""
        raise NotImplementedError

    def describe(self, image_id: str) -> str:
        """Where the image comes from (a path), for reports and provenance."""
        raise NotImplementedError

    def _raw(self, image_id: str) -> bytes | np.ndarray:
        raise NotImplementedError

    def load(self, image_id: str, channels: Channels = "auto") -> tuple[np.ndarray, str]:
        """Pixels (``(H, W, C)`` ``uint8``) and the SHA-256 of what they were decoded from.

        Raises
        ------
        CellConsensusInputError
            The image cannot be found or decoded; the message names the file.
        """
        raw = self._raw(image_id)
        if isinstance(raw, np.ndarray):
            return normalise_image(raw, channels), _digest(raw)
        return read_image(self.describe(image_id), channels=channels, blob=raw), _digest(raw)

    def sha256(self, image_id: str) -> str:
        """SHA-256 of the image's file (or array bytes), without decoding it."""
        return _digest(self._raw(image_id))


def _digest(raw: bytes | np.ndarray) -> str:
    if isinstance(raw, np.ndarray):
        raw = np.ascontiguousarray(raw).tobytes()
    return hashlib.sha256(raw).hexdigest()


class ImageFolder(ImageSource):
    """Images in a folder, found by id through a file-name pattern.

    Parameters
    ----------
    root : path-like
        The folder (not searched recursively).
    pattern : str, default "{image_id}"
        File name without extension; ``{image_id}`` is replaced by the id.
    suffixes : tuple of str, default (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
        Extensions tried in this order (case-insensitive). An id that already
        ends in one (``a.jpg``) also matches the file of that exact name.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> Image.new("RGB", (4, 3)).save(root / "feb2013-33-23.jpg")
    >>> source = ImageFolder(root)
    >>> source.describe("feb2013-33-23").endswith("feb2013-33-23.jpg")
    True
    >>> source.load("feb2013-33-23")[0].shape
    (3, 4, 1)
    """

    def __init__(
        self,
        root: str | os.PathLike,
        pattern: str = "{image_id}",
        suffixes: Iterable[str] = IMAGE_SUFFIXES,
    ):
        self.root = Path(root)
        if not self.root.is_dir():
            raise CellConsensusInputError("image folder not found", source=str(self.root))
        if "{image_id}" not in pattern:
            raise ValueError(f"pattern must contain '{{image_id}}', got {pattern!r}")
        self.pattern = pattern
        self.suffixes = tuple(s.lower() for s in suffixes)
        self._files: dict[str, list[Path]] | None = None

    def __repr__(self) -> str:
        return f"ImageFolder({str(self.root)!r}, pattern={self.pattern!r})"

    def _index(self) -> dict[str, list[Path]]:
        """Files by lower-cased name (a list: ``Case.png`` and ``case.png`` may both exist)."""
        if self._files is None:
            files: dict[str, list[Path]] = {}
            for p in sorted(self.root.iterdir()):
                if p.is_file():
                    files.setdefault(p.name.lower(), []).append(p)
            self._files = files
        return self._files

    def _path(self, image_id: str) -> Path:
        files = self._index()
        name = self.pattern.format(image_id=image_id)
        candidates = [name + s for s in self.suffixes]
        if name.lower().endswith(self.suffixes):
            candidates.insert(0, name)
        for candidate in candidates:
            found = files.get(candidate.lower(), [])
            exact = [p for p in found if p.name == candidate]
            if exact:
                return exact[0]
            if len(found) == 1:  # the case differs, and no other file could be meant
                return found[0]
            if found:
                raise CellConsensusInputError(
                    f"image_id {image_id!r} matches {len(found)} files that differ only in "
                    f"case ({', '.join(p.name for p in found)}) and none exactly",
                    source=str(self.root),
                )
        raise CellConsensusInputError(
            f"no image file for image_id {image_id!r} (tried {name}{{{','.join(self.suffixes)}}})",
            source=str(self.root),
        )

    def ids(self) -> list[str]:
        prefix, _, suffix = self.pattern.partition("{image_id}")
        out = []
        for path in sorted(p for same in self._index().values() for p in same):
            if path.suffix.lower() in self.suffixes:
                stem = path.stem
                if stem.startswith(prefix) and stem.endswith(suffix):
                    out.append(stem[len(prefix) : len(stem) - len(suffix)])
        return out

    def describe(self, image_id: str) -> str:
        return str(self._path(image_id))

    def _raw(self, image_id: str) -> bytes:
        path = self._path(image_id)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise CellConsensusInputError(
                f"cannot read the file: {exc}", source=str(path)
            ) from None


class ImageTable(ImageSource):
    """Images given explicitly: image id -> file path, or image id -> array.

    Parameters
    ----------
    images : mapping or DataFrame
        ``{image_id: path_or_array}``, or a table with columns ``image_id``
        and ``path``.

    Examples
    --------
    >>> source = ImageTable({"a": np.zeros((5, 6), np.uint8)})
    >>> source.load("a")[0].shape
    (5, 6, 1)
    """

    def __init__(self, images: Mapping[str, str | os.PathLike | np.ndarray] | pd.DataFrame):
        if isinstance(images, pd.DataFrame):
            missing = {"image_id", "path"} - set(images.columns)
            if missing:
                raise CellConsensusInputError(
                    f"image table lacks column(s) {', '.join(sorted(missing))}",
                    source="<image table>",
                )
            images = dict(zip(images["image_id"].astype(str), images["path"], strict=True))
        self.images = {str(k): v for k, v in images.items()}

    def __repr__(self) -> str:
        return f"ImageTable(<{len(self.images)} images>)"

    def ids(self) -> list[str]:
        return list(self.images)

    def _get(self, image_id: str):
        try:
            return self.images[image_id]
        except KeyError:
            raise CellConsensusInputError(
                f"image_id {image_id!r} is not in the image table", source="<image table>"
            ) from None

    def describe(self, image_id: str) -> str:
        value = self._get(image_id)
        return f"<array {image_id}>" if isinstance(value, np.ndarray) else os.fspath(value)

    def _raw(self, image_id: str) -> bytes | np.ndarray:
        value = self._get(image_id)
        if isinstance(value, np.ndarray):
            return value
        path = Path(value)
        with reading(str(path), "image file"):
            return path.read_bytes()


def as_image_source(images) -> ImageSource:
    """An :class:`ImageSource` from a folder path, a mapping, a table or a source.

    Examples
    --------
    >>> as_image_source({"a": np.zeros((2, 2), np.uint8)})
    ImageTable(<1 images>)
    """
    if isinstance(images, ImageSource):
        return images
    if isinstance(images, str | os.PathLike):
        return ImageFolder(images)
    if isinstance(images, Mapping | pd.DataFrame):
        return ImageTable(images)
    raise TypeError(
        "images must be a folder, a mapping image_id -> path/array, a table with "
        f"image_id and path, or an ImageSource; got {type(images).__name__}"
    )
