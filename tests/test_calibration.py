"""Temperature scaling: its invariants (hypothesis), its fit, and runs that apply it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cellcnn.calibration import (
    calibrate,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
)
from cellcnn.evaluate import evaluate
from cellcnn.predict import predict_cells

SETTINGS = settings(max_examples=80, deadline=None)
PROBS = arrays(float, st.integers(2, 40), elements=st.floats(0.001, 0.999))
TEMPERATURE = st.floats(0.1, 10.0)


@SETTINGS
@given(PROBS, TEMPERATURE, TEMPERATURE)
def test_temperature_keeps_the_order_and_composes(p, t1, t2):
    out = calibrate(p, t1)
    assert np.all((out >= 0) & (out <= 1))
    # Monotone: the ranking (and so ROC AUC and the best balanced accuracy) is unchanged.
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(out[order]) >= -1e-12)
    inside = (out > 1e-6) & (out < 1 - 1e-6)  # beyond, probabilities are clipped
    np.testing.assert_allclose(calibrate(out, t2)[inside], calibrate(p, t1 * t2)[inside], atol=1e-6)
    np.testing.assert_array_equal(calibrate(p, 1.0), p)


@SETTINGS
@given(arrays(float, (12, 3), elements=st.floats(0.01, 1.0)), TEMPERATURE)
def test_temperature_on_k_classes_keeps_rows_distributions_and_the_top_class(raw, t):
    p = raw / raw.sum(axis=1, keepdims=True)
    out = calibrate(p, t)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    top = p.max(axis=1, keepdims=True)
    clear = (p >= top - 1e-9).sum(axis=1) == 1  # no tie for the top class
    assert (out.argmax(axis=1) == p.argmax(axis=1))[clear].all()
    # A temperature above 1 softens: the top class's probability never rises.
    if t > 1:
        assert np.all(out.max(axis=1) <= p.max(axis=1) + 1e-9)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("sharp", [0.5, 3.0])
def test_fit_recovers_the_temperature_of_a_miscalibrated_model(k, sharp):
    rng = np.random.default_rng(k)
    n = 6000
    logits = rng.normal(0, 1.5, (n, k))
    true_p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    truth = np.array([rng.choice(k, p=row) for row in true_p])
    model = np.exp(sharp * logits)
    model /= model.sum(axis=1, keepdims=True)
    given = model[:, 0] if k == 2 else model
    t = fit_temperature(truth, given)
    assert t == pytest.approx(sharp, rel=0.1)
    before = expected_calibration_error((truth == 0).astype(int), model[:, 0])
    after = expected_calibration_error((truth == 0).astype(int),
                                       calibrate(given, t) if k == 2 else calibrate(given, t)[:, 0])  # fmt: skip
    assert after < before


def test_fit_without_both_outcomes_keeps_the_model_and_bins_cover_everything():
    assert fit_temperature(np.zeros(5, int), np.full(5, 0.9)) == 1.0
    share, predicted, observed = reliability_bins(np.array([1, 1, 0]), np.array([0.1, 0.15, 0.9]))
    assert share.sum() == pytest.approx(1.0) and predicted.tolist() == [0.125, 0.9]
    assert observed.tolist() == [1.0, 0.0]


def test_runs_fit_a_temperature_on_val_and_apply_it_unless_told(separable, tiny_run, tmp_path):
    _, cells, images = separable
    chosen = json.loads((tiny_run / "run.json").read_text())["prediction"]
    t = chosen["temperature"]
    assert (
        0.05 <= t <= 20 and 0 <= chosen["val_ece"] <= 1 and 0 <= chosen["val_ece_uncalibrated"] <= 1
    )
    calibrated = evaluate(tiny_run, split="test", out_dir=tmp_path / "a")
    plain = evaluate(tiny_run, split="test", calibrated=False, out_dir=tmp_path / "b")
    assert calibrated["temperature"] == pytest.approx(t) and plain["temperature"] == 1.0
    assert "ece_uncalibrated" in calibrated and "ece_uncalibrated" not in plain
    # Calibration moves probabilities, not their order.
    assert calibrated["roc_auc"] == pytest.approx(plain["roc_auc"])
    mine = cells[cells["image_id"].isin(["im010", "im011"])]
    scaled = predict_cells(tiny_run, mine, images, tta=False)
    raw = predict_cells(tiny_run, mine, images, tta=False, calibrated=False)
    np.testing.assert_allclose(scaled["p_alive_cnn"], calibrate(raw["p_alive_cnn"].to_numpy(), t))
    # The run's threshold was chosen on the calibrated probabilities.
    expected = np.where(scaled["p_alive_cnn"] > chosen["threshold"], "alive", "dead")
    assert scaled["label_cnn"].tolist() == expected.tolist()


# --- ensembles -------------------------------------------------------------------------


def test_an_ensemble_averages_its_members_and_predicts_like_a_run(separable, tiny_run, tmp_path):
    from cellcnn.cli import main as cnn_main
    from cellcnn.ensemble import make_ensemble
    from cellcnn.train import train

    store, cells, images = separable
    other = tmp_path / "other"
    train(store, 24, out_dir=other, epochs=1, seed=1, model_kwargs={"widths": (8, 16)}, verbose=0)
    run = make_ensemble([tiny_run, other], tmp_path / "ens")
    assert run["ensemble"]["n_models"] == 2 and "temperature" in run["prediction"]
    assert json.loads((tmp_path / "ens" / "run.json").read_text()) == json.loads(
        json.dumps(run, default=str)
    )
    mine = cells[cells["image_id"].isin(["im020", "im021"])]
    plain = {"tta": False, "calibrated": False}
    members = [predict_cells(d, mine, images, **plain)["p_alive_cnn"] for d in (tiny_run, other)]
    ensemble = predict_cells(tmp_path / "ens", mine, images, **plain)["p_alive_cnn"]
    np.testing.assert_allclose(ensemble, (members[0] + members[1]) / 2, atol=1e-6)
    assert evaluate(tmp_path / "ens", split="test", out_dir=tmp_path / "e")["n"] > 0
    # The command line builds one too; members of another patch size are refused.
    assert cnn_main(["ensemble", str(tmp_path / "cli"), str(tiny_run), str(other)]) == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.keras").write_bytes((other / "model.keras").read_bytes())
    (bad / "run.json").write_text(json.dumps({**json.loads((other / "run.json").read_text()),
                                              "size": 32}))  # fmt: skip
    from cellconsensus.errors import CellConsensusInputError

    with pytest.raises(CellConsensusInputError, match="size"):
        make_ensemble([tiny_run, bad], tmp_path / "never")
    assert not (tmp_path / "never").exists()
