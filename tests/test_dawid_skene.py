"""Dawid-Skene with a pooled prior: crowd-kit's binary fixtures, property tests, calibration.

The fixtures (the YSDA toy crowd, the step-by-step values, the "overlap"
crowd) are crowd-kit's (``tests/conftest.py`` and
``tests/aggregation/test_ds_aggregation.py``), with ``yes``/``no`` read as
``alive``/``dead``, checked at their tolerance (0.005).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.special import expit

from cellconsensus.labels import DawidSkeneAggregator, available_aggregators, get_aggregator
from cellconsensus.labels.dawid_skene_em import not_adversarial

YES_NO = {"yes": "alive", "no": "dead"}

# crowd-kit's toy YSDA crowd (worker, task, label) and its ground truth.
TOY = [
    ("w1", "t1", "no"), ("w1", "t2", "yes"), ("w1", "t3", "yes"), ("w1", "t4", "yes"),
    ("w1", "t5", "yes"), ("w2", "t1", "yes"), ("w2", "t2", "yes"), ("w2", "t3", "no"),
    ("w2", "t4", "yes"), ("w2", "t5", "no"), ("w3", "t2", "yes"), ("w3", "t3", "no"),
    ("w3", "t4", "yes"), ("w3", "t5", "no"), ("w4", "t1", "yes"), ("w4", "t2", "no"),
    ("w4", "t3", "yes"), ("w4", "t4", "yes"), ("w4", "t5", "no"), ("w5", "t1", "no"),
    ("w5", "t2", "no"), ("w5", "t3", "no"), ("w5", "t4", "yes"), ("w5", "t5", "no"),
]  # fmt: skip
TOY_TRUTH = ["alive", "alive", "dead", "alive", "dead"]


def toy_votes() -> pd.DataFrame:
    votes = pd.DataFrame(TOY, columns=["worker", "task", "label"])
    return votes.assign(label=votes["label"].map(YES_NO))


# crowd-kit's errors_ after iterations 0 and 1, P(observed | true) per worker:
# ((no|no, no|yes), (yes|no, yes|yes)); and its priors (no, yes).
CROWD_KIT_ERRORS = {
    0: {
        "w1": ((0.22, 0.19), (0.78, 0.81)),
        "w2": ((0.61, 0.22), (0.39, 0.78)),
        "w3": ((0.78, 0.27), (0.22, 0.73)),
        "w4": ((0.52, 0.30), (0.48, 0.70)),
        "w5": ((1.00, 0.63), (0.00, 0.37)),
    },
    1: {
        "w1": ((0.14, 0.25), (0.86, 0.75)),
        "w2": ((0.75, 0.07), (0.25, 0.93)),
        "w3": ((0.87, 0.09), (0.13, 0.91)),
        "w4": ((0.50, 0.31), (0.50, 0.69)),
        "w5": ((1.00, 0.61), (0.00, 0.39)),
    },
}
CROWD_KIT_PRIORS = {0: (0.46, 0.54), 1: (0.49, 0.51)}


@pytest.mark.parametrize("iteration", [0, 1])
def test_classic_dawid_skene_matches_crowd_kit_step_by_step(iteration):
    """``shrinkage=0``: crowd-kit's probas after one E-step, and its M-steps 0 and 1.

    Our ``errors_``/``priors_`` are those of the model that gave ``probas_``, so
    crowd-kit's iteration-k M-step is ours after ``k + 1`` E-steps.
    """
    ds = DawidSkeneAggregator(shrinkage=0, max_iter=iteration + 1)
    p = ds.fit_predict_proba(toy_votes())
    if iteration == 0:
        np.testing.assert_allclose(p.to_numpy(), [0.65, 0.74, 0.13, 1.00, 0.05], atol=0.005)
    for w, ((nn, ny), (yn, yy)) in CROWD_KIT_ERRORS[iteration].items():
        errors = ds.errors_[int(w[1]) - 1]  # [true class (alive, dead), answer]
        got = [errors[1, 1], errors[0, 1], errors[1, 0], errors[0, 0]]
        np.testing.assert_allclose(got, [nn, ny, yn, yy], atol=0.005)
    no, yes = CROWD_KIT_PRIORS[iteration]
    np.testing.assert_allclose(ds.priors_, [yes, no], atol=0.005)


@pytest.mark.parametrize("max_iter", [10, 100])
def test_classic_dawid_skene_finds_the_toy_truth(max_iter):
    labels = DawidSkeneAggregator(shrinkage=0, max_iter=max_iter).fit_predict(toy_votes())
    assert labels.tolist() == TOY_TRUTH


@pytest.mark.parametrize("overlap", [3, 300, 30000])
@pytest.mark.parametrize("shrinkage", ["auto", 0.0])
def test_overlap_crowd_is_calibrated(overlap, shrinkage):
    """Every task 2 alive : 1 dead in a rotating design: votes carry no evidence, p = 2/3."""
    votes = pd.DataFrame(
        [
            {"task": t, "worker": w, "label": "alive" if (w - t) % 3 else "dead"}
            for w in range(overlap)
            for t in range(3)
        ]
    )
    ds = DawidSkeneAggregator(shrinkage=shrinkage, max_iter=20)
    np.testing.assert_allclose(ds.fit_predict_proba(votes), 2 / 3, atol=0.005)
    assert ds.fit_predict(votes).tolist() == ["alive"] * 3
    np.testing.assert_allclose(ds.priors_, [2 / 3, 1 / 3], atol=0.005)


# -- property tests --------------------------------------------------------------------

ANSWERS = ["alive", "dead", "unsure"]
vote_rows = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, 5), st.sampled_from(ANSWERS)),
    min_size=1,
    max_size=60,
)


def as_votes(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["task", "worker", "label"]).drop_duplicates(
        ["task", "worker"], ignore_index=True
    )


AGGREGATORS = available_aggregators()


@pytest.mark.parametrize("name", AGGREGATORS)
@settings(max_examples=50, deadline=None)
@given(rows=vote_rows, seed=st.integers(0, 10_000))
def test_relabelling_tasks_and_annotators_changes_nothing(name, rows, seed):
    votes = as_votes(rows)
    p = get_aggregator(name).fit_predict_proba(votes)
    rng = np.random.default_rng(seed)
    tasks = {t: f"cell-{k}" for k, t in enumerate(rng.permutation(votes["task"].unique()))}
    workers = {w: f"a{k}" for k, w in enumerate(rng.permutation(votes["worker"].unique()))}
    renamed = votes.assign(task=votes["task"].map(tasks), worker=votes["worker"].map(workers))
    q = get_aggregator(name).fit_predict_proba(renamed.sample(frac=1, random_state=seed))
    # Equal up to the solvers' tolerances: EM stops when no posterior moves by more than
    # tol=1e-6, and the strength maximises a likelihood that may be nearly flat, where the
    # order of the sums moves the optimum within the search's precision.
    np.testing.assert_allclose(q.loc[p.index.map(tasks)].to_numpy(), p.to_numpy(), atol=1e-6)
    assert p.between(0, 1).all()


def test_convergence_is_reported():
    votes = toy_votes()
    assert DawidSkeneAggregator().fit(votes).converged_
    stopped = DawidSkeneAggregator(max_iter=1).fit(votes)
    assert stopped.n_iter_ == 1 and not stopped.converged_


@pytest.mark.parametrize("name", AGGREGATORS)
@settings(max_examples=50, deadline=None)
@given(
    truths=st.lists(st.sampled_from(["alive", "dead"]), min_size=1, max_size=12),
    n_workers=st.integers(1, 5),
)
def test_unanimous_crowd_gives_certainty_in_its_direction(name, truths, n_workers):
    votes = pd.DataFrame(
        [(t, w, label) for t, label in enumerate(truths) for w in range(n_workers)],
        columns=["task", "worker", "label"],
    )
    p = get_aggregator(name).fit_predict_proba(votes).to_numpy()
    alive = np.array(truths) == "alive"
    # Dawid-Skene's pooled prior is worth a vote per row: on a handful of votes it stays
    # short of certainty (4 unanimous votes: 0.93), never on the wrong side.
    sure = 0.99 if name != "dawid-skene" or len(votes) >= 20 else 0.5
    assert (p[alive] > sure).all() and (p[~alive] < 1 - sure).all()


@st.composite
def crowds(draw, sizes=(30, 150), pools=(3, 30), skill=(0.7, 0.95)) -> pd.DataFrame:
    """A crowd to learn from: 30-150 cells, 2-5 votes each, from a pool of annotators
    of varied skill (mean accuracy in ``skill``; some one-off), drawn by numpy from a
    hypothesis seed."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_tasks, pool = draw(st.integers(*sizes)), draw(st.integers(*pools))
    truth = rng.random(n_tasks) < draw(st.floats(0.2, 0.8))
    accuracy = np.clip(rng.normal(draw(st.floats(*skill)), 0.1, pool), 0.5, 1.0)
    rows = []
    for t in range(n_tasks):
        for w in rng.choice(pool, min(pool, int(rng.integers(2, 6))), replace=False):
            answer = ("alive" if truth[t] else "dead") if rng.random() < accuracy[w] else "unsure"
            if answer == "unsure" and rng.random() < 0.9:
                answer = "dead" if truth[t] else "alive"
            rows.append((t, f"w{w}" if rng.random() < 0.9 else f"once-{t}-{w}", answer))
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


