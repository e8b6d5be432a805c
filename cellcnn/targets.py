"""What a model learns from a store: targets, class-weight keys, class counts, and the
checks that refuse a training run with nothing to learn.

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
from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd

from cellconsensus.errors import CellConsensusInputError

from .store import PatchStore

__all__ = ["Target", "targets", "weight_keys", "class_counts", "check_training"]

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
