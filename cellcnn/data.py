"""Stream patches from a zarr store through ``tf.data``, chunk by chunk.

An epoch visits the store's chunks in a fresh random order (``shuffle=True``),
reads them in parallel threads, keeps the rows of the requested split and
mixes them in a shuffle buffer a few chunks deep, so the whole store never
has to fit in memory. With ``cache=True`` (or ``"auto"`` when the split is
smaller than ``cache_limit`` bytes) the split is read once into memory
instead and shuffled in full every epoch.

Targets follow the store's label set (:mod:`cellcnn.classes`): for two classes
the probability of the first (*alive* for alive / dead), a number per cell; for
K > 2 classes a row of K probabilities.

- ``target="hard"``: the label (1 for ``alive``, 0 for ``dead``; one-hot for K);
- ``target="soft"``: the consensus class probabilities (``p_alive``, or every
  ``p_<class>``; cross-entropy accepts them); stores without them (expert truth)
  fall back to hard labels.

``unsure`` cells are left out (``unsure="exclude"``) or kept with the consensus
probabilities (or 1/K each) as target (``unsure="include"``). Every element also
carries a sample weight: the class weight (when given; keyed like Keras'
``class_weight``: by the target, 0 or 1, for two classes, by the class index for
more) times the consensus ``support`` (``sample_weight="support"``).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
import tensorflow as tf

from cellconsensus.errors import CellConsensusInputError

from .store import PatchStore

__all__ = [
    "make_dataset",
    "targets",
    "weight_keys",
    "class_counts",
    "channel_stats",
    "check_training",
]

logger = logging.getLogger(__name__)

Target = Literal["hard", "soft"]


def targets(
    store: PatchStore,
    rows: np.ndarray,
    *,
    target: Target = "hard",
    unsure: Literal["exclude", "include"] = "exclude",
    sample_weight: Literal["support"] | None = None,
    class_weight: Mapping[int, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows kept, their targets (``(n,)`` for two classes, ``(n, K)`` for more) and
    sample weights.

    Raises
    ------
    CellConsensusInputError
        A label that is neither a class of the store's label set nor its unsure answer.

    Examples
    --------
    >>> targets(store, store.rows("train"))  # doctest: +SKIP
    """
    if target not in ("hard", "soft"):
        raise ValueError(f"target must be 'hard' or 'soft', got {target!r}")
    if unsure not in ("exclude", "include"):
        raise ValueError(f"unsure must be 'exclude' or 'include', got {unsure!r}")
    if sample_weight not in (None, "support"):
        raise ValueError(f"sample_weight must be None or 'support', got {sample_weight!r}")
    vocabulary = store.vocabulary
    if vocabulary is None:
        raise CellConsensusInputError(
            "the store's cells carry no labels to learn (no label coordinate)",
            source=store.location,
        )
    k = vocabulary.n_classes
    codes = vocabulary.codes(pd.Series(store.coords["label"][rows], dtype=object))
    if (codes < 0).any():
        i = int(np.flatnonzero(codes < 0)[0])
        raise CellConsensusInputError(
            f"label {store.coords['label'][rows[i]]!r} is none of the store's classes "
            f"{', '.join(vocabulary.classes)} (nor the unsure answer)",
            source=store.location,
            row=f"cell {int(rows[i])}",
            field="label",
        )
    keep = codes < k if unsure == "exclude" else np.ones(len(rows), bool)
    rows, codes = rows[keep], codes[keep]
    in_doubt = codes == k
    hard = np.eye(k, dtype=np.float32)[np.minimum(codes, k - 1)]
    soft = store.class_proba(rows)
    if soft is None:
        soft = np.where(in_doubt[:, None], np.float32(1 / k), hard)
    y = soft if target == "soft" else np.where(in_doubt[:, None], soft, hard)
    if k == 2:
        y = y[:, 0]
    weight = np.ones(len(rows), np.float32)
    if sample_weight == "support" and "support" in store.coords:
        weight *= store.coords["support"][rows].astype(np.float32)
    if class_weight:
        factors = np.array([class_weight.get(c, 1.0) for c in range(max(k, 2))], np.float32)
        weight *= factors[weight_keys(y)]
    return rows, y.astype(np.float32), weight


