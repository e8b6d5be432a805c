"""cellcnn for any label set: stores of K classes, softmax heads, soft targets, per-class metrics."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import BLOB_CLASSES

from cellcnn.classes import labels_of, probability_columns, run_vocabulary
from cellcnn.data import check_training, make_dataset, targets
from cellcnn.evaluate import evaluate
from cellcnn.models import build_model
from cellcnn.predict import predict, predict_cells
from cellcnn.store import PatchStore
from cellcnn.train import class_weights, train
from cellconsensus.errors import CellConsensusInputError
from cellconsensus.store import write_patches
from cellconsensus.tables import ALIVE_DEAD, Vocabulary

TINY = {"widths": (8, 16)}


def test_the_store_records_its_label_set_and_stratifies_every_class(separable_classes):
    store, cells, _ = separable_classes
    source = PatchStore(store, 24)
    assert source.vocabulary.classes == BLOB_CLASSES
    assert source.attrs["provenance"]["labels"] == {
        "classes": list(BLOB_CLASSES),
        "unsure": "unsure",
    }
    proba = source.class_proba(np.arange(len(source)))
    assert proba.shape == (len(source), 3) and np.allclose(proba.sum(axis=1), 1.0)
    labels, split = source.coords["label"], source.coords["split"]
    for name in BLOB_CLASSES:  # every class split about 80:10:10
        mine = labels == name
        share = (split[mine] == "train").mean()
        assert 0.7 < share < 0.9 and (split[mine] == "test").any() and (split[mine] == "val").any()


def test_targets_are_one_hot_or_the_crowds_class_probabilities(separable_classes):
    store, _, _ = separable_classes
    source = PatchStore(store, 24)
    rows = source.rows("train")
    kept, hard, _ = targets(source, rows)
    assert hard.shape == (len(kept), 3) and set(np.unique(hard)) == {0.0, 1.0}
    named = np.asarray(BLOB_CLASSES, dtype=object)[hard.argmax(axis=1)]
    assert (named == source.coords["label"][kept]).all()
    assert "unsure" not in set(source.coords["label"][kept])
    _, soft, _ = targets(source, rows, target="soft")
    assert np.allclose(soft, source.class_proba(kept))
    every, y, _ = targets(source, rows, unsure="include")
    doubt = source.coords["label"][every] == "unsure"
    assert doubt.any() and np.allclose(y[doubt], source.class_proba(every[doubt]))
    weights = class_weights(hard)
    _, _, w = targets(source, rows, class_weight=weights)
    assert np.allclose(w, [weights[k] for k in hard.argmax(axis=1)])
    x, y, _ = next(iter(make_dataset(source, split="val", batch_size=8, shuffle=False)))
    assert tuple(y.shape) == (8, 3) and tuple(x.shape) == (8, 24, 24, 1)


def test_two_other_classes_learn_the_first_ones_probability(separable_classes, tmp_path):
    _, cells, images = separable_classes
    pair = cells[cells["label"].isin(["bright", "dark"])].drop(columns="p_pair")
    pair = pair.assign(p_dark=1.0 - pair["p_bright"])
    write_patches(pair, images, tmp_path / "two.zarr", [24], chunk_size=32, seed=0)
    source = PatchStore(tmp_path / "two.zarr", 24)
    assert source.vocabulary.classes == ("bright", "dark")
    kept, y, _ = targets(source, source.rows("train"), target="soft")
    assert y.ndim == 1 and np.allclose(y, source.coords["p_bright"][kept])
    egg = Vocabulary(("egg", "chick"))
    columns = probability_columns(egg, np.array([0.8, np.nan]), "_cnn")
    assert list(columns) == ["p_egg_cnn", "p_chick_cnn"] and np.isclose(
        columns["p_chick_cnn"][0], 0.2
    )
    assert labels_of(egg, np.array([0.8, 0.3, np.nan])).tolist() == ["egg", "chick", None]
    assert list(probability_columns(ALIVE_DEAD, np.array([0.8]))) == ["p_alive"]


def test_a_missing_class_warns_and_a_single_class_is_refused(separable_classes, tmp_path, caplog):
    _, cells, images = separable_classes
    no_pair = cells[cells["label"] != "pair"]
    write_patches(no_pair, images, tmp_path / "two.zarr", [24], chunk_size=32, seed=0)
    source = PatchStore(tmp_path / "two.zarr", 24)
    assert source.vocabulary.classes == BLOB_CLASSES  # the p_ columns keep the label set
    with caplog.at_level(logging.WARNING, logger="cellcnn.targets"):
        check_training(source)
    assert "no pair cell" in caplog.text
    one = cells[cells["label"] == "dark"]
    write_patches(one, images, tmp_path / "one.zarr", [24], chunk_size=32, seed=0)
    with pytest.raises(
        CellConsensusInputError, match=r"one class only: .*0 bright, \d+ dark, 0 pair"
    ):
        check_training(PatchStore(tmp_path / "one.zarr", 24))


def test_a_label_outside_the_set_names_the_cell(separable_classes, tmp_path):
    _, cells, images = separable_classes
    odd = cells.copy()
    odd.attrs["classes"] = Vocabulary(BLOB_CLASSES)
    odd.loc[5, "label"] = "blurry"
    write_patches(odd, images, tmp_path / "odd.zarr", [24], chunk_size=32, seed=0)
    source = PatchStore(tmp_path / "odd.zarr", 24)
    with pytest.raises(CellConsensusInputError, match="label 'blurry' is none of"):
        targets(source, source.rows(None))


def test_the_softmax_model_learns_evaluates_per_class_and_predicts(separable_classes, tmp_path):
    store, cells, images = separable_classes
    out = tmp_path / "run"
    result = train(store, 24, out_dir=out, epochs=6, model_kwargs=TINY, deterministic=True,
                   verbose=0)  # fmt: skip
    run = json.loads((out / "run.json").read_text())
    assert run["classes"] == list(BLOB_CLASSES) and run["outputs"] == 3
    assert run["prediction"]["threshold"] is None  # K classes: the most probable one
    assert run_vocabulary(run).classes == BLOB_CLASSES
    assert result.best_val_auc > 0.95
    metrics = evaluate(out, split="test")
    assert metrics["classes"] == list(BLOB_CLASSES)
    confusion = np.array(metrics["confusion"])
    assert confusion.shape == (3, 3) and confusion.sum() == metrics["n"]
    assert metrics["balanced_accuracy"] > 0.9 and metrics["roc_auc"] > 0.95
    for name in BLOB_CLASSES:
        assert metrics[f"recall_{name}"] > 0.8 and metrics[f"roc_auc_{name}"] > 0.9
        assert 0 <= metrics[f"f1_{name}"] <= 1
    recall = np.diag(confusion) / confusion.sum(axis=1)
    assert np.isclose(metrics["balanced_accuracy"], recall.mean())
    assert set(metrics["plots"]) == {"confusion", "roc", "reliability"}
    assert all(Path(path).is_file() for path in metrics["plots"].values())
    with pytest.raises(ValueError, match="threshold applies to two classes"):
        evaluate(out, split="test", threshold="val")
    table = predict_cells(out, cells, images)
    columns = [f"p_{c}_cnn" for c in BLOB_CLASSES]
    assert np.allclose(table[columns].sum(axis=1), 1.0, atol=1e-5)
    assert "p_alive_cnn" not in table
    known = table["label"] != "unsure"
    assert (table.loc[known, "label"] == table.loc[known, "label_cnn"]).mean() > 0.9
    first = cells["image_id"].iloc[0]
    single = predict(out, images[first], cells[cells["image_id"] == first])
    mine = table[table["image_id"] == first]
    assert np.allclose(
        single[[f"p_{c}" for c in BLOB_CLASSES]].to_numpy(), mine[columns].to_numpy()
    )
    outside = predict(out, images[first], [[-500.0, -500.0]])
    assert outside["label"].isna().all() and outside["outside"].all()


def test_build_model_heads():
    assert build_model("compact", (16, 16, 1), widths=(4,)).output_shape == (None,)
    assert build_model("compact", (16, 16, 1), n_classes=4, widths=(4,)).output_shape == (None, 4)
    with pytest.raises(ValueError, match="n_classes"):
        build_model("compact", (16, 16, 1), n_classes=1)
    assert class_weights(np.eye(3)[[0, 0, 0, 1, 2, 2]]) == pytest.approx({0: 2 / 3, 1: 2.0, 2: 1.0})
    assert pd.isna(labels_of(Vocabulary(BLOB_CLASSES), np.full((1, 3), np.nan))[0])
