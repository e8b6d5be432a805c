"""Pascal VOC XML ground truth (e.g. the LDC "Living and Dead Cell" data): read and write."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from ..errors import CellConsensusInputError
from ..tables import ALIVE_DEAD, LABEL_DTYPE, split_by_image
from ..tables.vocabulary import as_vocabulary
from ._files import atomic_write, safe_file_name

__all__ = ["read_voc", "write_voc", "VOC_LABELS", "VOC_NAMES", "TRUTH_COLUMNS"]

#: Object names of the LDC data set and what they mean here.
VOC_LABELS: dict[str, str] = {
    "Living Cell": "alive",
    "Dead Cell": "dead",
    "alive": "alive",
    "dead": "dead",
    "unsure": "unsure",
}

#: Object names written for each label (the LDC convention).
VOC_NAMES: dict[str, str] = {"alive": "Living Cell", "dead": "Dead Cell", "unsure": "unsure"}

TRUTH_COLUMNS: tuple[str, ...] = (
    "image_id",
    "x",
    "y",
    "width",
    "height",
    "size",
    "label",
    "image_width",
    "image_height",
)


def _files(folder_or_files: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    if isinstance(folder_or_files, str | os.PathLike):
        path = Path(folder_or_files)
        if path.is_dir():
            files = sorted(path.glob("*.xml"))
            if not files:
                raise CellConsensusInputError(
                    "no Pascal VOC files (*.xml) in this folder", source=str(path)
                )
            return files
        if not path.exists():
            raise CellConsensusInputError("no such file or folder", source=str(path))
        return [path]
    return [Path(p) for p in folder_or_files]


def _number(node: ET.Element, tag: str, source: str, row: str) -> float:
    child = node.find(tag)
    try:
        value = float(child.text)  # type: ignore[union-attr, arg-type]
    except (AttributeError, TypeError, ValueError):
        raise CellConsensusInputError(
            f"missing or non-numeric <{tag}>", source=source, row=row, field=tag
        ) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise CellConsensusInputError(f"<{tag}> is not finite", source=source, row=row, field=tag)
    return value


def read_voc(
    folder_or_files: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    label_map: Mapping[str, str] | None = None,
    classes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read Pascal VOC XML annotations into a ground-truth table.

    One row per ``<object>``: the image id is the XML file's stem (not the
    ``<filename>`` inside, which renamed data sets leave stale), the position is
    the box centre, ``size`` is the mean of box width and height.

    Parameters
    ----------
    folder_or_files : path-like or iterable of path-like
        A folder (every ``*.xml`` in it, sorted) or explicit XML files.
    label_map : mapping, optional
        Object ``<name>`` -> ``alive``/``dead``/``unsure`` (or a class of ``classes``);
        default :data:`VOC_LABELS` (``Living Cell``, ``Dead Cell``) plus every class of
        ``classes`` as itself.
    classes : sequence of str, optional
        Another label set than alive / dead (e.g. ``["alive", "dead", "mitotic"]``):
        the labels are then its categorical and ``attrs["classes"]`` holds it.

    Returns
    -------
    DataFrame
        Columns ``image_id, x, y, width, height, size, label, image_width,
        image_height``. ``attrs["image_ids"]`` lists every image read,
        including those with no object (they matter for precision), and
        ``attrs["n_empty_images"]`` counts the latter.

    Raises
    ------
    CellConsensusInputError
        Malformed XML, XML that is not a VOC ``<annotation>``, no ``<size>`` or an
        empty one, missing box coordinates, an inverted or empty box, a box centred
        outside the image (a box may reach past the edge: cells on the border), an
        unknown object name, naming the file, the object and the field; a folder
        without ``*.xml`` files.

    Examples
    --------
    >>> truth = read_voc("../shared/data/ldc/images")  # doctest: +SKIP
    >>> truth["label"].value_counts().to_dict()  # doctest: +SKIP
    {'alive': 5710, 'dead': 1211}
    """
    vocabulary = as_vocabulary(classes, []) if classes is not None else ALIVE_DEAD
    mapping = dict(label_map or {**VOC_LABELS, **{a: a for a in vocabulary.answers}})
    rows: list[tuple] = []
    image_ids: list[str] = []
    n_empty = 0
    for path in _files(folder_or_files):
        source = str(path)
        try:
            root = ET.parse(path).getroot()
        except FileNotFoundError:
            raise CellConsensusInputError("file not found", source=source) from None
        except ET.ParseError as exc:
            raise CellConsensusInputError(f"malformed XML: {exc}", source=source) from None
        if root.tag != "annotation":
            raise CellConsensusInputError(
                f"not a Pascal VOC annotation: the root element is <{root.tag}>, not <annotation>",
                source=source,
            )
        size = root.find("size")
        if size is None:
            raise CellConsensusInputError(
                "no <size>: the image's width and height are needed", source=source,
                field="size",
            )  # fmt: skip
        img_w, img_h = (_number(size, t, source, "<size>") for t in ("width", "height"))
        if img_w <= 0 or img_h <= 0:
            raise CellConsensusInputError(
                f"image size {img_w:g} x {img_h:g} is empty", source=source, field="size"
            )
        image_ids.append(path.stem)
        objects = root.findall("object")
        n_empty += not objects
        for k, obj in enumerate(objects):
            row = f"object {k + 1}"
            name = (obj.findtext("name") or "").strip()
            if name not in mapping or mapping[name] not in vocabulary.answers:
                raise CellConsensusInputError(
                    f"unknown object name {name!r}; known: {', '.join(sorted(mapping))}",
                    source=source,
                    row=row,
                    field="name",
                )
            box = obj.find("bndbox")
            if box is None:
                raise CellConsensusInputError(
                    "object without <bndbox>", source=source, row=row, field="bndbox"
                )
            x0, y0, x1, y1 = (
                _number(box, t, source, row) for t in ("xmin", "ymin", "xmax", "ymax")
            )
            problem = None
            if x1 < x0 or y1 < y0:
                problem = "inverted box"
            elif x1 == x0 or y1 == y0:
                problem = "empty box"
            elif not (0 <= (x0 + x1) / 2 <= img_w and 0 <= (y0 + y1) / 2 <= img_h):
                problem = f"box centred outside the {img_w:g} x {img_h:g} image"
            if problem:
                raise CellConsensusInputError(
                    f"{problem} ({x0:g}, {y0:g}, {x1:g}, {y1:g})",
                    source=source,
                    row=row,
                    field="bndbox",
                )
            w, h = x1 - x0, y1 - y0
            rows.append(
                (
                    path.stem,
                    (x0 + x1) / 2,
                    (y0 + y1) / 2,
                    w,
                    h,
                    (w + h) / 2,
                    mapping[name],
                    img_w,
                    img_h,
                )
            )
    truth = pd.DataFrame(rows, columns=list(TRUTH_COLUMNS))
    truth["image_id"] = truth["image_id"].astype(object)
    if vocabulary.is_alive_dead:
        truth["label"] = truth["label"].astype(LABEL_DTYPE)
    else:
        truth["label"] = truth["label"].astype(pd.CategoricalDtype(vocabulary.answers))
        truth.attrs["classes"] = vocabulary
    truth.attrs["image_ids"] = image_ids
    truth.attrs["n_empty_images"] = n_empty
    return truth


