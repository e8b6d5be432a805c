"""Leak-free train/validation/test splits: stratified by label, grouped by image and look-alikes.

A random split of patches leaks twice: patches of one image land in both
training and test sets, and so do images that are near-copies of each other
(the same field captured again, or re-saved). :func:`assign_splits` keeps
every *group* in one split and balances the labels; :func:`lookalike_groups`
finds groups of look-alike images from their pixels.

The assignment is greedy and deterministic given the seed: groups are
shuffled, then taken largest first, and each goes to the split whose label
counts are furthest below their targets (fractions times the totals). With
many small groups the fractions are met closely; one huge group can only go
to one split, so the achieved fractions are reported, never assumed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .images import as_image_source

__all__ = ["SPLITS", "assign_splits", "lookalike_groups", "thumbnail", "split_leaks"]

SPLITS: tuple[str, ...] = ("train", "val", "test")


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    f = np.asarray(fractions, dtype=float)
    if f.shape != (3,) or (f < 0).any() or not np.isclose(f.sum(), 1.0):
        raise ValueError(
            f"fractions must be three non-negative numbers summing to 1, got {fractions}"
        )
    return f


def assign_splits(
    cells: pd.DataFrame,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    *,
    groups: pd.Series | Mapping[str, str] | None = None,
    stratify: str | None = "label",
    seed: int = 0,
    existing: pd.Series | None = None,
) -> pd.Series:
    """Assign every cell to ``train``, ``val`` or ``test``, keeping groups together.

    Parameters
    ----------
    cells : DataFrame
        With ``image_id`` and, for stratification, the ``stratify`` column.
    fractions : (train, val, test), default (0.8, 0.1, 0.1)
        Target fractions of cells (per label when stratified).
    groups : Series or mapping, optional
        Group of each image (image_id -> group), e.g. from
        :func:`lookalike_groups`; images not listed form their own group.
        Default: every image is its own group.
    stratify : str or None, default "label"
        Column whose classes are balanced across splits; None balances counts only.
    seed : int, default 0
        Shuffles groups before the greedy assignment.
    existing : Series, optional
        Splits already fixed (group -> split), e.g. of cells already in a
        store; those groups keep them and count towards the targets, so that
        appending images never moves a cell.

    Returns
    -------
    Series
        ``train``/``val``/``test`` (categorical), indexed like ``cells``;
        ``attrs["groups"]`` holds the group -> split mapping.

    Examples
    --------
    >>> cells = pd.DataFrame({"image_id": [f"i{k // 3}" for k in range(300)],
    ...                       "label": ["alive", "dead", "alive"] * 100})
    >>> split = assign_splits(cells, seed=0)
    >>> split.value_counts().to_dict()
    {'train': 240, 'val': 30, 'test': 30}
    >>> bool(split.groupby(cells["image_id"]).nunique().eq(1).all())
    True
    """
    f = _check_fractions(fractions)
    image = cells["image_id"].astype(str)
    if groups is not None:
        mapping = groups if isinstance(groups, Mapping) else groups.to_dict()
        group = image.map(lambda i: str(mapping.get(i, i)))
    else:
        group = image
    if stratify is not None:
        classes, label = np.unique(cells[stratify].astype(str).to_numpy(), return_inverse=True)
    else:
        classes, label = np.array(["all"]), np.zeros(len(cells), np.int64)
    names, group_code = np.unique(group.to_numpy(), return_inverse=True)
    counts = np.zeros((len(names), len(classes)))
    np.add.at(counts, (group_code, label), 1)
    target = f[:, None] * counts.sum(axis=0)[None, :]
    current = np.zeros_like(target)
    decided = np.full(len(names), -1)
    if existing is not None:
        fixed = {str(k): SPLITS.index(v) for k, v in existing.items()}
        for k, name in enumerate(names):
            if name in fixed:
                decided[k] = fixed[name]
                current[fixed[name]] += counts[k]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(names))
    order = order[np.argsort(-counts[order].sum(axis=1), kind="stable")]
    allowed = f > 0
    for k in order:
        if decided[k] >= 0:
            continue
        # Deficit of each split for this group's labels, relative to the targets.
        need = ((target - current) * counts[k][None, :]).sum(axis=1) / max(counts[k].sum(), 1)
        scale = np.where(allowed, target.sum(axis=1), np.inf)
        s = int(np.argmax(np.where(allowed, need / np.maximum(scale, 1e-12), -np.inf)))
        decided[k] = s
        current[s] += counts[k]
    split = pd.Series(
        pd.Categorical.from_codes(decided[group_code], categories=list(SPLITS)),
        index=cells.index,
        name="split",
    )
    split.attrs["groups"] = {str(n): SPLITS[d] for n, d in zip(names, decided, strict=True)}
    return split


def thumbnail(image: np.ndarray, side: int = 32) -> np.ndarray:
    """A small, high-passed, unit-norm grey thumbnail for comparing images.

    The image is averaged down to ``side x side``, its smooth illumination
    (a Gaussian blur of the thumbnail) subtracted, and the rest scaled to unit
    norm, so the correlation of two thumbnails is their dot product.

    Examples
    --------
    >>> t = thumbnail(np.random.default_rng(0).integers(0, 255, (100, 80, 1), dtype=np.uint8))
    >>> t.shape, round(float(np.linalg.norm(t)), 6)
    ((1024,), 1.0)
    """
    grey = image.mean(axis=2) if image.ndim == 3 else image
    small = np.asarray(
        Image.fromarray(grey.astype(np.float32)).resize((side, side), Image.Resampling.BOX),
        dtype=np.float32,
    )
    small = small - ndimage.gaussian_filter(small, side / 8)
    small -= small.mean()
    norm = np.linalg.norm(small)
    return (small / norm if norm > 0 else small).ravel()


def lookalike_groups(
    images,
    image_ids: Sequence[str] | None = None,
    *,
    threshold: float = 0.9,
    side: int = 32,
    block: int = 2048,
) -> pd.Series:
    """Group images that look alike (near-duplicates), from their pixels.

    Two images are linked when the correlation of their thumbnails (see
    :func:`thumbnail`) exceeds ``threshold``; groups are the connected
    components of those links, so a chain of look-alikes is one group. On
    the LDC images, thumbnail correlations are bimodal (a mode near 0.3 for
    unrelated fields, one near 1 for re-captured ones); 0.9 sits above the
    pairs that share only the counting-chamber ruling.

    Parameters
    ----------
    images : folder, mapping or ImageSource
        Where the pixels come from.
    image_ids : sequence of str, optional
        Images to compare; default every image of the source.
    threshold : float, default 0.9
        Correlation above which two images are look-alikes.
    side : int, default 32
        Thumbnail side in pixels.
    block : int, default 2048
        Rows of the correlation matrix computed at once (memory, not results).

    Returns
    -------
    Series
        Group name (the first image id of the group, sorted) per image id;
        ``attrs["n_groups"]`` counts groups of two or more images.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 255, (64, 64), dtype=np.uint8)
    >>> b = rng.integers(0, 255, (64, 64), dtype=np.uint8)
    >>> groups = lookalike_groups({"a": a, "a-again": a, "b": b})
    >>> groups.to_dict()
    {'a': 'a', 'a-again': 'a', 'b': 'b'}
    """
    source = as_image_source(images)
    ids = list(image_ids) if image_ids is not None else source.ids()
    thumbs = (
        np.stack([thumbnail(source.load(i)[0], side) for i in ids])
        if ids
        else np.zeros((0, side * side))
    )
    rows, cols = [], []
    for start in range(0, len(ids), block):
        corr = thumbs[start : start + block] @ thumbs.T
        r, c = np.nonzero(corr > threshold)
        rows.append(r + start)
        cols.append(c)
    r, c = (np.concatenate(rows), np.concatenate(cols)) if rows else (np.zeros(0, int),) * 2
    graph = coo_matrix((np.ones(len(r)), (r, c)), shape=(len(ids), len(ids)))
    _, component = connected_components(graph, directed=False)
    frame = pd.DataFrame({"image_id": ids, "component": component})
    first = frame.groupby("component")["image_id"].transform("min")
    groups = pd.Series(first.to_numpy(), index=pd.Index(ids, name="image_id"), name="group")
    sizes = groups.value_counts()
    groups.attrs["n_groups"] = int((sizes > 1).sum())
    groups.attrs["n_images_in_groups"] = int(sizes[sizes > 1].sum())
    return groups


def split_leaks(split_of_image: Mapping[str, str] | pd.Series, groups: pd.Series) -> int:
    """How many look-alike groups a split puts in more than one of train/val/test.

    Examples
    --------
    >>> groups = pd.Series({"a": "a", "a2": "a", "b": "b"})
    >>> split_leaks({"a": "train", "a2": "test", "b": "val"}, groups)
    1
    """
    split = pd.Series(
        split_of_image if isinstance(split_of_image, Mapping) else split_of_image.to_dict()
    )
    table = pd.DataFrame({"group": groups, "split": split.reindex(groups.index)}).dropna()
    return int((table.groupby("group")["split"].nunique() > 1).sum())