def votes_for(name: str, rows, crowd: pd.DataFrame) -> pd.DataFrame:
    """Any vote table for the rules of thumb; a crowd to learn from for Dawid-Skene (on a
    handful of votes a learnt model may read a tie either way, which is not what these
    properties are about)."""
    return crowd if name == "dawid-skene" else as_votes(rows)


@pytest.mark.parametrize("name", AGGREGATORS)
@settings(max_examples=30, deadline=None)
@given(rows=vote_rows, crowd=crowds(skill=(0.8, 0.95)), pick=st.integers(0, 10_000))
def test_an_agreeing_vote_never_lowers_its_class(name, rows, crowd, pick):
    """A new annotator's vote for the class a task leans to does not lower that class.

    (Up to 1e-5: Dawid-Skene keeps its class prior within [1e-6, 1 - 1e-6].) The new
    vote also refits the model: on a crowd barely better than chance (mean accuracy
    0.7 with annotators down to 0.5) the refit may move the class prior by more than
    the vote's own evidence, so the crowd here is one whose votes carry information.
    """
    votes = votes_for(name, rows, crowd)
    before = get_aggregator(name).fit_predict_proba(votes)
    task = before.index[pick % len(before)]
    leaning = "alive" if before.loc[task] >= 0.5 else "dead"
    more = pd.concat([votes, pd.DataFrame([(task, "new", leaning)], columns=votes.columns)])
    after = get_aggregator(name).fit_predict_proba(more)
    if leaning == "alive":
        assert after.loc[task] >= before.loc[task] - 1e-5
    else:
        assert after.loc[task] <= before.loc[task] + 1e-5


