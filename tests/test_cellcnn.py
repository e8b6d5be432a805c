"""cellcnn on CPU: pipeline, targets, augmentation, learning, save/load, resume, crops."""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest

from cellcnn.cli import main as cnn_main
from cellcnn.data import make_dataset
from cellcnn.evaluate import evaluate, expected_calibration_error, load_model
from cellcnn.models import RandomDihedral, available_models, build_model
from cellcnn.names import MODEL_NAMES
from cellcnn.predict import predict, predict_cells, training_crops
from cellcnn.store import PatchStore, StoreError
from cellcnn.train import class_weights, train
from cellconsensus.errors import CellConsensusInputError

TINY = {"widths": (8, 16)}


def test_pipeline_shapes_dtypes_streaming_and_cached(separable):
    store, cells, _ = separable
    for cache in (False, True):
        ds = make_dataset(store, 24, "train", 16, cache=cache)
        x, y, w = next(iter(ds))
        assert x.dtype == "uint8" and tuple(x.shape) == (16, 24, 24, 1)
        assert y.dtype == "float32" and w.dtype == "float32" and tuple(y.shape) == (16,)
        assert set(np.unique(y.numpy())) <= {0.0, 1.0}


@pytest.mark.parametrize("cache", [False, True])
def test_an_epoch_covers_every_patch_once_in_a_seeded_order(separable, cache):
    store, cells, _ = separable
    source = PatchStore(store, 24)
    expected = set(
        np.flatnonzero((source.coords["split"] == "train") & (source.coords["label"] != "unsure"))
    )
    ds = make_dataset(store, 24, "train", 32, with_index=True, cache=cache, seed=3)
    epochs = [np.concatenate([b[3].numpy() for b in ds]) for _ in range(2)]
    for seen in epochs:
        assert len(seen) == len(expected) and set(seen) == expected
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled each epoch
    again = make_dataset(store, 24, "train", 32, with_index=True, cache=cache, seed=3)
    assert np.array_equal(np.concatenate([b[3].numpy() for b in again]), epochs[0])


def test_soft_targets_weights_and_unsure(separable):
    store, cells, _ = separable
    x, y, w, i = next(
        iter(make_dataset(store, 24, "train", 400, target="soft", shuffle=False, with_index=True))
    )
    assert (np.isclose(y.numpy(), 0.9) | np.isclose(y.numpy(), 0.2)).all()
    source = PatchStore(store, 24)
    assert np.allclose(y.numpy(), source.coords["p_alive"][i.numpy()])
    # Soft targets reach the loss: binary cross-entropy against p_alive, not 0/1.
    p = np.random.default_rng(0).uniform(0.05, 0.95, len(y)).astype(np.float32)
    loss = float(keras.losses.BinaryCrossentropy()(y.numpy(), p))
    hard = float(keras.losses.BinaryCrossentropy()((y.numpy() > 0.5).astype("float32"), p))
    assert not np.isclose(loss, hard)
    _, _, w, i = next(
        iter(
            make_dataset(
                store, 24, "train", 400, sample_weight="support", shuffle=False, with_index=True
            )
        )
    )
    assert np.allclose(w.numpy(), source.coords["support"][i.numpy()])
    _, y, _, i = next(
        iter(
            make_dataset(store, 24, "train", 400, unsure="include", shuffle=False, with_index=True)
        )
    )
    unsure = source.coords["label"][i.numpy()] == "unsure"
    assert unsure.any() and np.allclose(
        y.numpy()[unsure], source.coords["p_alive"][i.numpy()][unsure]
    )


def test_dihedral_augmentation_only_moves_pixels():
    x = np.random.default_rng(0).integers(0, 255, (64, 6, 6, 1)).astype("float32")
    y = np.asarray(RandomDihedral(seed=1)(x, training=True))
    symmetries = []
    for k in range(4):
        r = np.rot90(x, k, axes=(1, 2))
        symmetries += [r, np.flip(r, axis=2)]
    # Every output is one of the eight symmetries of its input, and many different ones occur.
    which = [
        next((k for k, s in enumerate(symmetries) if np.array_equal(y[n], s[n])), None)
        for n in range(len(x))
    ]
    assert None not in which and len(set(which)) >= 6
    assert np.array_equal(np.asarray(RandomDihedral()(x, training=False)), x)


def test_models_registry_and_sizes():
    assert available_models() == ["compact", "thesis_vgg"]
    assert tuple(available_models()) == MODEL_NAMES  # what the command line offers
    assert 300_000 < build_model("compact", (48, 48, 1)).count_params() < 600_000
    with pytest.raises(ValueError, match="unknown model"):
        build_model("resnet-9000", (48, 48, 1))


