"""Label aggregation: properties of every aggregator, and Dawid-Skene's skill learning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cellconsensus.labels import available_aggregators, get_aggregator, label_from_proba

AGGREGATORS = available_aggregators()

votes_strategy = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 4), st.sampled_from(["alive", "dead", "unsure"])),
    min_size=1,
    max_size=50,
).map(
    lambda rows: pd.DataFrame(rows, columns=["task", "worker", "label"]).drop_duplicates(
        ["task", "worker"]
    )
)


@pytest.mark.parametrize("name", AGGREGATORS)
@settings(max_examples=40, deadline=None)
@given(votes=votes_strategy)
def test_unanimous_tasks(name, votes):
    """A task whose every vote says one thing gets that label (alive/dead)."""
    votes = votes[votes["label"] != "unsure"]
    if votes.empty:
        return
    agreed = (
        votes.groupby("task")["label"]
        .agg(lambda s: s.iloc[0] if s.nunique() == 1 else None)
        .dropna()
    )
    labels = get_aggregator(name).fit_predict(votes)
    if name == "dawid-skene":
        # Dawid-Skene may overrule a lone vote of a worker it learned to distrust,
        # but never when everybody agrees on everything.
        if votes["label"].nunique() != 1:
            return
    assert (labels.loc[agreed.index] == agreed).all()


@pytest.mark.parametrize("name", AGGREGATORS)
def test_all_agree_gives_zero_or_one(name):
    votes = pd.DataFrame(
        {
            "task": [0, 0, 0, 1, 1, 1],
            "worker": [1, 2, 3, 1, 2, 3],
            "label": ["alive"] * 3 + ["dead"] * 3,
        }
    )
    p = get_aggregator(name).fit_predict_proba(votes)
    # Dawid-Skene's pooled prior keeps six votes from absolute certainty (0.997).
    np.testing.assert_allclose(
        p.to_numpy(), [1.0, 0.0], atol=0.01 if name == "dawid-skene" else 1e-6
    )


def test_mean_is_the_thesis_rule():
    votes = pd.DataFrame(
        {"task": [0, 0, 0], "worker": [1, 2, 3], "label": ["alive", "dead", "unsure"]}
    )
    assert get_aggregator("mean").fit_predict_proba(votes).iloc[0] == pytest.approx(0.5)
    assert get_aggregator("majority").fit_predict(votes).iloc[0] == "unsure"


def test_unsure_band():
    assert list(label_from_proba(np.array([0.55, 0.7]), unsure_margin=0.1)) == ["unsure", "alive"]
    with pytest.raises(ValueError, match="unsure_margin"):
        get_aggregator("mean", unsure_margin=0.7)
    with pytest.raises(ValueError, match="unknown label aggregation"):
        get_aggregator("median")


def test_unknown_vote_label():
    from cellconsensus import CellConsensusInputError

    with pytest.raises(
        CellConsensusInputError, match="row 2, field 'label': unknown label 'maybe'"
    ):
        get_aggregator("majority").fit(
            pd.DataFrame({"task": [0, 0], "worker": [0, 1], "label": ["alive", "maybe"]})
        )


def _skilled_crowd(seed=0, n_tasks=3000, n_workers=30):
    rng = np.random.default_rng(seed)
    truth = rng.random(n_tasks) < 0.7
    accuracy = np.where(np.arange(n_workers) < 10, 0.5, 0.92)  # a third are coin-flippers
    rows = []
    for t in range(n_tasks):
        for w in rng.choice(n_workers, 5, replace=False):
            right = rng.random() < accuracy[w]
            rows.append((t, w, "alive" if truth[t] == right else "dead"))
    return pd.DataFrame(rows, columns=["task", "worker", "label"]), truth


def test_dawid_skene_learns_skills_and_beats_majority():
    votes, truth = _skilled_crowd()
    ds = get_aggregator("dawid-skene")
    ds_acc = ((ds.fit_predict_proba(votes) > 0.5).to_numpy() == truth).mean()
    mv_acc = (
        (get_aggregator("majority").fit_predict_proba(votes) > 0.5).to_numpy() == truth
    ).mean()
    assert ds_acc > mv_acc + 0.01
    # The coin-flippers' confusion matrices are near chance, the others' near 0.92.
    diag = ds.errors_[:, [0, 1], [0, 1]].mean(axis=1)
    assert diag[:10].max() < 0.7 and diag[10:].min() > 0.85
    assert 1 <= ds.n_iter_ <= 100
