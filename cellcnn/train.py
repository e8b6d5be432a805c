"""Train a model on a patch store, with logs, checkpoints and resumption.

``train(store, size, model="compact", epochs=..., out_dir=...)`` writes::

    out_dir/
      run.json                every setting, the environment, the store's provenance and
                              how the model predicts best (TTA, threshold: chosen on val)
      model.keras             the best model (highest validation ROC AUC; ties: lowest loss)
      log.csv                 one row per epoch (loss, accuracy, AUC, learning rate)
      learning_curves.png     loss and AUC by epoch, training and validation
      tensorboard/            TensorBoard logs
      backup/                 state for resuming (removed when training completes)

The head follows the store's label set (:mod:`cellcnn.classes`): a sigmoid and
binary cross-entropy for two classes, a softmax and categorical cross-entropy
for more (``run.json`` records the classes in order).

An interrupted run resumes from its last completed epoch when called again
with the same ``out_dir`` (Keras' ``BackupAndRestore``).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import keras
import numpy as np
import tensorflow as tf

from . import __version__
from .classes import n_outputs
from .data import channel_stats, make_dataset
from .evaluate import load_model, tune_prediction
from .models import build_model
from .multiworker import cluster_role, per_worker_input
from .store import PatchStore
from .targets import check_training, targets, weight_keys
from .training_log import plot_learning_curves, read_log

__all__ = ["train", "TrainResult", "class_weights"]

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What :func:`train` produced.

    Attributes
    ----------
    model_dir : Path
        The output folder (see the module docstring).
    history : dict
        Metric name -> values by epoch (of this call).
    best_val_auc : float
        Highest validation ROC AUC reached.
    run : dict
        The contents of ``run.json``.
    """

    model_dir: Path
    history: dict[str, list[float]]
    best_val_auc: float
    run: dict[str, Any]


def class_weights(y: np.ndarray) -> dict[int, float]:
    """Balanced class weights ``n / (K * n_class)``, keyed as Keras keys them: by the
    target (0 or 1) for two classes' ``(n,)`` targets, by the class index for ``(n, K)``
    ones (:func:`cellcnn.targets.weight_keys`).

    Examples
    --------
    >>> class_weights(np.array([1, 1, 1, 0]))
    {0: 2.0, 1: 0.6666666666666666}
    >>> class_weights(np.eye(3)[[0, 0, 1, 2]])
    {0: 0.6666666666666666, 1: 1.3333333333333333, 2: 1.3333333333333333}
    """
    keys = weight_keys(y)
    n_keys = 2 if np.asarray(y).ndim == 1 else np.asarray(y).shape[1]
    counts = np.bincount(keys, minlength=n_keys)
    return {k: float(len(keys) / (n_keys * c)) if c else 1.0 for k, c in enumerate(counts)}