def test_tiny_model_learns_saves_loads_and_evaluates(separable, tmp_path):
    store, cells, images = separable
    out = tmp_path / "run"
    result = train(
        store, 24, out_dir=out, epochs=6, model_kwargs=TINY, deterministic=True, verbose=0
    )
    assert result.best_val_auc > 0.97
    run = json.loads((out / "run.json").read_text())
    assert run["n_train"] > 0 and run["store_provenance"]["crop"]["border"] == "reflect"
    assert (out / "learning_curves.png").exists() and (out / "log.csv").exists()
    metrics = evaluate(out, split="test")
    assert metrics["balanced_accuracy"] > 0.95 and metrics["roc_auc"] > 0.97
    assert np.array(metrics["confusion"]).sum() == metrics["n"]
    # Bootstrap intervals (over the store's groups) around the figures.
    for name in ("balanced_accuracy", "roc_auc"):
        low, high = metrics[f"{name}_interval"]
        assert 0 <= low <= metrics[name] <= high <= 1
    (saved,) = (json.loads(p.read_text()) for p in out.glob("test_*evaluation.json"))
    assert saved["roc_auc_interval"] == metrics["roc_auc_interval"]
    tuned = evaluate(out, split="test", tta=True, threshold="val")
    assert 0 < tuned["threshold"] < 1 and tuned["tta"] and tuned["roc_auc"] > 0.97
    # Save/load round trip: identical predictions.
    net, _ = load_model(out)
    reloaded = keras.saving.load_model(out / "model.keras")
    x = next(iter(make_dataset(store, 24, "test", 64, shuffle=False)))[0]
    assert np.array_equal(net.predict(x, verbose=0), reloaded.predict(x, verbose=0))
    # Prediction crops exactly as the store did, and classifies.
    source = PatchStore(store, 24)
    first = source.coords["image_id"][0]
    mine = source.coords["image_id"] == first
    pixels, keep = training_crops(
        run, images[first], source.coords["cell_x"][mine], source.coords["cell_y"][mine]
    )
    assert keep.all() and np.array_equal(pixels, source.read(0, len(source))[mine])
    table = predict_cells(out, cells, images)
    known = table["label"] != "unsure"
    assert (table.loc[known, "label"] == table.loc[known, "label_cnn"]).mean() > 0.95
    single = predict(out, images[first], cells[cells["image_id"] == first])
    assert np.allclose(single["p_alive"], table.loc[table["image_id"] == first, "p_alive_cnn"])


class Stop(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def test_training_resumes_after_an_interruption(separable, tmp_path):
    store, *_ = separable
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(store, 24, out_dir=out, epochs=4, model_kwargs=TINY, callbacks=[Stop()], verbose=0)
    assert (out / "backup").exists()
    result = train(store, 24, out_dir=out, epochs=4, model_kwargs=TINY, verbose=0)
    assert len(result.history["loss"]) == 2  # epochs 3 and 4 only
    assert pd.read_csv(out / "log.csv")["epoch"].tolist() == [0, 1, 2, 3]


def test_a_saved_model_loads_in_a_fresh_process(separable, tmp_path):
    import subprocess
    import sys

    store, *_ = separable
    out = tmp_path / "run"
    train(store, 24, out_dir=out, epochs=1, model_kwargs=TINY, verbose=0)
    code = (
        "import sys; from cellcnn.evaluate import evaluate; "
        "print(evaluate(sys.argv[1], split='test')['n'])"
    )
    done = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.strip().splitlines()[-1]) > 0


def test_incomplete_or_missing_stores_are_refused(tmp_path):
    with pytest.raises(StoreError, match="no zarr store|not a cellconsensus"):
        PatchStore(tmp_path / "nothing.zarr", 24)


def test_helpers():
    assert class_weights(np.array([1.0, 1.0, 1.0, 0.0])) == {0: 2.0, 1: 2 / 3}
    assert expected_calibration_error(np.array([1, 0]), np.array([1.0, 0.0])) == 0.0


def test_cli_train_evaluate_predict(separable, tmp_path, capsys):
    store, cells, images = separable
    out = tmp_path / "cli-run"
    assert cnn_main(["train", str(store), "--size", "24", "--out", str(out), "--epochs", "2"]) == 0
    assert "best validation ROC AUC" in capsys.readouterr().out
    assert cnn_main(["evaluate", str(out)]) == 0
    assert '"balanced_accuracy"' in capsys.readouterr().out
    assert cnn_main(["evaluate", str(out), "--tta", "off", "--threshold", "0.5"]) == 0
    shown = capsys.readouterr().out
    assert '"tta": false' in shown and '"threshold": 0.5' in shown
    folder = tmp_path / "images"
    folder.mkdir()
    from PIL import Image

    for image_id, pixels in images.items():
        Image.fromarray(pixels[..., 0]).save(folder / f"{image_id}.png")
    cells.to_csv(tmp_path / "cells.csv", index=False)
    assert (
        cnn_main(
            [
                "predict",
                str(out),
                "--cells",
                str(tmp_path / "cells.csv"),
                "--images",
                str(folder),
                "-o",
                str(tmp_path / "p.csv"),
            ]
        )
        == 0
    )
    assert len(pd.read_csv(tmp_path / "p.csv")) == len(cells)
    assert cnn_main(["evaluate", str(tmp_path / "nowhere")]) == 2