@settings(max_examples=50, deadline=None)
@given(
    answers=st.lists(st.lists(st.sampled_from(ANSWERS), min_size=1, max_size=5), min_size=2),
)
def test_one_off_annotators_are_the_pooled_annotator(answers):
    """Each annotator votes once: every vote is read through the pooled confusion."""
    rows, worker = [], 0
    for t, task_answers in enumerate(answers):
        for a in task_answers:
            rows.append((t, worker, a))
            worker += 1
    votes = pd.DataFrame(rows, columns=["task", "worker", "label"])
    ds = DawidSkeneAggregator()
    p = ds.fit_predict_proba(votes).to_numpy()
    if not (votes.groupby("task").size() >= 2).any():
        return  # nothing to learn from: the mean rule (tested elsewhere)
    np.testing.assert_allclose(
        ds.errors_, np.broadcast_to(ds.pooled_errors_, ds.errors_.shape), atol=1e-5
    )
    log = np.log(np.clip(ds.pooled_errors_, 1e-300, None))
    llr = (log[0] - log[1])[votes["label"].map(ANSWERS.index).to_numpy()]
    prior = np.log(ds.priors_[0] / ds.priors_[1])
    expected = expit(prior + np.bincount(votes["task"], weights=llr))
    np.testing.assert_allclose(p, expected, atol=1e-4)


