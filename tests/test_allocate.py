"""Where volunteers are needed: per-image uncertainty, budget allocation, exports, the loop."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from cellconsensus import find_consensus, make_truth, simulate_crowd
from cellconsensus.allocate import (
    NEXT_TASK_COLUMNS,
    RUN_OVERHEAD,
    UNCERTAINTY_COLUMNS,
    allocate_budget,
    crowd_rates,
    image_uncertainty,
    next_tasks,
    write_pybossa_updates,
    write_zooniverse_retirement,
)
from cellconsensus.allocate.next_vote import (
    _doubt_after_click,
    _label_error_after_vote,
    _label_errors_after_volunteers,
    _lone_doubt_after,
    _real_odds,
    expected_missed,
)
from cellconsensus.allocate.simulate import POLICIES, reveal, simulate_allocation
from cellconsensus.allocate.uncertainty import HORIZON
from cellconsensus.cli import main
from cellconsensus.errors import CellConsensusInputError
from cellconsensus.io import read_pybossa, write_pybossa

SETTINGS = settings(max_examples=80, deadline=None)


@pytest.fixture(scope="module")
def uneven():
    """A crowd where images got 1 to 4 of their 6 volunteers, and the full queue."""
    truth = make_truth(60, style="brightfield", seed=0)
    full = simulate_crowd(truth, 6, seed=0, label_noise=0.15)
    queues = full.attrs["runs"].astype(str).copy()
    queues["position"] = queues.groupby("image_id").cumcount()
    images = sorted(queues["image_id"].unique())
    revealed = pd.Series([1 + k % 4 for k in range(len(images))], index=images)
    part = reveal(full, queues, revealed)
    return truth, part, find_consensus(part), revealed


def test_uncertainty_is_a_table_of_expected_errors(uneven):
    truth, part, result, revealed = uneven
    table = image_uncertainty(result)
    assert tuple(table.columns) == UNCERTAINTY_COLUMNS
    assert (table["annotators"].to_numpy() == revealed.reindex(table["image_id"]).to_numpy()).all()
    parts = table[["expected_missed", "expected_label_errors", "cells_in_doubt"]].sum(axis=1)
    assert np.allclose(parts, table["expected_errors"])
    assert (table["gain"] >= 0).all() and (table["gain"] <= table["expected_errors"] + 1e-12).all()
    assert (table["detection_gain"] >= 0).all() and (table["detection_gain"] <= table["gain"]).all()
    # The detection part never exceeds the detection errors it removes.
    detection_errors = table["expected_missed"] + table["cells_in_doubt"]
    assert (table["detection_gain"] <= detection_errors + 1e-12).all()
    # A lone volunteer leaves the most cells to find per cell found, four the fewest.
    by_count = table.assign(rate=table["expected_missed"] / table["cells"].clip(lower=1))
    means = by_count.groupby("annotators")["rate"].mean()
    assert means.idxmax() == 1 and means.idxmin() == 4
    # An image nobody annotated is expected to hold the crowd's cells, all missed.
    more = image_uncertainty(result, image_ids=[*table["image_id"], "never-seen"])
    never = more.set_index("image_id").loc["never-seen"]
    assert never["annotators"] == 0 and never["cells"] == 0 and never["expected_missed"] > 1


@SETTINGS
@given(
    found=st.lists(st.integers(0, 20), min_size=2, max_size=30),
    miss=st.floats(0.01, 0.9),
)
def test_missed_cells_shrink_toward_the_crowd(found, miss):
    found = np.asarray(found, dtype=float)
    m = np.full(len(found), miss)
    seen = np.ones(len(found), bool)
    missed = expected_missed(found, m, seen)
    assert (missed >= 0).all()
    # More found, more missed (the same image's rate); a volunteer who found nothing
    # on a crowd that finds cells elsewhere still leaves some to find.
    order = np.argsort(found, kind="stable")
    assert np.all(np.diff(missed[order]) >= -1e-12)
    if found.sum() > 0:
        assert missed[found == found.min()].min() > 0
    # Fewer misses, fewer missed cells.
    assert (expected_missed(found, m / 2, seen) <= missed + 1e-12).all()
    # An image nobody saw holds the crowd's mean.
    unseen = expected_missed(np.r_[found, 0.0], np.r_[m, 1.0], np.r_[seen, False])
    assert unseen[-1] == pytest.approx((found / (1 - miss)).mean())


def test_rates_are_measured_where_two_volunteers_looked(uneven):
    _, part, result, revealed = uneven
    rates = crowd_rates(result, part.attrs["runs"])
    # The simulated crowd: about 10 % of cells missed, 15 % of labels flipped.
    assert abs(rates.new_detection - 0.9) < 0.1 and abs(rates.accuracy - 0.85) < 0.1
    # A crowd of single volunteers says nothing of them: the neutral rates.
    alone = part[part["image_id"].map(revealed) == 1]
    alone.attrs["runs"] = part.attrs["runs"][part.attrs["runs"]["image_id"].map(revealed) == 1]
    lone = crowd_rates(find_consensus(alone), alone.attrs["runs"])
    assert lone.new_detection == 0.5 and lone.accuracy == 0.5


def _assume_no_tie(joint: np.ndarray) -> None:
    """Skip an example where the two most probable classes tie: which of them the crowd
    picks is arbitrary (and rounding decides it differently in a different sum)."""
    top = np.sort(joint)[::-1]
    assume(len(top) < 2 or top[0] - top[1] > 1e-9 * max(top[0], 1e-300))


@SETTINGS
@given(
    p=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=4).filter(lambda v: sum(v) > 0.01),
    q=st.floats(0.0, 1.0),
)
def test_a_vote_is_worth_its_expected_error_exactly(p, q):
    proba = np.asarray(p)[None, :] / sum(p)
    k = proba.shape[1]
    after = _label_error_after_vote(proba, q)[0]
    # By hand: every possible answer, its chance and the posterior's error.
    likelihood = np.where(np.eye(k, dtype=bool), q, (1 - q) / (k - 1))
    expected = 0.0
    for v in range(k):
        joint = proba[0] * likelihood[v]
        _assume_no_tie(joint)
        if joint.sum() > 0:
            expected += joint.sum() * (1 - joint.max() / joint.sum())
    assert after == pytest.approx(expected, abs=1e-12)
    before = 1 - proba.max()
    if q >= 1 / k:  # an informative vote never raises the expected error
        assert after <= before + 1e-12
    if np.isclose(q, 1 / k):  # an uninformative one leaves it
        assert after == pytest.approx(before, abs=1e-9)
    # Two votes: every pair of answers by hand; never worse than one when informative.
    two = _label_error_after_vote(proba, q, votes=2)[0]
    expected = 0.0
    for v, w in np.ndindex(k, k):
        joint = proba[0] * likelihood[v] * likelihood[w]
        _assume_no_tie(joint)
        if joint.sum() > 0:
            expected += joint.sum() * (1 - joint.max() / joint.sum())
    assert two == pytest.approx(expected, abs=1e-12)
    if q >= 1 / k:
        assert two <= after + 1e-12


@SETTINGS
@given(
    p=st.floats(0.0, 1.0),
    belief=st.floats(0.0, 1.0),
    q=st.floats(0.0, 1.0),
    d=st.floats(0.0, 1.0),
    h=st.integers(0, 4),
)
# A subnormal detection chance: scipy's binom.pmf overflowed on it.
@example(p=0.0, belief=0.0, q=0.0, d=1.1125369292536007e-308, h=2)
def test_volunteers_vote_binomially_many_times(p, belief, q, d, h):
    """After h volunteers: j votes with chance C(h, j) d^j (1 - d)^(h - j), each outcome's
    error counted under the belief: every sequence of answers and abstentions by hand."""
    proba = np.array([[p, 1 - p]])
    told = np.array([[belief, 1 - belief]])
    got = _label_errors_after_volunteers(proba, q, d, h, told)[h][0]
    likelihood = np.array([[q, 1 - q], [1 - q, q]])
    expected = 0.0
    for answers in itertools.product((None, 0, 1), repeat=h):  # None: no vote
        chance = np.prod([1 - d if a is None else d for a in answers])
        joint = proba[0].copy()
        for a in answers:
            if a is not None:
                joint = joint * likelihood[a]
        evidence = np.prod([likelihood[a] for a in answers if a is not None], axis=0)
        _assume_no_tie(joint)
        choice = int(np.argmax(joint))
        expected += chance * (told[0] * evidence)[1 - choice]
    assert got == pytest.approx(expected, abs=1e-9)


@SETTINGS
@given(belief=st.floats(0.0, 1.0), d=st.floats(0.0, 1.0), f=st.floats(0.0, 1.0),
       h=st.integers(0, 3))  # fmt: skip
def test_a_lone_volunteers_cell_is_decided_by_the_odds_of_its_clickers(belief, d, f, h):
    """Every pattern of clicks of h more volunteers by hand: kept where 1 + j clickers of
    1 + h have a real cell's odds; the error counted under the belief."""
    got = _lone_doubt_after(np.array([belief]), d, f, h)[0]
    expected = 0.0
    for clicked in itertools.product((0, 1), repeat=h):
        j = sum(clicked)
        if_real = np.prod([d if c else 1 - d for c in clicked])
        if_stray = np.prod([f if c else 1 - f for c in clicked])
        keep = _real_odds(np.array([1 + j]), np.array([1 + h]), d, f)[0] >= 0.5
        expected += (1 - belief) * if_stray if keep else belief * if_real
    assert got == pytest.approx(expected, abs=1e-9)


