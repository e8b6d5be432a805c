"""The annotator model of which candidate cells are real (``support_rule="model"``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cellconsensus import find_consensus
from cellconsensus.cell_model import CandidateCells, fit_cell_model


@st.composite
def candidate_sets(draw) -> tuple[CandidateCells, np.ndarray]:
    """Images with 2-6 annotators each and candidates clicked by random subsets of them."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_images, n_pool = draw(st.integers(1, 8)), draw(st.integers(2, 12))
    image, votes, pairs = [], [], set()
    for i in range(n_images):
        team = rng.choice(n_pool, int(rng.integers(2, min(6, n_pool) + 1)), replace=False)
        pairs.update((i, int(w)) for w in team)
        for _ in range(int(rng.integers(1, 12))):
            size = int(rng.integers(1, len(team) + 1))
            votes += [(len(image), int(w)) for w in rng.choice(team, size, replace=False)]
            image.append(i)
    votes, pairs = np.array(votes), np.array(sorted(pairs))
    candidates = CandidateCells(
        np.array(image), votes[:, 0], votes[:, 1], pairs[:, 0], pairs[:, 1],
        rng.integers(0, 2, n_images), n_pool,
    )  # fmt: skip
    return candidates, rng.random(len(image))


@settings(max_examples=60, deadline=None)
@given(data=candidate_sets())
def test_alike_annotators_give_a_support_threshold(data):
    """With every annotator the crowd's annotator, the posterior depends only on how many
    of the image's annotators clicked, and grows with it: a support threshold."""
    candidates, start = data
    model = fit_cell_model(candidates, start, shrinkage=1e12)
    assume(model.pooled[0] > model.pooled[1])  # the crowd finds cells more than it strays
    np.testing.assert_allclose(model.detection, model.pooled[0], atol=1e-6)
    clickers = np.bincount(candidates.vote_candidate, minlength=len(candidates.image))
    frame = pd.DataFrame({"image": candidates.image, "k": clickers, "p": model.p_real})
    for _, one in frame.groupby("image"):
        by_count = one.groupby("k")["p"]
        assert (by_count.max() - by_count.min()).max() < 1e-9
        assert by_count.first().is_monotonic_increasing


def spammer_crowd(n_images: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two careful annotators and a spammer; the second misses cell 0 on every 4th image."""
    rng = np.random.default_rng(0)
    cells = [(f"im{i}", 50.0 + 100 * c, 50.0) for i in range(n_images) for c in range(5)]
    truth = pd.DataFrame(cells, columns=["image_id", "x", "y"]).assign(label="alive")
    rows = []
    for image, x, y in cells:
        rows.append((image, "careful", x + rng.normal(0, 0.5), y + rng.normal(0, 0.5), "alive"))
        if not (x == 50.0 and int(image[2:]) % 4 == 0):
            rows.append((image, "hasty", x + rng.normal(0, 0.5), y + rng.normal(0, 0.5), "alive"))
    for i in range(n_images):
        for x, y in rng.uniform([0, 100], [500, 400], (5, 2)):
            rows.append((f"im{i}", "spammer", x, y, "dead"))
    clicks = pd.DataFrame(rows, columns=["image_id", "annotator_id", "x", "y", "label"])
    return clicks, truth


def test_a_careful_annotator_alone_is_trusted_and_a_spammer_is_not():
    clicks, truth = spammer_crowd()
    threshold = find_consensus(clicks, params={"eps": 5}, support_rule="threshold")
    model = find_consensus(clicks, params={"eps": 5}, support_rule="model")
    # The threshold rule needs two clickers: the ten cells only "careful" saw are lost.
    assert len(threshold.cells) == len(truth) - 10
    assert len(model.cells) == len(truth)
    assert model.cells["p_real"].ge(0.5).all()
    missed = model.cells[(model.cells["x"] < 60) & (model.cells["n_annotators"] == 1)]
    assert len(missed) == 10
    # No spammer click became a cell; theirs stay noise (or double clicks of their own).
    status = model.assignments.groupby("annotator_id", observed=True)["status"]
    assert status.apply(lambda s: s.astype(str).isin(["noise", "duplicate"]).all())["spammer"]
    assert (model.assignments.loc[model.assignments["annotator_id"] == "careful", "status"]
            .astype(str).eq("cell").all())  # fmt: skip
    assert model.cells.attrs["provenance"]["support_rule"] == "model"


def test_model_is_deterministic_and_reports_its_filtered_clusters():
    clicks, _ = spammer_crowd(12)
    a = find_consensus(clicks, params={"eps": 5}, support_rule="model")
    b = find_consensus(
        clicks.sample(frac=1, random_state=1), params={"eps": 5}, support_rule="model"
    )
    pd.testing.assert_frame_equal(a.cells.drop(columns="p_real"), b.cells.drop(columns="p_real"))
    np.testing.assert_allclose(a.cells["p_real"], b.cells["p_real"], atol=1e-6)
    assert a.report.n_filtered_cells >= 0
    assert a.report.n_noise == int((a.assignments["status"] == "noise").sum())


def test_unknown_support_rule_is_refused():
    clicks, _ = spammer_crowd(2)
    with pytest.raises(ValueError, match="support_rule"):
        find_consensus(clicks, support_rule="vote")


def test_an_image_with_one_run_keeps_its_clicks_as_with_the_threshold():
    """One run says nothing of who strays: the clicks are kept, p_real is NaN."""
    clicks, _ = spammer_crowd(12)
    alone = pd.DataFrame(
        {"image_id": "solo", "annotator_id": "spammer", "x": [10.0, 200.0], "y": [10.0, 300.0]}
    ).assign(label="dead")
    both = pd.concat([clicks, alone], ignore_index=True)
    model = find_consensus(both, params={"eps": 5}, support_rule="model")
    threshold = find_consensus(both, params={"eps": 5}, support_rule="threshold")
    solo = model.cells[model.cells["image_id"] == "solo"]
    assert len(solo) == 2 == int((threshold.cells["image_id"] == "solo").sum())
    assert solo["p_real"].isna().all()
    assert model.cells.loc[model.cells["image_id"] != "solo", "p_real"].notna().all()
