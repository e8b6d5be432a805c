"""Train the point detector from any Cells or truth table and its images.

Images are split train / validation / test *by image* (whole look-alike groups with
``groups="lookalike"``), as the patch store splits them. Every step of an epoch
takes a random square crop of a training image, one of the eight symmetries of the
square, and the matching targets
(:mod:`~cellcnn.detect.crops`: reaching beyond the image's edges as the tiles do at
inference), streamed through ``tf.data``. The
weights with the lowest validation loss (fixed crops of the validation images) are
kept; the peak threshold is then chosen on the whole validation images for the best
detection F1 (:func:`cellconsensus.metrics.score`).

With ``cache=`` the images are read from a chunked zarr copy
(:mod:`~cellcnn.detect.image_cache`), a crop at a time, instead of being held in memory.

Files written to ``out_dir``: ``detector.keras`` (the network) and
``detector.json`` (every setting, the split of every image, the validation figures
and the training history), the record last: a folder with both is complete.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from cellconsensus.errors import CellConsensusInputError
from cellconsensus.images import as_image_source
from cellconsensus.metrics import score
from cellconsensus.splits import SPLITS, assign_splits, lookalike_groups
from cellconsensus.tables import Vocabulary, cells_vocabulary, class_proba, image_ids_of

from .. import __version__
from ..model_files import save_model_folder
from .crops import TrainingImage, crop_stream, random_crop
from .edges import EDGE_BAND, edge_kept, tune_edges
from .heatmap import TARGET_EXTRA
from .image_cache import cache_images
from .inference import DETECTOR_FILES, cells_from_maps, predict_maps
from .network import build_detector, detector_loss
from .tiles import MARGIN, PADDING

__all__ = ["train_detector", "DetectorResult", "CELL_SIZE", "MIN_DISTANCE", "THRESHOLDS"]

logger = logging.getLogger(__name__)

#: Cell diameter in pixels assumed when the table has no ``size`` column (the median
#: of the LDC expert boxes, 20.5 px).
CELL_SIZE = 20.0
#: Peaks at least this many cell sizes apart. Measured on the LDC validation images (two
#: detectors; the per-side thresholds re-chosen each time): detection F1 0.963 / 0.966 /
#: 0.969 / 0.969 at 0.6 / 0.5 / 0.4 / 0.3 cell sizes (mean of the two); of the two best,
#: the one that keeps neighbouring peaks of one cell further apart.
MIN_DISTANCE = 0.4
#: Steps of an epoch at least (an epoch is otherwise one crop per training image).
MIN_STEPS = 32
#: Peak thresholds tried on the validation images.
THRESHOLDS = tuple(np.round(np.arange(0.05, 0.96, 0.05), 2))


@dataclass(frozen=True)
class DetectorResult:
    """What :func:`train_detector` made.

    Attributes
    ----------
    out_dir : Path
        The detector's folder (pass it to :func:`~cellcnn.detect.detect`).
    record : dict
        The contents of ``detector.json``.
    """

    out_dir: Path
    record: dict

    @property
    def validation(self) -> dict:
        """Detection and label figures on the validation images at the chosen threshold."""
        return self.record["validation"]


def _image_splits(table, ids, split, groups, fractions, seed, source) -> pd.Series:
    """``train`` / ``val`` / ``test`` of every image."""
    if split is not None:
        mapping = pd.Series(split if isinstance(split, Mapping) else split, dtype=object)
        out = pd.Series([mapping.get(i) for i in ids], index=ids, dtype=object)
    elif "split" in table.columns:
        out = table.groupby("image_id")["split"].first().astype(str).reindex(ids)
    else:
        empty = pd.Index(ids).difference(table["image_id"], sort=False)
        rows = pd.concat([table[["image_id", "label"]].astype(str),
                          pd.DataFrame({"image_id": empty, "label": "(no cell)"})],
                         ignore_index=True)  # fmt: skip
        if isinstance(groups, str) and groups == "lookalike":
            groups = lookalike_groups(source, ids)
        elif isinstance(groups, str) and groups != "image":
            raise ValueError(f"groups must be 'image', 'lookalike' or a mapping, got {groups!r}")
        chosen = assign_splits(rows, fractions, groups=None if isinstance(groups, str) else groups,
                               seed=seed)  # fmt: skip
        out = chosen.groupby(rows["image_id"].to_numpy()).first().astype(str).reindex(ids)
    bad = out[~out.isin(SPLITS)]
    if len(bad):
        raise CellConsensusInputError(
            f"image {bad.index[0]!r} has no split (got {bad.iloc[0]!r}); expected one of "
            f"{', '.join(SPLITS)}", field="split")  # fmt: skip
    return out


def _targets_of(
    table: pd.DataFrame, vocabulary: Vocabulary, balance: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class probabilities, centre weights and class weights of every cell (0: no class).

    With ``balance``, a labelled cell's weights are multiplied by its (most probable)
    class's ``n / (K n_c)``, scaled so that they average 1 over the cells: a rare class
    counts as much as a common one."""
    k = vocabulary.n_classes
    if any(c.startswith("p_") and c != "p_real" for c in table.columns):
        proba = class_proba(table, vocabulary)
        labelled = np.isfinite(proba).all(axis=1)
    else:
        codes = vocabulary.codes(table["label"]) if "label" in table else np.full(len(table), -1)
        labelled = (codes >= 0) & (codes < k)
        proba = np.zeros((len(table), k))
        proba[labelled, codes[labelled]] = 1.0
    proba = np.where(labelled[:, None], np.nan_to_num(proba), 1.0 / k)
    weight = table["p_real"].to_numpy(float) if "p_real" in table else np.ones(len(table))
    weight = np.where(np.isfinite(weight), weight, 1.0)
    factor = np.ones(len(table))
    if balance and labelled.any():
        top = np.argmax(proba, axis=1)
        counts = np.bincount(top[labelled], minlength=k).astype(float)
        per_class = np.where(counts > 0, labelled.sum() / (k * np.maximum(counts, 1)), 1.0)
        factor = np.where(labelled, per_class[top], 1.0)
        factor /= factor.mean()
    return proba, weight * factor, labelled * factor