def _voc_xml(image_id: str, cells: pd.DataFrame, size: tuple[int, int, int], ext: str) -> bytes:
    width, height, depth = size
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "images"
    ET.SubElement(root, "filename").text = f"{image_id}{ext}"
    node = ET.SubElement(root, "size")
    for tag, value in (("width", width), ("height", height), ("depth", depth)):
        ET.SubElement(node, tag).text = str(int(value))
    ET.SubElement(root, "segmented").text = "0"
    for cell in cells.itertuples(index=False):
        obj = ET.SubElement(root, "object")
        label = str(cell.label)
        ET.SubElement(obj, "name").text = VOC_NAMES.get(label, label)  # other classes as named
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "0"
        box = ET.SubElement(obj, "bndbox")
        half_w, half_h = cell.width / 2, cell.height / 2
        corners = (cell.x - half_w, cell.y - half_h, cell.x + half_w, cell.y + half_h)
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), corners, strict=True):
            ET.SubElement(box, tag).text = str(int(round(value)))
    ET.indent(root, space="\t")
    return ET.tostring(root, encoding="utf-8", xml_declaration=False)


def write_voc(
    truth: pd.DataFrame,
    folder: str | os.PathLike,
    *,
    image_ids: Iterable[str] | None = None,
    depth: int = 3,
    image_ext: str = ".png",
) -> list[Path]:
    """Write a ground-truth table as Pascal VOC XML, one file per image.

    The inverse of :func:`read_voc`: boxes are ``x +- width/2``, ``y +- height/2``
    rounded to whole pixels (as VOC tools expect), so positions read back
    within half a pixel; labels become ``Living Cell``/``Dead Cell``. Every
    file is written atomically.

    Parameters
    ----------
    truth : DataFrame
        ``image_id, x, y, width, height, label, image_width, image_height``
        (e.g. :func:`~cellconsensus.synthetic.make_truth`).
    folder : path-like
        Created if needed; gets ``<image_id>.xml``.
    image_ids : iterable of str, optional
        Images to write, including ones without cells; default
        ``truth.attrs["image_ids"]`` or the ids in ``truth``.
    depth : int, default 3
        Channels recorded in ``<size>``.
    image_ext : str, default ".png"
        Extension recorded in ``<filename>``.

    Returns
    -------
    list of Path
        The written files.

    Examples
    --------
    >>> import tempfile
    >>> from cellconsensus.synthetic import make_truth
    >>> truth = make_truth(n_images=2, seed=0)
    >>> paths = write_voc(truth, tempfile.mkdtemp())
    >>> back = read_voc(paths[0].parent)
    >>> len(back) == len(truth), bool((back["x"] - truth["x"]).abs().max() <= 0.5)
    (True, True)
    """
    out = Path(folder)
    canvas = ["image_width", "image_height"]
    default = tuple(truth[canvas].iloc[0]) if len(truth) else (0, 0)
    paths = []
    ids = list(image_ids) if image_ids is not None else None
    for image_id, cells in split_by_image(truth, ids):
        width, height = tuple(cells[canvas].iloc[0]) if len(cells) else default
        data = _voc_xml(str(image_id), cells, (width, height, depth), image_ext)
        target = out / f"{safe_file_name(image_id)}.xml"
        paths.append(atomic_write(target, lambda tmp, d=data: Path(tmp).write_bytes(d)))
    return paths
