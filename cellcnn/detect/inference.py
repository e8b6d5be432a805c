"""Find and classify cells on whole images with a trained detector.

:func:`detect` runs the detector (:mod:`cellcnn.detect.network`) over every image,
tile by tile (:mod:`cellcnn.detect.tiles`), finds the centre map's peaks
(:func:`~cellcnn.detect.peaks.find_peaks`) and reads the class maps there; with a
patch classifier (``classifier=``, a :func:`cellcnn.train.train` run) the cells
found are classified by it instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cellconsensus.errors import CellConsensusInputError
from cellconsensus.images import as_image_source
from cellconsensus.tables import Vocabulary

from ..classes import labels_of, probability_columns, run_vocabulary
from ..evaluate import symmetric_mean
from ..model_files import load_model_folder
from .edges import SIDES, peak_thresholds
from .network import DETECTOR_OBJECTS
from .peaks import find_peaks
from .tiles import MARGIN, PADDING, PADDINGS, tile_grid

__all__ = ["detect", "load_detector", "predict_maps", "cells_from_maps", "DETECTOR_FILES"]

#: The files of a detector folder: the network and its record.
DETECTOR_FILES = ("detector.keras", "detector.json")
#: Pixels per forward pass (tiles of any size batched up to it): the network's
#: activations, not the images, set detection's memory. Measured (LDC detector, TTA, 2
#: cores; TensorFlow and the detector alone 706 MiB): 2048 x 2048 images in 768 px tiles,
#: 8 / 4 / 2 / 1 tiles per pass: 6.8 / 6.8 / 7.5 / 8.7 s per image at a peak of 3,643 /
#: 2,352 / 1,695 / 1,349 MiB; 200 LDC images (one 296 px tile each), 8 / 13 / 26 tiles
#: per pass: 7.7 / 8.7 / 8.9 images/s (52 / 57 / 59 without TTA) at 1,139 / 1,413 /
#: 2,124 MiB. Four 768 px tiles' worth is the fastest on both at about the same peak.
DETECT_PIXELS = 4 * 768 * 768


def load_detector(model_dir: str | os.PathLike) -> tuple[keras.Model, dict]:
    """The network and the record (``detector.json``) of a detector folder.

    A record written before the padding was a setting gets ``padding`` "symmetric": that
    detector was tuned on mirrored tiles; one written before the thresholds per side has
    none (one threshold everywhere).

    Raises
    ------
    CellConsensusInputError
        Naming the file: a missing file (not a finished detector), a record that is not
        JSON, a network Keras cannot load, a padding :func:`~cellcnn.detect.tiles.tile_grid`
        does not know, edge thresholds that are not one from 0 to 1 per side or an
        edge band that is not a distance.
    """
    net, meta = load_model_folder(model_dir, *DETECTOR_FILES, kind="cellcnn detector",
                                  custom_objects=DETECTOR_OBJECTS, compile=False)  # fmt: skip
    record = str(Path(model_dir) / DETECTOR_FILES[1])
    meta.setdefault("padding", "symmetric")
    if meta["padding"] not in PADDINGS:
        raise CellConsensusInputError(
            f"padding {meta['padding']!r} is not one of {', '.join(PADDINGS)}",
            source=record,
            field="padding",
        )
    edges, band = meta.get("edge_thresholds"), meta.get("edge_band", 0.0)
    if edges is not None and not (
        isinstance(edges, dict)
        and set(edges) == set(SIDES)
        and all(isinstance(v, int | float) and 0 <= v <= 1 for v in edges.values())
    ):
        raise CellConsensusInputError(
            f"edge_thresholds {edges!r} is not a threshold from 0 to 1 for each of "
            f"{', '.join(SIDES)}",
            source=record,
            field="edge_thresholds",
        )
    if not (isinstance(band, int | float) and band >= 0):
        raise CellConsensusInputError(
            f"edge_band {band!r} is not a distance in pixels", source=record, field="edge_band"
        )
    return net, meta


def predict_maps(
    net: keras.Model,
    images: Iterable[np.ndarray],
    *,
    margin: int = MARGIN,
    max_tile: int = 768,
    batch_size: int | None = None,
    tta: bool = False,
    padding: str = PADDING,
) -> Iterator[np.ndarray]:
    """The ``(H, W, 1 + K)`` maps of every image, in order, tiles batched across images of
    one tile size (memory: one batch of tiles and the images waiting for it); with
    ``tta``, the mean of the maps of the tiles' eight symmetries, each turned back;
    ``padding`` beyond the images' edges (:func:`~cellcnn.detect.tiles.tile_grid`).
    ``batch_size`` tiles per forward pass (default: :data:`DETECT_PIXELS` worth)."""
    pending: list[tuple] = []  # (grid, tiles) of images not yet given back

    def per_pass(tile: int) -> int:
        return batch_size or max(1, DETECT_PIXELS // (tile * tile))

    def forward(tiles: np.ndarray) -> np.ndarray:
        n = per_pass(tiles.shape[1])
        return np.concatenate([np.asarray(net(tiles[a : a + n], training=False))
                               for a in range(0, len(tiles), n)])  # fmt: skip

    def flush(tiles_of: list[tuple]) -> list[np.ndarray]:
        tiles = np.concatenate([t for _, t in tiles_of])
        outputs = symmetric_mean(forward, tiles, maps=True) if tta else forward(tiles)
        maps, start = [], 0
        for grid, t in tiles_of:
            maps.append(grid.stitch(outputs[start : start + len(t)]))
            start += len(t)
        return maps

    waiting = 0  # tiles in pending
    for image in images:
        grid = tile_grid(image.shape, margin=margin, max_tile=max_tile, padding=padding)
        if pending and (pending[0][0].tile != grid.tile or waiting >= per_pass(grid.tile)):
            yield from flush(pending)
            pending, waiting = [], 0
        pending.append((grid, grid.tiles(image)))
        waiting += len(grid)
    if pending:
        yield from flush(pending)


def cells_from_maps(
    maps: np.ndarray,
    vocabulary: Vocabulary,
    *,
    threshold: float,
    min_distance: float,
    edges: Mapping[str, float] | None = None,
    edge_band: float = 0.0,
) -> pd.DataFrame:
    """Cells of one image's maps: ``x, y``, class probabilities (Cells-table columns),
    ``label`` (the most probable class) and ``score`` (the centre map's peak); a peak
    within ``edge_band`` pixels of a side must reach that side's threshold in ``edges``
    instead (:func:`~cellcnn.detect.edges.peak_thresholds`)."""
    lowest = min([threshold, *(edges.values() if edges and edge_band > 0 else ())])
    x, y, score = find_peaks(maps[..., 0], threshold=lowest, min_distance=min_distance)
    keep = score >= peak_thresholds(x, y, maps.shape, threshold, edges, edge_band)
    x, y, score = x[keep], y[keep], score[keep]
    rows = np.clip(np.floor(y).astype(int), 0, maps.shape[0] - 1)
    cols = np.clip(np.floor(x).astype(int), 0, maps.shape[1] - 1)
    proba = maps[rows, cols, 1:].astype(float).reshape(len(x), maps.shape[-1] - 1)
    return pd.DataFrame({"x": x, "y": y, **probability_columns(vocabulary, proba),
                         "label": labels_of(vocabulary, proba), "score": score})  # fmt: skip


def _classify(table: pd.DataFrame, classifier, source, vocabulary, names: list[str]) -> None:
    """Replace the detector's class columns of ``table`` by a patch classifier's."""
    from ..evaluate import load_model
    from ..predict import predict_cells

    if run_vocabulary(load_model(classifier)[1]).classes != vocabulary.classes:
        raise CellConsensusInputError(
            f"the classifier's classes differ from the detector's {vocabulary.classes}",
            source=str(classifier),
        )
    classified = predict_cells(classifier, table, source)
    for name in names:
        table[name] = classified[f"{name}_cnn"].to_numpy()
    table["label"] = classified["label_cnn"].to_numpy()


def detect(
    model_dir: str | os.PathLike,
    images,
    image_ids: Sequence[str] | None = None,
    *,
    threshold: float | None = None,
    min_distance: float | None = None,
    classifier: str | os.PathLike | None = None,
    tta: bool | None = None,
    batch_size: int | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Cells found on images by a detector trained with
    :func:`~cellcnn.detect.train_detector`, without any clicks.

    Parameters
    ----------
    model_dir : path-like
        The detector's folder.
    images : folder, mapping or ImageSource
        Where the pixels come from (:func:`cellconsensus.images.as_image_source`).
    image_ids : sequence of str, optional
        Images to search (default every image of ``images``).
    threshold : float, optional
        Lowest centre-map peak kept, everywhere; default the detector's own, chosen
        on its validation images for the best F1, with a threshold of their own for
        the peaks near each side of an image where the detector chose them
        (``edge_thresholds`` in its record, :mod:`~cellcnn.detect.edges`).
    min_distance : float, optional
        Closest two cells may be, in pixels; default the detector's (half its cell size).
    classifier : path-like, optional
        A patch classifier (:func:`cellcnn.train.train` run): the cells found are
        classified by it (:func:`cellcnn.predict.predict_cells`, at its own setting)
        instead of by the detector's class maps.
    tta : bool, optional
        Average the maps over the eight symmetries of the square (eight times the
        work); default the detector's own choice, made on its validation images.
    batch_size : int, optional
        Tiles per forward pass (default: as many as make :data:`DETECT_PIXELS` pixels,
        which bounds the memory whatever the images' size).
    progress : bool, default False
        A progress bar over the images.

    Returns
    -------
    DataFrame
        A Cells table: ``image_id, cell_id, x, y``, the class probabilities (``p_alive``
        for alive / dead, else ``p_<class>``), ``label``, ``score`` (the detection's
        confidence, the centre map's height); ``attrs["image_ids"]`` lists every image
        searched and ``attrs["detector"]`` the settings used, with the detector's
        figures on its validation images (``validation``: precision, recall, label
        accuracy ...; what :func:`cellconsensus.allocate.next_tasks` trusts it by).

    Examples
    --------
    >>> detect("runs/detector", "new_images/")  # doctest: +SKIP
    """
    if batch_size is not None and not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    net, meta = load_detector(model_dir)
    vocabulary = run_vocabulary(meta)
    edges = meta.get("edge_thresholds") if threshold is None else None
    edge_band = float(meta.get("edge_band", 0.0)) if edges else 0.0
    threshold = float(meta["threshold"] if threshold is None else threshold)
    min_distance = float(meta["min_distance"] if min_distance is None else min_distance)
    tta = bool(meta.get("tta", False) if tta is None else tta)
    source = as_image_source(images)
    ids = [str(i) for i in (image_ids if image_ids is not None else source.ids())]
    channels = meta["channels"]
    pixels = (source.load(i, channels=channels)[0] for i in ids)
    bar = tqdm(total=len(ids), desc="detect", unit="image", disable=not progress)
    found = []
    maps_of = predict_maps(net, pixels, margin=meta["margin"], max_tile=meta["max_tile"],
                           batch_size=batch_size, tta=tta, padding=meta["padding"])  # fmt: skip
    for image_id, maps in zip(ids, maps_of, strict=True):
        cells = cells_from_maps(maps, vocabulary, threshold=threshold, min_distance=min_distance,
                                edges=edges, edge_band=edge_band)  # fmt: skip
        found.append(cells.assign(image_id=image_id, cell_id=np.arange(len(cells))))
        bar.update()
    bar.close()
    names = list(probability_columns(vocabulary, np.zeros((0, vocabulary.n_classes))))
    columns = ["image_id", "cell_id", "x", "y", *names, "label", "score"]
    table = pd.concat(found, ignore_index=True)[columns] if found else pd.DataFrame(columns=columns)
    if classifier is not None and len(table):
        _classify(table, classifier, source, vocabulary, names)
    table.attrs["image_ids"] = ids
    table.attrs["detector"] = {"model": str(model_dir), "threshold": threshold,
                               "edge_thresholds": edges, "edge_band": edge_band,
                               "min_distance": min_distance, "tta": tta, "padding": meta["padding"],
                               "classifier": None if classifier is None else str(classifier),
                               "validation": dict(meta.get("validation") or {})}  # fmt: skip
    if not vocabulary.is_alive_dead:
        table.attrs["classes"] = vocabulary
    return table