def test_the_next_volunteer_gets_the_best_rate_of_the_next_few(uneven):
    """A second vote on a cell of one vote is a tie either way: the image's label gain is
    the best rate per volunteer over the next 1 to HORIZON volunteers."""
    _, part, result, _ = uneven
    runs = part.attrs["runs"]
    table = image_uncertainty(result, runs=runs).set_index("image_id")
    rates = crowd_rates(result, runs)
    d, q = rates.new_detection, rates.accuracy
    cells = result.cells
    proba = np.column_stack([cells["p_alive"], 1 - cells["p_alive"]])
    error = 1 - proba.max(axis=1)
    image = cells["image_id"].astype(str).to_numpy()
    after = _label_errors_after_volunteers(proba, q, d, HORIZON)
    rate = {h: pd.Series(error - after[h]).groupby(image).sum() / h
            for h in range(1, HORIZON + 1)}  # fmt: skip
    best = pd.concat(rate, axis=1).max(axis=1)
    label_gain = (table["gain"] - table["detection_gain"]).reindex(best.index)
    assert np.allclose(label_gain, best, atol=1e-9)
    alone = table.loc[best.index, "annotators"] == 1
    assert alone.any() and (rate[2][alone] > rate[1][alone]).all()


@SETTINGS
@given(p=st.floats(0.0, 1.0), d=st.floats(0.0, 1.0), f=st.floats(0.0, 1.0))
def test_a_click_never_adds_doubt_in_expectation(p, d, f):
    before = min(p, 1 - p)
    after = _doubt_after_click(np.array([p]), d, f)[0]
    assert after <= before + 1e-12
    if np.isclose(d, f):
        assert after == pytest.approx(before, abs=1e-9)