@pytest.mark.parametrize("name", AGGREGATORS)
@settings(max_examples=30, deadline=None)
@given(rows=vote_rows, crowd=crowds(sizes=(200, 400), pools=(4, 12)))
def test_duplicating_every_annotator_keeps_the_labels(name, rows, crowd):
    """Every annotator twice: the same labels.

    Dawid-Skene takes annotators as independent, so a copy doubles the votes'
    evidence (against an unchanged class prior: a label the prior decided may
    turn) and doubles every annotator's counts (more evidence that annotators
    differ: the learnt strength may fall). With the strength learnt on the
    original crowd, the labels its votes decide by a margin of one nat stay (98 %
    of them at least: the refit may settle at a neighbouring fixed point), once
    EM has converged on a crowd big enough to learn from (200-400 cells, 4-12
    annotators; on a few dozen cells EM may crawl or settle elsewhere).
    """
    votes = votes_for(name, rows, crowd)
    twice = pd.concat([votes, votes.assign(worker=votes["worker"].map(lambda w: f"copy-{w}"))])
    params = {}
    if name == "dawid-skene":
        params = {"shrinkage": get_aggregator(name).fit(votes).strength_}
    model = get_aggregator(name, **params)
    a = model.fit_predict(votes)
    b = get_aggregator(name, **params).fit_predict(twice)
    decided = np.array(a.isin(["alive", "dead"]))
    if name == "dawid-skene":
        # A property of the fixed point: on a small crowd EM may still be crawling.
        assume(model.n_iter_ < model.max_iter)
        p = np.clip(model.probas_, 1e-12, 1 - 1e-12)
        prior = np.log(model.priors_[0] / model.priors_[1])
        evidence = np.log(p / (1 - p)) - prior
        decided &= np.abs(evidence) > abs(prior) + 1.0
        # Refitting may settle at a neighbouring fixed point: a few labels may move.
        kept = (a[decided] == b.loc[a.index][decided]).mean() if decided.any() else 1.0
        assert kept >= 0.98
        return
    assert (a[decided] == b.loc[a.index][decided]).all()


@settings(max_examples=100, deadline=None)
@given(counts=st.lists(st.floats(0.01, 100.0), min_size=6, max_size=6))
def test_pooled_crowd_is_never_adversarial(counts):
    counts = np.reshape(counts, (2, 3))
    rates = not_adversarial(counts)
    np.testing.assert_allclose(rates.sum(axis=1), 1.0)
    assert rates[0, 0] >= rates[1, 0] - 1e-12 and rates[1, 1] >= rates[0, 1] - 1e-12
    plain = counts / counts.sum(axis=1, keepdims=True)
    if plain[0, 0] >= plain[1, 0] and plain[1, 1] >= plain[0, 1]:
        np.testing.assert_allclose(rates, plain)


def test_no_cell_with_two_votes_returns_the_mean_rule():
    votes = pd.DataFrame({"task": [0, 1, 2], "worker": [0, 0, 1], "label": ANSWERS})
    ds = DawidSkeneAggregator()
    np.testing.assert_allclose(ds.fit_predict_proba(votes), [1.0, 0.0, 0.5])
    assert ds.n_iter_ == 0


# -- calibration and robustness on simulated crowds ----------------------------------------


def simulated_votes(seed: int, n_tasks: int, one_off: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """Tasks voted by 1-4 annotators of varied skill, from a pool or each one-off."""
    rng = np.random.default_rng(seed)
    truth = rng.random(n_tasks) < 0.65
    pool = 40
    accuracy = np.clip(rng.normal(0.85, 0.08, pool), 0.55, 0.99)
    rows, one_off_id = [], 0
    for t in range(n_tasks):
        for w in rng.choice(pool, rng.integers(1, 5), replace=False):
            right = rng.random() < accuracy[w]
            answer = "alive" if truth[t] == right else "dead"
            if one_off:  # an anonymous run: its own annotator, one image of 8 cells
                w = f"run{t // 8}-{w}"
            rows.append((t, w, answer))
            one_off_id += 1
    return pd.DataFrame(rows, columns=["task", "worker", "label"]), truth


def expected_calibration_error(p: np.ndarray, outcome: np.ndarray, bins: int = 10) -> float:
    index = np.minimum((p * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        inside = index == b
        if inside.any():
            error += inside.mean() * abs(outcome[inside].mean() - p[inside].mean())
    return error


@pytest.mark.parametrize("one_off", [False, True])
def test_probabilities_are_calibrated_on_simulated_crowds(one_off):
    errors = []
    for seed in range(3):
        votes, truth = simulated_votes(seed, 3000, one_off)
        p = DawidSkeneAggregator().fit_predict_proba(votes)
        errors.append(expected_calibration_error(p.to_numpy(), truth[p.index.to_numpy()]))
    assert np.mean(errors) < 0.04, errors


def test_lone_votes_are_never_overruled_on_one_off_crowds():
    """Anonymous one-off runs: a cell only one volunteer saw keeps that volunteer's label."""
    votes, _ = simulated_votes(0, 4000, one_off=True)
    n = votes.groupby("task").size()
    p = DawidSkeneAggregator().fit_predict_proba(votes)
    lone = votes[votes["task"].isin(n.index[n == 1])].set_index("task")["label"]
    predicted = np.where(p.loc[lone.index] > 0.5, "alive", "dead")
    assert (predicted == lone.to_numpy()).mean() >= 0.99