def weight_keys(y: np.ndarray) -> np.ndarray:
    """The class-weight key of each target: 1 or 0 (above 0.5 or not) for two classes,
    the most probable class's index for more.

    Examples
    --------
    >>> weight_keys(np.array([0.9, 0.2])).tolist(), weight_keys(np.eye(3)[[2, 0]]).tolist()
    ([1, 0], [2, 0])
    """
    y = np.asarray(y)
    return (y > 0.5).astype(np.int64) if y.ndim == 1 else np.argmax(y, axis=1)


def class_counts(store: PatchStore, y: np.ndarray) -> dict[str, int]:
    """Cells per class among targets ``y`` (hard: a target counts for its likeliest class).

    Examples
    --------
    >>> class_counts(store, np.array([1.0, 0.0, 1.0]))  # doctest: +SKIP
    {'alive': 2, 'dead': 1}
    """
    classes = store.vocabulary.classes
    keys = weight_keys(y)
    if np.asarray(y).ndim == 1:  # key 1 is the first class
        keys = 1 - keys
    counts = np.bincount(keys, minlength=len(classes))
    return {name: int(n) for name, n in zip(classes, counts, strict=True)}


def check_training(
    store: PatchStore,
    *,
    target: Target = "hard",
    unsure: Literal["exclude", "include"] = "exclude",
    epochs: int = 1,
    batch_size: int = 1,
    learning_rate: float = 1e-3,
    patience: int = 0,
) -> None:
    """Refuse a training run with nothing to learn, before any model is built.

    Raises
    ------
    ValueError
        A setting out of range (``epochs``, ``batch_size``, ``patience`` below 1 / 0,
        ``learning_rate`` not a positive finite number).
    CellConsensusInputError
        Naming the store and the counts: no training patches (after leaving ``unsure``
        cells out), one class only, or no validation patches.

    Examples
    --------
    >>> check_training(store, learning_rate=float("nan"))  # doctest: +SKIP
    Traceback (most recent call last):
    ValueError: learning_rate must be a positive finite number, got nan
    """
    for name, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1)):
        if not isinstance(value, int | np.integer) or value < low:
            raise ValueError(f"{name} must be an integer of at least {low}, got {value!r}")
    if not isinstance(patience, int | np.integer) or patience < 0:
        raise ValueError(f"patience must be a non-negative integer, got {patience!r}")
    if not (isinstance(learning_rate, int | float) and math.isfinite(learning_rate)) or (
        learning_rate <= 0
    ):
        raise ValueError(f"learning_rate must be a positive finite number, got {learning_rate!r}")
    counts = {}
    for split in ("train", "val"):
        rows = store.rows(split)
        kept, y, _ = targets(store, rows, target=target, unsure=unsure)
        counts[split] = (len(rows), len(kept), class_counts(store, y))
    n_cells, n_train, per_class = counts["train"]
    left_out = f" ({n_cells - n_train} unsure left out)" if n_cells > n_train else ""
    if n_train == 0:
        raise CellConsensusInputError(
            f"nothing to learn: the train split holds {n_cells} cell(s), none with a label "
            f"to learn{left_out}",
            source=store.location,
        )
    held = ", ".join(f"{n} {name}" for name, n in per_class.items())
    if sum(n > 0 for n in per_class.values()) < 2:
        raise CellConsensusInputError(
            f"one class only: the train split holds {held} cell(s){left_out}; a classifier "
            "needs two classes or more",
            source=store.location,
        )
    absent = [name for name, n in per_class.items() if n == 0]
    if absent:
        logger.warning(
            "%s: the train split holds no %s cell (%s): the model will never predict %s",
            store.location, " or ".join(absent), held, "them" if len(absent) > 1 else "it",
        )  # fmt: skip
    if counts["val"][1] == 0:
        raise CellConsensusInputError(
            f"no validation patches: the val split holds {counts['val'][0]} cell(s) "
            "(early stopping and the saved model's choice need some)",
            source=store.location,
        )