@SETTINGS
@given(
    gains=st.lists(
        st.tuples(st.one_of(st.just(0.0), st.floats(1e-6, 5.0)), st.floats(0.0, 5.0)),
        min_size=1,
        max_size=30,
    ),
    budget=st.integers(0, 60),
    cap=st.one_of(st.none(), st.integers(1, 5)),
)
def test_the_budget_goes_to_the_largest_gains(gains, budget, cap):
    gain = np.array([g for g, _ in gains])
    errors = gain + np.array([e for _, e in gains])  # a gain never exceeds the errors
    extra = allocate_budget(gain, errors, budget, cap)
    limit = np.full(len(gain), budget if cap is None else cap)
    assert (extra >= 0).all() and (extra <= limit).all() and extra.sum() <= budget
    ratio = np.where(errors > 0, 1 - gain / np.where(errors > 0, errors, 1), 0)
    bought = [gain[i] * ratio[i] ** j for i in range(len(gain)) for j in range(extra[i])]
    left = [gain[i] * ratio[i] ** extra[i] for i in range(len(gain)) if extra[i] < limit[i]]
    left = [g for g in left if g > 0]
    if bought and left:  # greedy: nothing left over beats anything bought
        assert min(bought) >= max(left) * (1 - 1e-9)
    if left:  # the budget is spent wherever something is left to gain
        assert extra.sum() == budget
    assert np.array_equal(extra, allocate_budget(gain, errors, budget, cap))