class _KeepBest(keras.callbacks.Callback):
    """Keep the weights of the epoch with the lowest validation loss; restore them at the end."""

    def __init__(self):
        super().__init__()
        self.best, self.weights, self.epoch = np.inf, None, -1

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("val_loss", np.inf)
        if loss < self.best:
            self.best, self.weights, self.epoch = loss, self.model.get_weights(), epoch

    def on_train_end(self, logs=None):
        if self.weights is not None:
            self.model.set_weights(self.weights)


def _tune(net, images, truth, ids, vocabulary, record) -> dict:
    """The peak threshold (and whether to average the eight symmetries) with the best F1
    on the validation images (the middle threshold of a tie; TTA only where strictly
    better), then a threshold per side of the images for the peaks near it
    (:func:`~cellcnn.detect.edges.tune_edges`), and the figures of that setting."""

    def figures(kept: pd.DataFrame) -> dict:
        return score(kept, truth, image_ids=ids, default_size=record["cell_size"]).to_dict()

    best: dict = {}
    best_found = None  # the chosen setting's peaks at the lowest threshold
    for tta in (False, True):
        # Peaks at the lowest threshold, once: those of a higher one are the ones scoring
        # at least that high (a peak is only ever suppressed by a higher one).
        maps = predict_maps(net, (im.pixels[...] for im in images), margin=record["margin"],
                            max_tile=record["max_tile"], tta=tta,
                            padding=record["padding"])  # fmt: skip
        found = pd.concat([cells_from_maps(m, vocabulary, threshold=THRESHOLDS[0],
                                           min_distance=record["min_distance"]).assign(image_id=i)
                           for i, m in zip(ids, maps, strict=True)], ignore_index=True)  # fmt: skip
        tried = [figures(found[found["score"] >= threshold]) for threshold in THRESHOLDS]
        f1 = np.nan_to_num([t["f1"] for t in tried], nan=-1.0)
        ties = np.flatnonzero(f1 >= f1.max() - 1e-12)
        chosen = int(ties[len(ties) // 2])
        if not best or f1[chosen] > np.nan_to_num(best["validation"]["f1"], nan=-1.0) + 1e-12:
            best = {"threshold": float(THRESHOLDS[chosen]), "tta": tta,
                    "validation": tried[chosen]}  # fmt: skip
            best_found = found
    band = EDGE_BAND * record["cell_size"]
    shapes = {str(i): im.pixels.shape for i, im in zip(ids, images, strict=True)}
    edges = tune_edges(best_found, shapes, best["threshold"], band,
                       lambda kept: np.nan_to_num(figures(kept)["f1"], nan=-1.0),
                       THRESHOLDS)  # fmt: skip
    kept = edge_kept(best_found, shapes, best["threshold"], edges, band)
    best.update(edge_thresholds=edges, edge_band=band, validation=figures(best_found[kept]))
    return best


def train_detector(
    cells: pd.DataFrame,
    images,
    out_dir: str | os.PathLike,
    *,
    image_ids: Sequence[str] | None = None,
    classes: Vocabulary | Sequence[str] | None = None,
    split: pd.Series | Mapping[str, str] | None = None,
    groups: str | Mapping[str, str] = "image",
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    cell_size: float | None = None,
    epochs: int = 30,
    crop: int = 128,
    batch_size: int = 16,
    learning_rate: float = 2e-3,
    widths: Sequence[int] = (16, 32, 64),
    balance_classes: bool = True,
    cache: str | os.PathLike | None = None,
    seed: int = 0,
    verbose: int = 0,
) -> DetectorResult:
    """Train a cell-centre detector (with class maps) on whole images.

    Parameters
    ----------
    cells : DataFrame
        ``image_id, x, y`` and the classes: ``label`` (a truth table: hard targets) or
        the ``p_<class>`` columns of a Cells table (soft targets); a ``p_real`` column
        weights each cell's centre (a consensus cell in doubt teaches less).
    images : folder, mapping or ImageSource
        The pixels (:func:`cellconsensus.images.as_image_source`).
    out_dir : path-like
        Folder of the detector (created; its files are replaced).
    image_ids : sequence of str, optional
        The images to learn from, those without cells included (default
        ``cells.attrs["image_ids"]``, else the images of ``cells``).
    classes : Vocabulary or sequence of str, optional
        The label set (default :func:`cellconsensus.tables.cells_vocabulary`).
    split : Series or mapping, optional
        ``train`` / ``val`` / ``test`` per image; default a ``split`` column of
        ``cells``, else drawn with ``fractions`` and ``groups``.
    groups : "image", "lookalike" or mapping, default "image"
        Images kept in one split: each alone, look-alike groups
        (:func:`cellconsensus.splits.lookalike_groups`) or given ``image -> group``.
    fractions : (train, val, test), default (0.8, 0.1, 0.1)
        Shares of the cells (stratified by class) when the split is drawn.
    cell_size : float, optional
        Cell diameter in pixels (default the median ``size`` of ``cells``, else
        :data:`CELL_SIZE`): bumps of width ``size / 6``, peaks at least
        :data:`MIN_DISTANCE` sizes apart.
    epochs, crop, batch_size, learning_rate : training schedule
        Epochs of one crop per training image (at least :data:`MIN_STEPS` steps), crop side (a multiple of 8), crops per
        step, Adam's initial rate (cosine decay to 0).
    widths : sequence of int, default (16, 32, 64)
        The network's filters (:func:`~cellcnn.detect.network.build_detector`).
    balance_classes : bool, default True
        Weight each cell by the inverse frequency of its class (centre and class maps
        alike), so that a rare class is found and labelled as well as a common one.
    cache : path-like, optional
        Copy the images into a chunked zarr store there first
        (:func:`~cellcnn.detect.image_cache.cache_images`: atomic and resumable, reused
        by the next run on the same images) and read the training crops from it: memory
        is then bounded by the crops, not the image set. Default: every image in memory.
    seed : int, default 0
        Seeds the split, the crops and the network.
    verbose : int, default 0
        Keras' progress output.

    Returns
    -------
    DetectorResult

    Raises
    ------
    CellConsensusInputError
        Missing columns or non-finite positions (naming the row), no training cell,
        no validation image.

    Examples
    --------
    >>> from cellconsensus.synthetic import make_images
    >>> data = make_images(20, seed=0)
    >>> result = train_detector(data.truth, data.images, "runs/detector")  # doctest: +SKIP
    >>> result.validation["f1"]  # doctest: +SKIP
    """
    missing = [c for c in ("image_id", "x", "y") if c not in cells.columns]
    if missing:
        raise CellConsensusInputError(f"cells lack column(s) {', '.join(missing)}")
    xy = cells[["x", "y"]].to_numpy(float)
    bad = np.flatnonzero(~np.isfinite(xy).all(axis=1))
    if len(bad):
        raise CellConsensusInputError("a cell position is not a finite number",
                                      row=f"row {bad[0] + 1}", field="x, y")  # fmt: skip
    if crop % 8 or crop < 16:
        raise ValueError(f"crop must be a multiple of 8 of at least 16, got {crop}")
    if not (isinstance(epochs, int) and epochs >= 1):
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if not (np.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    table = cells.assign(image_id=cells["image_id"].astype(str))
    vocabulary = cells_vocabulary(cells, classes)
    ids = [str(i) for i in image_ids_of(cells, image_ids or None)]
    source = as_image_source(images)
    if cell_size is None:
        sizes = table["size"].to_numpy(float) if "size" in table else np.zeros(0)
        sizes = sizes[np.isfinite(sizes) & (sizes > 0)]
        cell_size = float(np.median(sizes)) if len(sizes) else CELL_SIZE
    splits = _image_splits(table, ids, split, groups, fractions, seed, source)
    proba, weight, class_weight = _targets_of(table, vocabulary, balance_classes)
    channels = source.load(ids[0])[0].shape[2] if ids else 1
    by_image = pd.Series(np.arange(len(table))).groupby(table["image_id"].to_numpy()).indices
    cached = cache_images(source, cache, ids, channels) if cache is not None else None
    loaded = {}
    for image_id in ids:
        rows = by_image.get(image_id, np.zeros(0, np.int64))
        pixels = (cached[image_id] if cached is not None
                  else source.load(image_id, channels=channels)[0])  # fmt: skip
        loaded[image_id] = TrainingImage(pixels, xy[rows, 0],
                                  xy[rows, 1], proba[rows], weight[rows], class_weight[rows])  # fmt: skip
    part = {s: [i for i in ids if splits[i] == s] for s in SPLITS}
    n_train_cells = sum(len(loaded[i].x) for i in part["train"])
    if not n_train_cells or not part["val"]:
        raise CellConsensusInputError(
            f"nothing to learn from: {n_train_cells} cells on {len(part['train'])} training "
            f"images, {len(part['val'])} validation images (both need at least one)")  # fmt: skip
    sigma = cell_size / 6
    record = {"format": "cellcnn-detector/1", "version": __version__,
              "classes": list(vocabulary.classes), "unsure": vocabulary.unsure,
              "channels": int(channels), "cell_size": cell_size, "sigma": sigma,
              "min_distance": MIN_DISTANCE * cell_size, "margin": MARGIN, "max_tile": 768, "padding": PADDING,
              "crop": crop, "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
              "widths": list(widths), "balance_classes": balance_classes, "seed": seed,
              "splits": {s: part[s] for s in SPLITS}}  # fmt: skip
    keras.utils.set_random_seed(seed)
    k = vocabulary.n_classes
    spec = (tf.TensorSpec((crop, crop, channels), tf.uint8),
            tf.TensorSpec((crop, crop, k + TARGET_EXTRA), tf.float32))  # fmt: skip
    train_images = [loaded[i] for i in part["train"]]
    stream = tf.data.Dataset.from_generator(lambda: crop_stream(train_images, crop, sigma, record["margin"], seed),
                                            output_signature=spec)  # fmt: skip
    stream = stream.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    val_rng = np.random.default_rng(seed + 1)
    val_x, val_y = zip(
        *(random_crop(loaded[i], crop, val_rng, sigma, record["margin"]) for i in part["val"]),
        strict=True,
    )
    steps = max(MIN_STEPS, -(-len(train_images) // batch_size))
    net = build_detector(channels, k, widths=widths)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps * epochs)
    net.compile(optimizer=keras.optimizers.Adam(schedule), loss=detector_loss)
    keep = _KeepBest()
    history = net.fit(stream, steps_per_epoch=steps, epochs=epochs, callbacks=[keep],
                      validation_data=(np.stack(val_x), np.stack(val_y)),
                      validation_batch_size=batch_size, shuffle=False, verbose=verbose)  # fmt: skip
    truth = table[table["image_id"].isin(part["val"])]
    if "size" not in truth:
        truth = truth.assign(size=cell_size)
    chosen = _tune(net, [loaded[i] for i in part["val"]], truth, part["val"], vocabulary, record)
    record.update(**chosen, best_epoch=keep.epoch + 1,
                  history={key: [float(v) for v in values]
                           for key, values in history.history.items()})  # fmt: skip
    out = save_model_folder(out_dir, net, record, *DETECTOR_FILES)
    logger.info("detector in %s: validation F1 %.3f at threshold %.2f (TTA %s)", out,
                chosen["validation"]["f1"], chosen["threshold"], chosen["tta"])  # fmt: skip
    return DetectorResult(out, record)
