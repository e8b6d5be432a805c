"""Stream patches from a zarr store through ``tf.data``, chunk by chunk.

An epoch visits the store's chunks in a fresh random order (``shuffle=True``),
reads them in parallel threads, keeps the rows of the requested split and
mixes them in a shuffle buffer a few chunks deep, so the whole store never
has to fit in memory. With ``cache=True`` (or ``"auto"`` when the split is
smaller than ``cache_limit`` bytes) the split is read once into memory
instead and shuffled in full every epoch.

Targets and sample weights (hard or soft, ``unsure`` left out or kept, class and
support weights) are those of :mod:`cellcnn.targets`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import tensorflow as tf

from .store import PatchStore
from .targets import Target, check_training, class_counts, targets, weight_keys

__all__ = [
    "make_dataset",
    "targets",
    "weight_keys",
    "class_counts",
    "channel_stats",
    "check_training",
]


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