def test_next_tasks_ranks_and_retires(uneven):
    _, part, result, _ = uneven
    plan = next_tasks(result, 25, runs=part.attrs["runs"])
    assert tuple(plan.columns) == NEXT_TASK_COLUMNS and plan["extra"].sum() == 25
    assert plan["extra"].is_monotonic_decreasing
    assert not (plan["retire"] & (plan["extra"] > 0)).any()
    assert (plan.loc[plan["retire"], "next_gain"] < 0.05).all()
    capped = next_tasks(result, 25, max_per_image=1)
    assert capped["extra"].max() == 1
    only = next_tasks(result, 25, max_per_image={plan["image_id"].iloc[-1]: 2})
    assert only["extra"].sum() <= 2 and set(only.loc[only["extra"] > 0, "image_id"]) <= {
        plan["image_id"].iloc[-1]
    }
    with pytest.raises(ValueError, match="budget"):
        next_tasks(result, -1)
    with pytest.raises(ValueError, match="max_per_image"):
        next_tasks(result, 5, max_per_image=0)
    with pytest.raises(ValueError, match="detection_weight"):
        next_tasks(result, 5, detection_weight=float("nan"))
    with pytest.raises(ValueError, match="cost must be one of"):
        next_tasks(result, 5, cost="minutes")


def test_a_run_costs_the_cells_it_looks_at(uneven):
    """One volunteer to send: per run to the largest gain, per click to the largest gain
    per cell the run looks at (plus the overhead), a smaller image in this crowd."""
    _, _, result, _ = uneven
    table = image_uncertainty(result).set_index("image_id")
    clicks = table["cells"] + table["expected_missed"] + RUN_OVERHEAD
    best_run, best_click = table["gain"].idxmax(), (table["gain"] / clicks).idxmax()
    assert table.loc[best_click, "cells"] < table.loc[best_run, "cells"]
    for cost, best in (("runs", best_run), ("clicks", best_click)):
        plan = next_tasks(result, 1, detection_weight=1.0, cost=cost)
        assert plan.loc[plan["extra"] > 0, "image_id"].tolist() == [best]


def test_the_detection_weight_moves_volunteers_toward_missed_cells(uneven):
    _, part, result, _ = uneven
    table = image_uncertainty(result).set_index("image_id")
    share = table["detection_gain"] / table["gain"].where(table["gain"] > 0)

    def detection_share(weight: float) -> float:
        plan = next_tasks(result, 40, detection_weight=weight).set_index("image_id")
        return float((plan["extra"] * share.reindex(plan.index).fillna(0)).sum() / 40)

    # 1: errors all alike, the plain gain decides (per run, or per click a run costs);
    # more weight, more detection work.
    gain, errors = table["gain"].to_numpy(), table["expected_errors"].to_numpy()
    clicks = table["cells"].to_numpy() + table["expected_missed"].to_numpy() + RUN_OVERHEAD
    for cost, per in (("runs", 1.0), ("clicks", clicks)):
        plain = next_tasks(result, 40, detection_weight=1.0, cost=cost).set_index("image_id")
        expected = allocate_budget(gain / per, errors / per, 40)
        assert (plain["extra"].reindex(table.index).to_numpy() == expected).all()
    assert detection_share(1.0) <= detection_share(4.0) <= detection_share(16.0)
    assert detection_share(1.0) < detection_share(16.0)