def test_a_run_predicts_at_the_setting_chosen_on_val(separable, tiny_run, tmp_path):
    """train chooses TTA and the threshold on the validation split and records them;
    evaluate, predict and predict_cells use them unless told otherwise."""
    _, cells, images = separable
    run = json.loads((tiny_run / "run.json").read_text())
    chosen = run["prediction"]
    assert chosen["chosen_on"] == "val" and isinstance(chosen["tta"], bool)
    assert 0 < chosen["threshold"] < 1 and 0 <= chosen["val_balanced_accuracy"] <= 1
    default = evaluate(tiny_run, split="test", out_dir=tmp_path)
    assert default["tta"] == chosen["tta"]
    assert default["threshold"] == pytest.approx(chosen["threshold"])
    plain = evaluate(tiny_run, split="test", tta=False, threshold=0.5, out_dir=tmp_path)
    assert not plain["tta"] and plain["threshold"] == 0.5
    mine = cells[cells["image_id"].isin(list(cells["image_id"].unique()[:3]))]
    table = predict_cells(tiny_run, mine, images)
    explicit = predict_cells(
        tiny_run, mine, images, tta=chosen["tta"], threshold=chosen["threshold"]
    )
    pd.testing.assert_frame_equal(table, explicit)
    cut = predict_cells(tiny_run, mine, images, tta=chosen["tta"], threshold=0.999)
    assert (cut["label_cnn"] == "dead").all()  # a threshold given wins
    # A run from before the choice existed predicts as it always did: no TTA, 0.5.
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "model.keras").write_bytes((tiny_run / "model.keras").read_bytes())
    (legacy / "run.json").write_text(
        json.dumps({k: v for k, v in run.items() if k != "prediction"})
    )
    old = predict_cells(legacy, mine, images)
    again = predict_cells(tiny_run, mine, images, tta=False, threshold=0.5, calibrated=False)
    pd.testing.assert_frame_equal(old, again)


def _variant(tmp_path, cells, images, name, split=None):
    from cellconsensus.store import write_patches

    store = tmp_path / f"{name}.zarr"
    write_patches(cells, images, store, [24], chunk_size=32, seed=0, split=split)
    return store


def test_train_refuses_a_store_with_nothing_to_learn(separable, tmp_path):
    """Each of these once trained for nothing and saved a model that then predicted."""
    store, cells, images = separable
    few = cells[cells["image_id"].isin(sorted(cells["image_id"].unique())[:40])]
    cases = {
        "no cells": (few.iloc[:0], None, "nothing to learn: the train split holds 0 cell"),
        "only unsure": (few.assign(label="unsure"), None, "none with a label.*unsure left out"),
        "one class": (few.assign(label="alive"), None, "one class only: .* 0 dead"),
        "no validation": (
            few,
            pd.Series("train", index=few.index),
            "no validation patches: the val split holds 0",
        ),
    }
    for name, (table, split, match) in cases.items():
        variant = _variant(tmp_path, table, images, name.replace(" ", "_"), split)
        with pytest.raises(CellConsensusInputError, match=match):
            train(variant, 24, out_dir=tmp_path / name, epochs=1, model_kwargs=TINY, verbose=0)
        assert not (tmp_path / name / "model.keras").exists()
    for setting, value in (("learning_rate", float("nan")), ("epochs", 0), ("batch_size", 0)):
        with pytest.raises(ValueError, match=setting):
            train(store, 24, out_dir=tmp_path / "bad", model_kwargs=TINY, **{setting: value})


def test_predict_validates_points_and_flags_the_outside(separable, tiny_run):
    _, cells, images = separable
    out = tiny_run
    image = images["im000"]
    with pytest.raises(CellConsensusInputError, match=r"\(n, 2\) array .* got shape \(2, 3\)"):
        predict(out, image, np.zeros((2, 3)))  # once silently read as 3 points
    with pytest.raises(CellConsensusInputError, match="lack column"):
        predict(out, image, pd.DataFrame({"x": [1.0]}))
    with pytest.raises(CellConsensusInputError, match="NaN or infinite"):
        predict(out, image, [[np.nan, 3.0]])
    table = predict(out, image, [[16.5, 16.5], [-3.0, 10.0], [500.0, 10.0]])
    assert table["outside"].tolist() == [False, True, True]
    assert np.isfinite(table["p_alive"].iloc[:2]).all() and np.isnan(table["p_alive"].iloc[2])
    assert not predict_cells(out, cells.iloc[:8], images)["outside"].any()


def test_damaged_model_folders_name_the_file(tiny_run, tmp_path):
    out = tiny_run
    broken = tmp_path / "broken"
    broken.mkdir()
    with pytest.raises(CellConsensusInputError, match="model.keras missing"):
        load_model(broken)
    (broken / "model.keras").write_bytes((out / "model.keras").read_bytes()[:1000])
    with pytest.raises(CellConsensusInputError, match="run.json missing"):
        load_model(broken)
    (broken / "run.json").write_text("{not json")
    with pytest.raises(CellConsensusInputError, match="run.json: not a readable record"):
        load_model(broken)
    (broken / "run.json").write_text((out / "run.json").read_text())
    with pytest.raises(CellConsensusInputError, match="model.keras: cannot load the model"):
        load_model(broken)