def channel_stats(
    store: PatchStore, rows: np.ndarray, max_chunks: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and variance of the given rows (on up to ``max_chunks`` chunks).

    Examples
    --------
    >>> mean, var = channel_stats(store, store.rows("train"))  # doctest: +SKIP
    """
    chunks = np.unique(rows // store.chunk)
    if len(chunks) > max_chunks:
        chunks = np.random.default_rng(0).choice(chunks, max_chunks, replace=False)
    total = np.zeros(store.channels)
    total_sq = np.zeros(store.channels)
    count = 0
    for k in np.sort(chunks):
        start = int(k) * store.chunk
        block = store.read(start, start + store.chunk)
        local = rows[(rows >= start) & (rows < start + len(block))] - start
        pixels = block[local].reshape(-1, store.channels).astype(np.float64)
        total += pixels.sum(axis=0)
        total_sq += (pixels**2).sum(axis=0)
        count += len(pixels)
    if not count:
        return np.zeros(store.channels), np.ones(store.channels)
    mean = total / count
    return mean, np.maximum(total_sq / count - mean**2, 1e-6)


def make_dataset(
    store: str | os.PathLike | Any | PatchStore,
    size: int | None = None,
    split: str | None = "train",
    batch_size: int = 64,
    *,
    shuffle: bool = True,
    target: Target = "hard",
    unsure: Literal["exclude", "include"] = "exclude",
    sample_weight: Literal["support"] | None = None,
    class_weight: Mapping[int, float] | None = None,
    seed: int = 0,
    cache: bool | Literal["auto"] = "auto",
    cache_limit: int = 2 * 2**30,
    buffer_chunks: int = 4,
    with_index: bool = False,
    shard: tuple[int, int] | None = None,
    drop_remainder: bool = False,
    storage_options: dict | None = None,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of ``(patches, target, weight)`` batches from a store.

    Parameters
    ----------
    store : path, URL, zarr store or PatchStore
        A complete ``cellconsensus`` patch store.
    size : int
        Patch side (not needed with a PatchStore).
    split : {"train", "val", "test"} or None, default "train"
        Which cells; None for all.
    batch_size : int, default 64
        Patches per batch.
    shuffle : bool, default True
        Chunk-order shuffle plus a shuffle buffer (or a full shuffle when cached).
    target, unsure, sample_weight, class_weight
        See the module docstring.
    seed : int, default 0
        Seeds the shuffles: the same seed gives the same order, epoch by epoch.
    cache : bool or "auto", default "auto"
        Hold the split in memory (auto: when it is under ``cache_limit`` bytes).
    cache_limit : int, default 2 GiB
        Largest split (pixel bytes) that ``"auto"`` caches.
    buffer_chunks : int, default 4
        Shuffle buffer depth in chunks when streaming.
    with_index : bool, default False
        Add the store row of every patch as a fourth element (for evaluation).
    shard : (n, i), optional
        Only the rows of input pipeline ``i`` of ``n`` (e.g. one worker of a
        ``tf.distribute.MultiWorkerMirroredStrategy``): whole store chunks
        ``k`` with ``k % n == i``, so each worker reads only its own chunks.
        The ``n`` shards are disjoint and together hold the split.
    drop_remainder : bool, default False
        Drop the last batch when it is incomplete (replicas that train in step
        need batches of one shape).
    storage_options : dict, optional
        For fsspec URLs.

    Returns
    -------
    tf.data.Dataset
        Elements ``(uint8 (B, S, S, C), float32 (B,) or (B, K), float32 (B,)[, int64 (B,)])``
        (targets ``(B, K)`` for K > 2 classes).

    Examples
    --------
    >>> ds = make_dataset("patches.zarr", 95, "train", 128)  # doctest: +SKIP
    >>> model.fit(ds, validation_data=make_dataset("patches.zarr", 95, "val", shuffle=False))  # doctest: +SKIP
    """
    source = store if isinstance(store, PatchStore) else PatchStore(store, size, storage_options)
    rows, y, w = targets(
        source,
        source.rows(split),
        target=target,
        unsure=unsure,
        sample_weight=sample_weight,
        class_weight=class_weight,
    )
    if shard is not None:
        mine = _shard(rows, source, shard)
        rows, y, w = rows[mine], y[mine], w[mine]
    s, c = source.size, source.channels
    nbytes = len(rows) * s * s * c
    if cache == "auto":
        cache = nbytes <= cache_limit
    if cache:
        ds = _cached(source, rows, y, w, with_index, batch_size, shuffle, seed, drop_remainder)
    else:
        ds = _streamed(source, rows, y, w, with_index, shuffle, seed, buffer_chunks)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)