def test_write_pybossa_writes_the_runs_without_clicks(tmp_path):
    clicks = simulate_crowd(make_truth(4, seed=0), 2, seed=0)
    idle = pd.DataFrame({"image_id": ["syn00000"], "annotator_id": ["idle"]})
    clicks.attrs["runs"] = pd.concat([clicks.attrs["runs"], idle], ignore_index=True)
    back = read_pybossa(*write_pybossa(clicks, tmp_path / "r.json", tmp_path / "t.json"))
    assert ("syn00000", "idle") in set(back.attrs["runs"].itertuples(index=False, name=None))


def test_exports_a_project_can_load(uneven, tmp_path):
    _, part, result, _ = uneven
    plan = next_tasks(result, 10, runs=part.attrs["runs"])
    runs_path, tasks_path = write_pybossa(part, tmp_path / "runs.json", tmp_path / "tasks.json")
    updates = json.loads(write_pybossa_updates(plan, tmp_path / "u.json", tasks=tasks_path)
                         .read_text())  # fmt: skip
    tasks = {str(t["id"]): t["info"]["link"].rsplit("/", 1)[-1]
             for t in json.loads(tasks_path.read_text())}  # fmt: skip
    asked = {tasks[u["id"]]: u["n_answers"] for u in updates}
    expected = (plan["annotators"] + plan["extra"]).set_axis(plan["image_id"]).to_dict()
    assert asked == expected
    plain = json.loads(write_pybossa_updates(plan, tmp_path / "p.json").read_text())
    assert {u["id"] for u in plain} == set(plan["image_id"])
    with pytest.raises(CellConsensusInputError, match="have no task"):
        write_pybossa_updates(plan.assign(image_id="elsewhere"), tmp_path / "x.json",
                              tasks=tasks_path)  # fmt: skip
    twice = json.loads(tasks_path.read_text())
    twice.append({**twice[0], "id": 999})
    (tmp_path / "twice.json").write_text(json.dumps(twice))
    with pytest.raises(CellConsensusInputError, match="shown by tasks"):
        write_pybossa_updates(plan, tmp_path / "y.json", tasks=tmp_path / "twice.json")
    back = pd.read_csv(
        write_zooniverse_retirement(plan, tmp_path / "z.csv"), dtype={"subject_id": str}
    )
    assert list(back.columns) == ["subject_id", "retire", "extra_classifications", "expected_gain"]
    assert back["retire"].tolist() == plan["retire"].tolist()
    assert back["extra_classifications"].sum() == 10
    with pytest.raises(CellConsensusInputError, match="not a next_tasks plan"):
        write_zooniverse_retirement(pd.DataFrame({"x": [1]}), tmp_path / "bad.csv")


@pytest.mark.parametrize("policy", POLICIES)
def test_the_loop_spends_its_batches_and_ends(policy):
    truth = make_truth(12, style="brightfield", seed=1)
    rounds = simulate_allocation(truth, policy, start=1, pool=3, batch=5, seed=0)
    spent = rounds["runs"].diff().dropna()
    assert (spent <= 5).all() and (spent >= 0).all()
    assert rounds["clicks"].is_monotonic_increasing
    if policy != "agreement":  # the others reveal every queue in the end
        assert rounds["runs"].iloc[-1] == 3 * 12
    if policy == "ours":
        assert rounds["predicted_gain"].iloc[:-1].notna().all()
        with pytest.raises(ValueError, match="cost"):  # tasks= reaches next_tasks
            simulate_allocation(truth, policy, pool=3, batch=5, tasks={"cost": "minutes"})
    again = simulate_allocation(truth, policy, start=1, pool=3, batch=5, seed=0)
    pd.testing.assert_frame_equal(rounds, again)
    with pytest.raises(ValueError, match="policy"):
        simulate_allocation(truth, "random")