class _AucThenLoss(keras.callbacks.Callback):
    """Adds ``val_score``: validation AUC, ties broken by lower validation loss.

    A perfect AUC is often reached early by a badly calibrated model; choosing
    the checkpoint by AUC alone would keep that first one.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and "val_auc" in logs:
            logs["val_score"] = float(logs["val_auc"]) - 1e-3 * float(logs.get("val_loss", 0.0))


def _accelerators() -> list:
    return tf.config.list_physical_devices("GPU")


def train(
    store: str | os.PathLike | Any,
    size: int,
    model: str = "compact",
    *,
    out_dir: str | os.PathLike,
    epochs: int = 30,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    target: Literal["hard", "soft"] = "hard",
    unsure: Literal["exclude", "include"] = "exclude",
    sample_weight: Literal["support"] | None = None,
    balance_classes: bool = True,
    augment: bool = True,
    patience: int = 8,
    seed: int = 0,
    deterministic: bool = False,
    mixed_precision: bool | Literal["auto"] = "auto",
    jit_compile: bool | Literal["auto"] = "auto",
    distribute: tf.distribute.Strategy | None = None,
    cache: bool | Literal["auto"] = "auto",
    storage_options: dict | None = None,
    model_kwargs: dict | None = None,
    callbacks: list | None = None,
    verbose: int = 2,
) -> TrainResult:
    """Train ``model`` on the ``train`` split of a store, validating on ``val``.

    Parameters
    ----------
    store : path, URL or zarr store
        A complete ``cellconsensus`` patch store.
    size : int
        Patch side to train on.
    model : str, default "compact"
        A name from :func:`cellcnn.models.available_models`.
    out_dir : path-like
        Output folder; calling again with the same folder resumes an interrupted run.
    epochs : int, default 30
        Most epochs (early stopping may end sooner).
    batch_size : int, default 64
        Patches per batch and replica.
    learning_rate : float, default 1e-3
        Adam's initial learning rate.
    target, unsure, sample_weight
        See :mod:`cellcnn.targets`.
    balance_classes : bool, default True
        Weight samples by balanced class weights computed on the training split.
    augment : bool, default True
        Augmentation layers in the model (training only).
    patience : int, default 8
        Early stopping on validation AUC (learning rate halves after patience // 2).
    seed : int, default 0
        Seeds weights, augmentation and shuffling.
    deterministic : bool, default False
        Seed everything and enable TensorFlow op determinism (slower; for tests).
    mixed_precision, jit_compile : bool or "auto"
        ``"auto"``: on when a GPU is present.
    distribute : tf.distribute.Strategy, optional
        Default: MirroredStrategy over several GPUs, else the default strategy.
        With several replicas each input pipeline reads its own shard of the
        store's chunks (:func:`cellcnn.data.make_dataset` ``shard=``), batched
        per replica; shards repeat and an epoch is ``n // global batch`` steps,
        the same on every worker (replicas step together on full batches), so
        validation metrics leave out up to one global batch; evaluate the saved
        model with :func:`cellcnn.evaluate.evaluate` for exact test figures.
        Under ``MultiWorkerMirroredStrategy`` (every worker runs the same call,
        ``TF_CONFIG`` set) only the chief writes ``out_dir``; the other workers
        write ``out_dir/workers/<index>``. Keras 3 (3.15 checked) cannot yet
        ``fit`` under that strategy (tensorflow/tensorflow#72388): see the
        "Scaling out" documentation page.
    cache : bool or "auto", default "auto"
        See :func:`cellcnn.data.make_dataset`.
    storage_options : dict, optional
        For fsspec URLs.
    model_kwargs : dict, optional
        Passed to the model builder.
    callbacks : list of keras.callbacks.Callback, optional
        Added to the run's own (checkpoint, early stopping, logs, backup).
    verbose : int, default 2
        Keras' verbosity (0 silent, 1 progress bar, 2 a line per epoch).

    Returns
    -------
    TrainResult

    Examples
    --------
    >>> result = train("patches.zarr", 48, out_dir="runs/compact48", epochs=20)  # doctest: +SKIP
    >>> result.best_val_auc  # doctest: +SKIP
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    gpus = _accelerators()
    if mixed_precision == "auto":
        mixed_precision = bool(gpus)
    if jit_compile == "auto":
        jit_compile = bool(gpus)
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")
    if distribute is None:
        distribute = (
            tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
        )

    source = PatchStore(store, size, storage_options)
    check_training(source, target=target, unsure=unsure, epochs=epochs, batch_size=batch_size,
                   learning_rate=learning_rate, patience=patience)  # fmt: skip
    train_rows = source.rows("train")
    _, y_train, _ = targets(source, train_rows, target=target, unsure=unsure)
    weights = class_weights(y_train) if balance_classes else None
    mean, variance = channel_stats(source, train_rows)
    common = {
        "target": target,
        "unsure": unsure,
        "sample_weight": sample_weight,
        "class_weight": weights,
        "cache": cache,
    }
    global_batch = batch_size * distribute.num_replicas_in_sync
    n_workers, worker, chief = cluster_role(distribute)
    if not chief:  # other workers of a multi-worker run write into a folder of their own
        out = out / "workers" / str(worker)
        out.mkdir(parents=True, exist_ok=True)

    def dataset(split: str, **kwargs):
        if distribute.num_replicas_in_sync == 1:
            return make_dataset(source, split=split, batch_size=global_batch, **kwargs)
        return per_worker_input(distribute, source, split, global_batch, **kwargs)

    train_ds = dataset("train", seed=seed, **common)
    val_ds = dataset("val", shuffle=False, **{**common, "class_weight": None})
    fit_steps: dict[str, int] = {}
    if distribute.num_replicas_in_sync > 1:
        # Shards differ in length and replicas step together: every input pipeline repeats,
        # and an epoch is the number of whole global batches in the split.
        n_val = len(targets(source, source.rows("val"), target=target, unsure=unsure)[0])
        fit_steps = {
            "steps_per_epoch": max(1, len(y_train) // global_batch),
            "validation_steps": max(1, n_val // global_batch),
        }
    vocabulary = source.vocabulary
    binary = vocabulary.n_classes == 2
    with distribute.scope():
        net = build_model(
            model,
            (size, size, source.channels),
            mean=mean,
            variance=variance,
            augment=augment,
            seed=seed,
            n_classes=vocabulary.n_classes,
            **(model_kwargs or {}),
        )
        net.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss=keras.losses.BinaryCrossentropy()
            if binary
            else keras.losses.CategoricalCrossentropy(),
            metrics=[
                keras.metrics.BinaryAccuracy(name="accuracy")
                if binary
                else keras.metrics.CategoricalAccuracy(name="accuracy"),
                # For K classes: one-vs-rest over every (cell, class) pair (micro average).
                keras.metrics.AUC(name="auc"),
            ],
            jit_compile=jit_compile,
        )
    run = {
        "cellcnn_version": __version__,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "store": source.location,
        "size": size,
        "channels": source.channels,
        "model": model,
        "model_kwargs": model_kwargs or {},
        "classes": list(vocabulary.classes),
        "unsure": vocabulary.unsure,
        "outputs": n_outputs(vocabulary),
        "parameters": int(net.count_params()),
        "settings": {
            "epochs": epochs,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "target": target,
            "unsure": unsure,
            "sample_weight": sample_weight,
            "class_weight": weights,
            "augment": augment,
            "patience": patience,
            "seed": seed,
            "deterministic": deterministic,
            "mixed_precision": bool(mixed_precision),
            "jit_compile": bool(jit_compile),
            "replicas": distribute.num_replicas_in_sync,
            "workers": n_workers,
            "strategy": type(distribute).__name__,
        },
        "normalisation": {"mean": mean.tolist(), "variance": variance.tolist()},
        "n_train": int(len(y_train)),
        "n_val": int(len(source.rows("val"))),
        "crop": source.attrs.get("provenance", {}).get("crop", {}),
        "store_provenance": source.attrs.get("provenance", {}),
        "environment": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "devices": [d.name for d in tf.config.list_physical_devices()],
        },
    }
    (out / "run.json").write_text(json.dumps(run, indent=2, default=str))
    own = [
        _AucThenLoss(),
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        keras.callbacks.ModelCheckpoint(
            str(out / "model.keras"), monitor="val_score", mode="max", save_best_only=True
        ),
        keras.callbacks.EarlyStopping(
            monitor="val_score", mode="max", patience=patience, restore_best_weights=True
        ),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_score", mode="max", factor=0.5, patience=max(1, patience // 2)
        ),
        keras.callbacks.CSVLogger(str(out / "log.csv"), append=True),
        keras.callbacks.TensorBoard(str(out / "tensorboard"), write_graph=False),
    ]
    started = time.perf_counter()
    history = net.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        callbacks=[*own, *(callbacks or [])],
        verbose=verbose,
        shuffle=False,  # the dataset shuffles itself
        **fit_steps,
    )
    seconds = time.perf_counter() - started
    log = read_log(out / "log.csv")
    best = float(np.nanmax(log.get("val_auc", [np.nan]))) if log else float("nan")
    run.update(
        finished=datetime.now(UTC).isoformat(timespec="seconds"),
        seconds=seconds,
        epochs_run=len(log.get("epoch", [])),
        best_val_auc=best,
    )
    (out / "run.json").write_text(json.dumps(run, indent=2, default=str))
    if log:
        plot_learning_curves(log, out / "learning_curves.png")
    if chief and (out / "model.keras").is_file():
        # How the best model predicts best, chosen on the validation split: what predict,
        # predict_cells and evaluate use unless told otherwise.
        best_net, _ = load_model(out)
        run["prediction"] = tune_prediction(best_net, source, vocabulary.n_classes)
        logger.info("prediction setting chosen on val: %s", run["prediction"])
        (out / "run.json").write_text(json.dumps(run, indent=2, default=str))
    keras.mixed_precision.set_global_policy("float32")
    return TrainResult(out, {k: list(v) for k, v in history.history.items()}, best, run)
