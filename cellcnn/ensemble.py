"""Ensembles: several trained runs averaged into one model that predicts like any run.

:func:`make_ensemble` builds one Keras model whose output is the mean of its
members' outputs (probabilities), saves it as a run folder (``model.keras`` and
``run.json``, with ``ensemble.members``) and chooses its own prediction setting on
the validation split (:func:`cellcnn.evaluate.tune_prediction`: TTA, temperature,
threshold), so :func:`~cellcnn.evaluate.evaluate`, :func:`~cellcnn.predict.predict`,
:func:`~cellcnn.predict.predict_cells` and the command line take an ensemble
wherever they take a run. :func:`train_ensemble` trains the members (seeds
``seed, seed + 1, ...``, each resumable in ``out_dir/member-<k>``) and builds it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras

from cellconsensus.errors import CellConsensusInputError

from .classes import run_vocabulary
from .evaluate import load_model, tune_prediction
from .model_files import save_model_folder
from .store import PatchStore

__all__ = ["make_ensemble", "train_ensemble", "MEMBER_SETTINGS"]

logger = logging.getLogger(__name__)

#: What every member must share: the patches it reads and the classes it predicts.
MEMBER_SETTINGS = ("size", "channels", "classes", "crop")


def _members(run_dirs: Sequence[str | os.PathLike]) -> tuple[list[keras.Model], list[dict]]:
    if len(run_dirs) < 1:
        raise ValueError("an ensemble needs at least one member run")
    loaded = [load_model(d) for d in run_dirs]
    nets, runs = [n for n, _ in loaded], [r for _, r in loaded]
    first = runs[0]
    for folder, run in zip(run_dirs[1:], runs[1:], strict=True):
        for key in MEMBER_SETTINGS:
            if run.get(key) != first.get(key):
                raise CellConsensusInputError(
                    f"member's {key} {run.get(key)!r} differs from the first member's "
                    f"{first.get(key)!r}", source=str(folder))  # fmt: skip
    return nets, runs


def make_ensemble(
    run_dirs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    store: str | os.PathLike | Any | None = None,
    storage_options: dict | None = None,
) -> dict:
    """Average trained runs into one model, saved as a run folder.

    Parameters
    ----------
    run_dirs : sequence of path-like
        Folders written by :func:`cellcnn.train.train` on the same patch size, channels
        and classes.
    out_dir : path-like
        The ensemble's folder (``model.keras``, ``run.json``).
    store : path, URL or zarr store, optional
        Where its validation split is (default: the first member's store).
    storage_options : dict, optional
        For fsspec URLs.

    Returns
    -------
    dict
        The ensemble's ``run.json``: the first member's settings, ``ensemble``
        (``members``, ``n_models``) and its own ``prediction``.

    Examples
    --------
    >>> make_ensemble(["runs/a", "runs/b", "runs/c"], "runs/abc")["ensemble"]  # doctest: +SKIP
    {'members': ['runs/a', 'runs/b', 'runs/c'], 'n_models': 3}
    """
    nets, runs = _members(run_dirs)
    inputs = keras.Input(nets[0].input_shape[1:], dtype=nets[0].inputs[0].dtype, name="patches")
    outputs = [keras.Model(n.inputs[0], n.outputs[0], name=f"member_{k}")(inputs)
               for k, n in enumerate(nets)]  # fmt: skip
    mean = keras.layers.Average(name="mean")(outputs) if len(outputs) > 1 else outputs[0]
    net = keras.Model(inputs, mean, name="ensemble")
    run = {key: value for key, value in runs[0].items() if key != "prediction"}
    run["ensemble"] = {"members": [str(d) for d in run_dirs], "n_models": len(nets)}
    if isinstance(store, str | os.PathLike):
        run["store"] = str(store)
    source = PatchStore(store or run["store"], run["size"], storage_options)
    run["prediction"] = tune_prediction(net, source, run_vocabulary(run).n_classes)
    out = save_model_folder(out_dir, net, run, "model.keras", "run.json")
    logger.info("ensemble of %d in %s: %s", len(nets), out, run["prediction"])
    return run


def train_ensemble(
    store: str | os.PathLike | Any,
    size: int,
    model: str = "compact",
    *,
    out_dir: str | os.PathLike,
    n_models: int = 3,
    seed: int = 0,
    **options,
) -> dict:
    """Train ``n_models`` runs (seeds ``seed`` to ``seed + n_models - 1``) into
    ``out_dir/member-<k>`` and average them into ``out_dir`` (:func:`make_ensemble`).

    An interrupted call resumes: finished members are kept, an unfinished one resumes
    from its last epoch (:func:`cellcnn.train.train`).

    Parameters
    ----------
    store, size, model
        As :func:`cellcnn.train.train`.
    out_dir : path-like
        The ensemble's folder; its members in ``member-0``, ``member-1``, ...
    n_models : int, default 3
        Members.
    seed : int, default 0
        The first member's seed.
    **options
        More arguments of :func:`cellcnn.train.train` (epochs, batch size, ...).

    Returns
    -------
    dict
        The ensemble's ``run.json``.

    Examples
    --------
    >>> train_ensemble("patches.zarr", 48, out_dir="runs/ens", n_models=3)  # doctest: +SKIP
    """
    from .train import train

    if not isinstance(n_models, int) or n_models < 1:
        raise ValueError(f"n_models must be a positive integer, got {n_models!r}")
    out = Path(out_dir)
    members = []
    for k in range(n_models):
        member = out / f"member-{k}"
        finished = member / "run.json"
        if not (finished.is_file() and "prediction" in json.loads(finished.read_text())):
            train(store, size, model, out_dir=member, seed=seed + k, **options)
        members.append(member)
    return make_ensemble(members, out, store=store)