def test_the_oracle_sends_one_volunteer_to_each_image_in_error_where_one_is_left():
    from cellconsensus.allocate.simulate import _in_error
    from cellconsensus.report.rankings import errors_per_image

    truth = make_truth(30, style="brightfield", seed=2)
    result = find_consensus(simulate_crowd(truth, 2, seed=0, label_noise=0.3))
    errors = errors_per_image(result.cells, truth).set_index("image_id")["errors"]
    images = pd.Index(sorted(truth["image_id"].unique()))
    errors = errors.reindex(images, fill_value=0)
    assert (errors > 0).sum() >= 4
    room = pd.Series(1, index=images)
    full = errors[errors > 0].index[0]
    room[full] = 0
    extra = _in_error(result, truth, room, batch=3)
    assert extra.sum() == 3 and set(extra.unique()) <= {0, 1}
    chosen = extra.index[extra > 0]
    assert (errors[chosen] > 0).all() and full not in chosen
    # Most errors first: nothing left out holds more errors than what was chosen.
    left = errors.drop(chosen.union([full]))
    assert left.max() <= errors[chosen].min()
    assert _in_error(result, truth, room, batch=100).sum() == (errors > 0).sum() - 1


def test_the_command_line_writes_the_plan_and_the_updates(tmp_path, capsys):
    truth = make_truth(10, seed=0)
    clicks = simulate_crowd(truth, 2, seed=0)
    runs_path, tasks_path = write_pybossa(clicks, tmp_path / "runs.json", tmp_path / "tasks.json")
    code = main(["allocate", str(runs_path), "--tasks", str(tasks_path), "--budget", "6",
                 "-o", str(tmp_path / "plan.csv"), "--pybossa-updates", str(tmp_path / "u.json"),
                 "--zooniverse", str(tmp_path / "z.csv")])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "6 runs to" in out and "expected errors" in out
    plan = pd.read_csv(tmp_path / "plan.csv")
    assert plan["extra"].sum() == 6 and (tmp_path / "u.json").exists()
    # --cost reaches next_tasks: per click, the plan of the API's per-click ranking.
    main(["allocate", str(runs_path), "--budget", "6", "--cost", "clicks",
          "-o", str(tmp_path / "per_click.csv")])  # fmt: skip
    crowd = read_pybossa(runs_path)
    api = next_tasks(find_consensus(crowd), 6, runs=crowd.attrs["runs"], cost="clicks")
    per_click = pd.read_csv(tmp_path / "per_click.csv", dtype={"image_id": str})
    assert (
        per_click.set_index("image_id")["extra"].to_dict()
        == api.set_index("image_id")["extra"].to_dict()
    )
    with pytest.raises(SystemExit) as bad:
        main(["allocate", str(runs_path), "--budget", "-3"])
    assert bad.value.code == 2 and "0 or more" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad:  # next_tasks needs a cap of one or more
        main(["allocate", str(runs_path), "--budget", "3", "--max-per-image", "0"])
    assert bad.value.code == 2 and "1 or more" in capsys.readouterr().err


def test_a_volunteer_seen_on_few_cells_is_not_taken_at_their_word():
    from cellconsensus.allocate.rates import PRIOR_CELLS

    truth = make_truth(20, style="brightfield", seed=4)
    clicks = simulate_crowd(truth, 3, seed=0)
    image = clicks["image_id"].iloc[0]
    first = clicks.loc[clicks["image_id"] == image, "annotator_id"].iloc[0]
    # One volunteer, seen on a single image, clicks none of its cells.
    lazy = clicks[~((clicks["image_id"] == image) & (clicks["annotator_id"] == first))]
    lazy = lazy.reset_index(drop=True)
    runs = clicks.attrs["runs"].copy()
    runs.loc[(runs["image_id"] == image) & (runs["annotator_id"] == first), "annotator_id"] = "lazy"
    result = find_consensus(lazy)
    rates = crowd_rates(result, runs)
    n = int((result.cells["image_id"] == image).sum())
    assert n >= 2
    median = float(rates.detection.drop("lazy").median())
    expected = PRIOR_CELLS * rates.new_detection / (n + PRIOR_CELLS)
    assert rates.detection["lazy"] == pytest.approx(expected)
    assert rates.detection["lazy"] > 0.3 and median > 0.8