def _shard(rows: np.ndarray, source: PatchStore, shard: tuple[int, int]) -> np.ndarray:
    """Which rows belong to input pipeline ``i`` of ``n``: those of chunks ``k % n == i``."""
    n, i = (int(v) for v in shard)
    if not 0 <= i < n:
        raise ValueError(f"shard must be (n, i) with 0 <= i < n, got {shard}")
    return (rows // source.chunk) % n == i


def _shapes(s: int, c: int, with_index: bool, target_shape: tuple[int, ...]):
    """Static shapes for the outputs of a ``numpy_function`` (and the index dropped
    unless asked for)."""

    def shape(x, t, wt, i):
        x.set_shape((None, s, s, c))
        t.set_shape((None, *target_shape))
        wt.set_shape((None,))
        i.set_shape((None,))
        return (x, t, wt, i) if with_index else (x, t, wt)

    return shape


def _cached(source: PatchStore, rows, y, w, with_index, batch_size, shuffle, seed, drop_remainder):
    """The split in memory; an epoch shuffles row *indices* and gathers whole batches
    (no per-patch work in ``tf.data``, and no 2 GB graph constant)."""
    x = np.zeros((len(rows), source.size, source.size, source.channels), np.uint8)
    chunks = rows // source.chunk
    for k in np.unique(chunks):
        start = int(k) * source.chunk
        block = source.read(start, start + source.chunk)
        take = chunks == k
        x[take] = block[rows[take] - start]
    index = rows.astype(np.int64)

    def gather(i):
        return x[i], y[i], w[i], index[i]

    ds = tf.data.Dataset.range(len(rows))
    if shuffle:
        ds = ds.shuffle(max(len(rows), 1), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder).map(
        lambda i: tf.numpy_function(gather, [i], (tf.uint8, tf.float32, tf.float32, tf.int64)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return ds.map(_shapes(source.size, source.channels, with_index, y.shape[1:]))


def _streamed(source: PatchStore, rows, y, w, with_index, shuffle, seed, buffer_chunks):
    chunk_of = rows // source.chunk
    chunk_ids = np.unique(chunk_of).astype(np.int64)
    # Per chunk: where its rows sit in (rows, y, w).
    bounds = {int(k): np.flatnonzero(chunk_of == k) for k in chunk_ids}
    s, c = source.size, source.channels

    def load(k):
        k = int(k)
        start = k * source.chunk
        block = source.read(start, start + source.chunk)
        where = bounds[k]
        return block[rows[where] - start], y[where], w[where], rows[where].astype(np.int64)

    ds = tf.data.Dataset.from_tensor_slices(chunk_ids)
    if shuffle:
        ds = ds.shuffle(max(len(chunk_ids), 1), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(
        lambda k: tf.numpy_function(load, [k], (tf.uint8, tf.float32, tf.float32, tf.int64)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )

    ds = ds.map(_shapes(s, c, with_index, y.shape[1:])).unbatch()
    if shuffle:
        ds = ds.shuffle(
            max(buffer_chunks * source.chunk, 1), seed=seed + 1, reshuffle_each_iteration=True
        )
    return ds
