"""Label models for any label set: K classes, crowd-kit's fixtures, and the invariants
(K = 2 gives the two-class numbers; relabelling the classes permutes the outputs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _crowdkit_fixtures import (
    SIMPLE,
    SIMPLE_MV_PROBAS,
    SIMPLE_TRUTH,
    TOY,
    TOY_MV_PROBAS,
    TOY_TRUTH,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cellconsensus.errors import CellConsensusInputError
from cellconsensus.labels import (
    ALIVE_DEAD,
    DawidSkeneAggregator,
    MajorityAggregator,
    MeanAggregator,
    Vocabulary,
    get_aggregator,
)

MODELS = ["mean", "majority", "dawid-skene"]
SETTINGS = settings(max_examples=60, deadline=None)


@pytest.mark.parametrize(
    ("votes", "truth", "shrinkage"),
    [
        (SIMPLE, SIMPLE_TRUTH, "auto"),
        (SIMPLE, SIMPLE_TRUTH, 0.0),
        # The 5 x 5 toy: classic Dawid-Skene (shrinkage 0, crowd-kit's model) finds
        # crowd-kit's labels; the pooled default reads two of five differently (docs/concepts.md).
        (TOY, TOY_TRUTH, 0.0),
    ],
)
def test_dawid_skene_finds_crowd_kits_expected_labels(votes, truth, shrinkage):
    labels = DawidSkeneAggregator(shrinkage=shrinkage).fit_predict(votes).sort_index()
    assert labels.astype(str).tolist() == truth.sort_index().tolist()


@pytest.mark.parametrize(("votes", "expected"), [(SIMPLE, SIMPLE_MV_PROBAS), (TOY, TOY_MV_PROBAS)])
def test_majority_gives_crowd_kits_expected_probabilities(votes, expected):
    got = MajorityAggregator().fit_predict_class_proba(votes)
    expected = expected.sort_index()[sorted(expected.columns)]
    np.testing.assert_allclose(got.loc[expected.index, expected.columns], expected, atol=1e-12)


def test_a_fraudster_is_found_out():
    """The worker who always answers parrot: Dawid-Skene learns that parrot from them says
    little, and corrects the tasks where the majority would follow them."""
    ds = DawidSkeneAggregator(shrinkage=0.0)
    labels = ds.fit_predict(SIMPLE)
    assert (labels.sort_index().astype(str) == SIMPLE_TRUTH).all()
    assert ds.vocabulary_.classes == ("chicken", "goose", "parrot")
    assert ds.errors_.shape == (6, 3, 4) and np.allclose(ds.errors_.sum(axis=2), 1)


def _votes(draw, n_classes: int) -> tuple[np.ndarray, ...]:
    n_tasks = draw(st.integers(1, 12))
    n = draw(st.integers(1, 50))
    task = np.array(draw(st.lists(st.integers(0, n_tasks - 1), min_size=n, max_size=n)))
    worker = np.array(draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)))
    answer = np.array(draw(st.lists(st.integers(0, n_classes), min_size=n, max_size=n)))
    return task, worker, answer, n_tasks


@st.composite
def two_class_votes(draw):
    return _votes(draw, 2)


@st.composite
def three_class_votes(draw):
    return _votes(draw, 3)


@pytest.mark.parametrize("name", MODELS)
@SETTINGS
@given(votes=two_class_votes())
def test_two_classes_through_the_k_class_model_give_the_two_class_numbers(name, votes):
    task, worker, answer, n_tasks = votes
    two, k = get_aggregator(name), get_aggregator(name)
    p = two.fit_arrays(task, worker, answer, n_tasks)
    proba = k.fit_classes(task, worker, answer, n_tasks, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assume(name != "dawid-skene" or (two.converged_ and k.converged_))  # as below
    # Mean and majority: the same arithmetic. Dawid-Skene: the same model and fixed point,
    # EM stopped within its tolerance (tol 1e-6 a step; slow drifts on odd crowds).
    tolerance = 1e-4 if name == "dawid-skene" else 1e-12
    np.testing.assert_allclose(proba[:, 0], p, atol=tolerance)


@pytest.mark.parametrize("name", MODELS)
@SETTINGS
@given(votes=three_class_votes(), order=st.permutations([0, 1, 2]))
def test_relabelling_the_classes_permutes_the_probabilities(name, votes, order):
    task, worker, answer, n_tasks = votes
    names = np.array(["goose", "parrot", "chicken", "unsure"])
    frame = pd.DataFrame({"task": task, "worker": worker, "label": names[answer]})
    classes = ("goose", "parrot", "chicken")
    permuted = tuple(classes[k] for k in order)
    # Dawid-Skene: the same fixed point; EM run close to it (sums over the classes in
    # another order move the learnt strength in its last bits).
    first, second = get_aggregator(name, classes=classes), get_aggregator(name, classes=permuted)
    a, b = first.fit_predict_class_proba(frame), second.fit_predict_class_proba(frame)
    assert list(b.columns) == list(permuted)
    # An EM stopped at max_iter while still drifting ends where its path took it: rounding
    # differences of the reordered sums can move that far (0.017 seen). Converged, it is
    # the same fixed point.
    assume(name != "dawid-skene" or (first.converged_ and second.converged_))
    tolerance = 1e-4 if name == "dawid-skene" else 1e-12
    np.testing.assert_allclose(b[list(classes)].to_numpy(), a.to_numpy(), atol=tolerance)


@pytest.mark.parametrize("name", MODELS)
@SETTINGS
@given(votes=three_class_votes())
def test_class_probabilities_are_distributions_and_agree_with_the_label(name, votes):
    task, worker, answer, n_tasks = votes
    names = np.array(["a", "b", "c", "unsure"])
    frame = pd.DataFrame({"task": task, "worker": worker, "label": names[answer]})
    model = get_aggregator(name, classes=["a", "b", "c"])
    proba = model.fit_predict_class_proba(frame)
    assert np.all(proba.to_numpy() >= 0) and np.allclose(proba.sum(axis=1), 1)
    labels = model.fit_predict(frame)
    decided = labels.astype(str) != "unsure"
    best = proba.idxmax(axis=1)
    assert (labels[decided].astype(str) == best[decided]).all()


def test_alive_dead_apis_are_unchanged():
    votes = pd.DataFrame(
        {"task": [0, 0, 1], "worker": [1, 2, 1], "label": ["alive", "dead", "dead"]}
    )
    model = MeanAggregator()
    assert model.fit_predict_proba(votes).tolist() == [0.5, 0.0]
    assert model.vocabulary_ is ALIVE_DEAD
    table = model.fit_predict_class_proba(votes)
    assert list(table.columns) == ["alive", "dead"] and table["alive"].tolist() == [0.5, 0.0]


def test_a_declared_class_nobody_chose_gets_a_column():
    votes = pd.DataFrame({"task": [0, 0], "worker": [1, 2], "label": ["egg", "egg"]})
    proba = MajorityAggregator(classes=["adult", "chick", "egg"]).fit_predict_class_proba(votes)
    assert proba.iloc[0].tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize(
    ("votes", "classes", "message"),
    [
        (["goose", "emu"], ["goose", "parrot"], "unknown label 'emu'"),
        (["goose", "goose"], None, "unknown label 'goose': a label set needs two classes"),
        (["goose", "parrot"], ["goose", "goose"], "distinct"),
    ],
)
def test_bad_label_sets_are_named(votes, classes, message):
    frame = pd.DataFrame({"task": [0, 1], "worker": [1, 1], "label": votes})
    with pytest.raises((CellConsensusInputError, ValueError), match=message):
        MajorityAggregator(classes=classes).fit(frame)


def test_p_alive_of_another_label_set_points_to_the_class_probabilities():
    with pytest.raises(CellConsensusInputError, match="fit_predict_class_proba"):
        MeanAggregator().fit_predict_proba(SIMPLE)


def test_a_vocabulary_with_its_own_unsure_word():
    vocabulary = Vocabulary(("mitotic", "interphase"), unsure="can't tell")
    votes = pd.DataFrame({"task": [0, 0, 0], "worker": [1, 2, 3],
                          "label": ["mitotic", "can't tell", "mitotic"]})  # fmt: skip
    proba = MeanAggregator(classes=vocabulary).fit_predict_class_proba(votes)
    assert proba.iloc[0].tolist() == pytest.approx([5 / 6, 1 / 6])


@SETTINGS
@given(k=st.integers(2, 5), n_tasks=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_a_flawless_crowd_of_any_size_is_read_right_by_every_model(k, n_tasks, seed):
    from cellconsensus import simulate_votes

    classes = [f"class{j}" for j in range(k)]
    votes, truth = simulate_votes(n_tasks, classes, label_noise=0.0, pool_size=8, seed=seed)
    assert len(votes) == 5 * n_tasks and not votes.duplicated(["task", "worker"]).any()
    for name in MODELS:
        labels = get_aggregator(name, classes=classes).fit_predict(votes)
        assert (labels.astype(str) == truth.loc[labels.index]).all(), name


def test_simulated_votes_follow_their_parameters():
    from cellconsensus import simulate_votes

    classes = ["a", "b", "c"]
    votes, truth = simulate_votes(3000, classes, label_noise=0.2, seed=3)
    again, _ = simulate_votes(3000, classes, label_noise=0.2, seed=3)
    pd.testing.assert_frame_equal(votes, again)  # deterministic given a seed
    wrong = votes["label"].to_numpy() != truth.loc[votes["task"]].to_numpy()
    assert 0.15 < wrong.mean() < 0.25
    spam, _ = simulate_votes(3000, classes, spammer_fraction=1.0, label_noise=0.0, seed=3)
    shares = spam["label"].value_counts(normalize=True)
    assert set(shares.index) == set(classes) and shares.min() > 0.3
    weighted, truth = simulate_votes(3000, classes, class_weights=[8, 1, 1], seed=3)
    assert truth.value_counts(normalize=True)["a"] > 0.75
    unsure, _ = simulate_votes(1000, classes, unsure_rate=0.5, seed=3)
    assert 0.45 < (unsure["label"] == "unsure").mean() < 0.55
    with pytest.raises(ValueError, match="class_weights"):
        simulate_votes(10, classes, class_weights=[1, 1])
    with pytest.raises(ValueError, match="n_annotators"):
        simulate_votes(10, classes, n_annotators=60)


# --- The consensus on clicks of any label set ---------------------------------------------


def _renamed(clicks: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    out = clicks.copy()
    out["label"] = clicks["label"].astype(str).map(names)
    return out


@pytest.fixture(scope="module")
def crowd():
    from cellconsensus import make_truth, simulate_crowd

    truth = make_truth(8, seed=5)
    return truth, simulate_crowd(truth, 5, seed=5, label_noise=0.15)


@pytest.mark.parametrize("labels", MODELS)
def test_renamed_classes_give_the_same_cells_and_probabilities(crowd, labels):
    from cellconsensus import find_consensus

    _, clicks = crowd
    birds = _renamed(clicks, {"alive": "goose", "dead": "parrot", "unsure": "unsure"})
    a = find_consensus(clicks, labels=labels).cells
    b = find_consensus(birds, labels=labels, classes=["goose", "parrot"]).cells
    same = ["image_id", "cell_id", "x", "y", "n_annotators", "support", "spread", "p_real"]
    pd.testing.assert_frame_equal(a[same], b[same])
    tolerance = 1e-4 if labels == "dawid-skene" else 1e-12
    np.testing.assert_allclose(b["p_goose"], a["p_alive"], atol=tolerance)
    np.testing.assert_allclose(b["p_goose"] + b["p_parrot"], 1.0, atol=1e-12)
    assert "p_alive" not in b and b.attrs["classes"].classes == ("goose", "parrot")


@SETTINGS
@given(order=st.permutations(["goose", "parrot", "chicken"]), seed=st.integers(0, 50))
def test_three_classes_reordered_permute_the_cell_probabilities(crowd, order, seed):
    from cellconsensus import find_consensus

    _, clicks = crowd
    rng = np.random.default_rng(seed)
    birds = _renamed(clicks, {"alive": "goose", "dead": "parrot", "unsure": "unsure"})
    birds.loc[rng.random(len(birds)) < 0.2, "label"] = "chicken"
    a = find_consensus(birds, labels="majority", classes=["goose", "parrot", "chicken"]).cells
    b = find_consensus(birds, labels="majority", classes=list(order)).cells
    assert [c for c in b.columns if c.startswith("p_") and c != "p_real"] == [
        f"p_{c}" for c in order
    ]
    for name in ("goose", "parrot", "chicken"):
        np.testing.assert_allclose(b[f"p_{name}"], a[f"p_{name}"], atol=1e-12)
    assert (a["label"].astype(str) == b["label"].astype(str)).all()


def test_cells_of_three_classes_score_write_and_read_back(crowd, tmp_path):
    from cellconsensus import find_consensus, read_cells, score, write_cells
    from cellconsensus.tables import validate_truth

    truth, clicks = crowd
    names = {"alive": "adult", "dead": "chick", "unsure": "unsure"}
    cells = find_consensus(_renamed(clicks, names), classes=["adult", "chick", "egg"]).cells
    assert cells["p_egg"].max() < 1e-4  # a declared class nobody chose (prior floor 1e-6)
    birds_truth = validate_truth(_renamed(truth, names))
    assert score(cells, birds_truth).label_accuracy > 0.8
    for name in ("cells.csv", "cells.parquet"):
        back = read_cells(write_cells(cells, tmp_path / name))
        assert [c for c in back.columns if c.startswith("p_")] == ["p_adult", "p_chick", "p_egg",
                                                                   "p_real"]  # fmt: skip
        assert list(back["label"].cat.categories) == ["adult", "chick", "egg", "unsure"]


def test_what_does_not_take_other_classes_says_so(crowd):
    from cellconsensus import find_consensus
    from cellconsensus.errors import InvalidParameterError

    _, clicks = crowd
    birds = _renamed(clicks, {"alive": "goose", "dead": "parrot", "unsure": "unsure"})
    with pytest.raises(InvalidParameterError, match="thesis' rule"):
        find_consensus(birds, "radius-thesis")
    with pytest.raises(ValueError, match="'real' cannot be a class"):
        Vocabulary(("real", "fake"))


def test_the_annotator_table_of_renamed_classes_is_the_alive_dead_one_renamed(crowd):
    from cellconsensus import find_consensus

    _, clicks = crowd
    table = find_consensus(clicks).annotators_
    birds = _renamed(clicks, {"alive": "goose", "dead": "parrot", "unsure": "unsure"})
    renamed = find_consensus(birds, classes=["goose", "parrot"]).annotators_
    expected = table.rename(columns={"sensitivity": "recall_goose", "specificity": "recall_parrot"})
    pd.testing.assert_frame_equal(renamed, expected, rtol=1e-9)


def test_the_annotator_table_of_three_classes_finds_the_spammers():
    from cellconsensus import find_consensus, make_truth, simulate_crowd

    truth = make_truth(80, style="brightfield", mitotic_fraction=0.3, seed=0)
    clicks = simulate_crowd(truth, 5, seed=0, spammer_fraction=0.2, pool_size=20)
    table = find_consensus(clicks).annotators_
    recalls = [f"recall_{c}" for c in ("alive", "dead", "mitotic")]
    assert list(table.columns[3:6]) == recalls
    spam = table["stray_click_rate"] > 0.5  # spammers click anywhere
    assert spam.any() and (~spam).any()
    assert table.loc[spam, "spammer_score"].max() < table.loc[~spam, "spammer_score"].min()
    assert (table.loc[~spam, recalls] > 0.6).all().all()


def test_a_zooniverse_workflow_with_three_point_tools(crowd, tmp_path):
    """The issue's case: three point tools, read with a label map and the classes, then
    the consensus gives a probability per class."""
    from cellconsensus import find_consensus
    from cellconsensus.io import read_zooniverse, write_zooniverse

    _, clicks = crowd
    rng = np.random.default_rng(2)
    birds = _renamed(clicks, {"alive": "adult", "dead": "chick", "unsure": "unsure"})
    birds.loc[rng.random(len(birds)) < 0.1, "label"] = "egg"
    tools = {"adult": "Adult", "chick": "Chick", "egg": "Egg", "unsure": "Not sure"}
    path = write_zooniverse(birds, tmp_path / "c.csv", tool_labels=tools)
    mapping = {tool: label for label, tool in tools.items()}
    # Inferred from the labels: the classes in sorted order.
    assert read_zooniverse(path, label_map=mapping).attrs["classes"].classes == (
        "adult", "chick", "egg"
    )  # fmt: skip
    # Mixed with alive / dead, a third label is taken for a typo unless the classes say not.
    mixed = {"Adult": "alive", "Chick": "dead", "Egg": "mitotic", "Not sure": "unsure"}
    with pytest.raises(CellConsensusInputError, match="pass classes="):
        read_zooniverse(path, label_map=mixed)
    three = find_consensus(
        read_zooniverse(path, label_map=mixed, classes=["alive", "dead", "mitotic"])
    )
    assert three.cells.filter(like="p_").columns.tolist() == [
        "p_alive", "p_dead", "p_mitotic", "p_real"
    ]  # fmt: skip
    # p_alive is there, but the labels are three classes: a recall per class.
    assert [c for c in three.annotators_.columns if c.startswith(("recall_", "sens"))] == [
        "recall_alive", "recall_dead", "recall_mitotic"
    ]  # fmt: skip
    back = read_zooniverse(path, label_map=mapping, classes=["adult", "chick", "egg"])
    assert back.attrs["classes"].classes == ("adult", "chick", "egg")
    assert back["label"].astype(str).value_counts().to_dict() == (
        birds["label"].astype(str).value_counts().to_dict()
    )
    cells = find_consensus(back).cells
    assert {"p_adult", "p_chick", "p_egg"} <= set(cells.columns) and "p_alive" not in cells
