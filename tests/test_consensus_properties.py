"""Hypothesis property tests of the consensus engine and every strategy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cellconsensus import find_consensus

PARTITIONING = ["dbscan", "hdbscan", "radius", "kmeans", "agglomerative"]
SCALE_BASED = ["dbscan", "radius", "agglomerative"]
#: The engine's properties at a known scale ("auto" has its own tests, test_strategies.py).
FIXED_SCALE = {"dbscan": {"eps": 10.0}}
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])

quarter = st.integers(0, 800).map(lambda v: v / 4)  # exact in binary floating point
label = st.sampled_from(["alive", "dead", "unsure"])


@st.composite
def random_clicks(draw, max_clicks=40):
    n = draw(st.integers(1, max_clicks))
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["img-a", "img-b"]),
                st.sampled_from(["u0", "u1", "u2", "u3"]),
                quarter,
                quarter,
                label,
            ),
            min_size=n,
            max_size=n,
        )
    )
    return pd.DataFrame(rows, columns=["image_id", "annotator_id", "x", "y", "label"])


@st.composite
def structured_crowd(draw):
    """Well separated cells (60 px grid), each clicked near its centre by several annotators."""
    n_cells = draw(st.integers(1, 6))
    n_ann = draw(st.integers(2, 5))
    rows = []
    for c in range(n_cells):
        cx, cy = 30 + 60 * (c % 3), 30 + 60 * (c // 3)
        truth = draw(st.sampled_from(["alive", "dead"]))
        for a in range(n_ann):
            if draw(st.booleans()) or a < 2:
                dx, dy = draw(st.integers(-8, 8)) / 4, draw(st.integers(-8, 8)) / 4
                rows.append(("img", f"u{a}", cx + dx, cy + dy, truth))
    return pd.DataFrame(rows, columns=["image_id", "annotator_id", "x", "y", "label"])


def _cells(result) -> pd.DataFrame:
    return result.cells.sort_values(["image_id", "cell_id"]).reset_index(drop=True)


def _assigned(result, clicks) -> list:
    """Click content -> (image, cell_id), order-free."""
    a = result.assignments
    return sorted(
        zip(
            a["image_id"],
            a["annotator_id"],
            a["x"],
            a["y"],
            a["label"].astype(str),
            a["cell_id"],
            strict=True,
        )
    )


@pytest.mark.parametrize("strategy", PARTITIONING)
@SETTINGS
@given(clicks=random_clicks(), seed=st.integers(0, 2**16))
@example(  # a double click with two labels on one spot: which click stayed followed the rows
    clicks=pd.DataFrame(
        {"image_id": ["img-a"] * 2, "annotator_id": ["u0"] * 2, "x": [0.0, 0.0],
         "y": [0.0, 0.0], "label": ["alive", "dead"]}
    ),
    seed=0,
)  # fmt: skip
def test_invariant_to_click_order(strategy, clicks, seed):
    shuffled = clicks.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    a, b = find_consensus(clicks, strategy), find_consensus(shuffled, strategy)
    pd.testing.assert_frame_equal(_cells(a), _cells(b))
    assert _assigned(a, clicks) == _assigned(b, shuffled)


@pytest.mark.parametrize("labels", ["mean", "majority", "dawid-skene"])
@SETTINGS
@given(clicks=random_clicks(), perm=st.permutations(["u0", "u1", "u2", "u3"]))
def test_invariant_to_annotator_names(labels, clicks, perm):
    renamed = clicks.assign(
        annotator_id=clicks["annotator_id"].map(
            dict(zip(["u0", "u1", "u2", "u3"], perm, strict=True))
        )
    )
    a, b = find_consensus(clicks, "dbscan", labels), find_consensus(renamed, "dbscan", labels)
    pd.testing.assert_frame_equal(_cells(a), _cells(b), atol=1e-9)


@pytest.mark.parametrize("strategy", PARTITIONING)
@SETTINGS
@given(clicks=random_clicks(), dx=st.integers(-300, 300), dy=st.integers(-300, 300))
def test_translation_invariance(strategy, clicks, dx, dy):
    moved = clicks.assign(x=clicks["x"] + dx, y=clicks["y"] + dy)
    a, b = _cells(find_consensus(clicks, strategy)), _cells(find_consensus(moved, strategy))
    assert len(a) == len(b)
    np.testing.assert_allclose(b["x"] - dx, a["x"], atol=1e-9)
    np.testing.assert_allclose(b["y"] - dy, a["y"], atol=1e-9)
    pd.testing.assert_frame_equal(a.drop(columns=["x", "y"]), b.drop(columns=["x", "y"]))


@pytest.mark.parametrize("strategy", PARTITIONING)
@SETTINGS
@given(clicks=random_clicks())
def test_one_annotator_never_counted_twice(strategy, clicks):
    result = find_consensus(clicks, strategy)
    in_cells = result.assignments[result.assignments["cell_id"] >= 0]
    assert not in_cells.duplicated(["image_id", "cell_id", "annotator_id"]).any()
    counts = in_cells.groupby(["image_id", "cell_id"]).size()
    cells = result.cells.set_index(["image_id", "cell_id"])
    assert (cells.loc[counts.index, "n_annotators"].to_numpy() == counts.to_numpy()).all()
    # Every click is accounted for exactly once.
    assert len(result.assignments) == len(clicks)
    assert result.report.n_noise + result.report.n_duplicate + result.report.n_filtered + len(
        in_cells
    ) == len(clicks)


@pytest.mark.parametrize("strategy", [*PARTITIONING, "radius-thesis"])
@pytest.mark.parametrize("labels", ["mean", "majority", "dawid-skene"])
@settings(max_examples=15, deadline=None)
@given(clicks=random_clicks())
def test_outputs_in_range(strategy, labels, clicks):
    cells = find_consensus(clicks, strategy, labels).cells
    assert cells["p_alive"].between(0, 1).all()
    assert cells["support"].between(0, 1).all()
    assert (cells["spread"] >= 0).all()
    assert not cells.duplicated(["image_id", "cell_id"]).any()
    if strategy != "radius-thesis":
        expected = np.where(
            cells["p_alive"] > 0.5, "alive", np.where(cells["p_alive"] < 0.5, "dead", "unsure")
        )
        assert (cells["label"].astype(str).to_numpy() == expected).all()


@pytest.mark.parametrize("strategy", ["dbscan", "radius", "agglomerative", "hdbscan", "kmeans"])
@pytest.mark.parametrize("labels", ["mean", "majority", "dawid-skene"])
@SETTINGS
@given(crowd=structured_crowd(), verdict=st.sampled_from(["alive", "dead"]))
def test_unanimity(strategy, labels, crowd, verdict):
    crowd = crowd.assign(label=verdict)
    cells = find_consensus(crowd, strategy, labels, params=FIXED_SCALE.get(strategy)).cells
    if strategy in SCALE_BASED:  # hdbscan and kmeans may merge or split tiny crowds
        assert len(cells) == len(
            {(x // 60, y // 60) for x, y in zip(crowd.x, crowd.y, strict=True)}
        )
    assert (cells["label"] == verdict).all()
    target = 1.0 if verdict == "alive" else 0.0
    np.testing.assert_allclose(
        cells["p_alive"], target, atol=1e-6 if labels == "dawid-skene" else 0
    )


@pytest.mark.parametrize("strategy", SCALE_BASED)
@SETTINGS
@given(crowd=structured_crowd())
def test_agreeing_annotator_never_lowers_support(strategy, crowd):
    params = FIXED_SCALE.get(strategy)
    before = _cells(find_consensus(crowd, strategy, params=params))
    extra = before[["image_id", "x", "y", "label"]].assign(annotator_id="newcomer")
    extra["label"] = extra["label"].astype(str).replace("unsure", "alive")
    after = _cells(
        find_consensus(pd.concat([crowd, extra], ignore_index=True), strategy, params=params)
    )
    assert len(after) == len(before)
    for _, cell in before.iterrows():
        d = np.hypot(after["x"] - cell["x"], after["y"] - cell["y"])
        match = after.iloc[int(np.argmin(d))]
        assert match["support"] >= cell["support"] - 1e-12
        assert match["n_annotators"] == cell["n_annotators"] + 1


def test_results_identical_for_any_n_jobs():
    from cellconsensus import make_truth, simulate_crowd

    clicks = simulate_crowd(
        make_truth(60, seed=3), 5, seed=3, spammer_fraction=0.1, double_click_rate=0.1
    )
    for strategy in ("dbscan", "radius", "agglomerative"):
        one = find_consensus(clicks, strategy, "dawid-skene", n_jobs=1)
        two = find_consensus(clicks, strategy, "dawid-skene", n_jobs=2)
        pd.testing.assert_frame_equal(one.cells, two.cells)
        pd.testing.assert_frame_equal(one.assignments, two.assignments)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.sampled_from([0.0, 1e-12, 0.5, 3.0, 1e6]),
            st.integers(0, 3),
            st.integers(0, 5),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_canonical_order_equals_lexsort(rows):
    from cellconsensus._one_vote import canonical_order

    img, x, y, tie = (np.array(c) for c in zip(*rows, strict=True))
    X = np.stack([x.astype(float), y.astype(float)], axis=1)
    expected = np.lexsort((tie, X[:, 1], X[:, 0], img))
    got = canonical_order(img, X, tie)
    # Equal up to rows that are identical in every key.
    keys = np.stack([img, X[:, 0], X[:, 1], tie], axis=1)
    np.testing.assert_array_equal(keys[got], keys[expected])
    assert sorted(got.tolist()) == list(range(len(rows)))


@SETTINGS
@given(
    points=st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.sampled_from(["u0", "u1", "u2", "u3"]),
            st.floats(0, 200, allow_nan=False),
            st.floats(0, 200, allow_nan=False),
            label,
        ),
        min_size=1,
        max_size=40,
    ),
    seed=st.integers(0, 2**16),
)
@example(  # lone clicks once numbered in row order: p_real differed in its last bits
    points=[("a", "u0", 0.0, 5.0, "alive")]
    + [("a", "u0", 0.0, 0.0, "alive")] * 12
    + [("a", "u1", 0.0, 0.0, "alive"), ("a", "u1", 0.0, 10.0, "alive")],
    seed=0,
)
@example(  # votes once fitted in row order: p_alive differed in its last bits
    points=[
        ('a', 'u0', 0.0, 0.0, 'alive'),
        ('a', 'u0', 0.0, 0.0, 'alive'),
        ('a', 'u0', 0.0, 0.0, 'alive'),
        ('a', 'u0', 0.0, 0.0, 'alive'),
        ('a', 'u0', 0.0, 20.391282798367, 'alive'),
        ('a', 'u0', 0.0, 39.09004735186913, 'alive'),
        ('a', 'u0', 0.0, 116.64890582562244, 'alive'),
        ('a', 'u0', 0.0, 124.98790995444796, 'alive'),
        ('a', 'u0', 0.0, 166.80660056279186, 'alive'),
        ('a', 'u0', 0.0, 179.21727672622416, 'alive'),
        ('a', 'u0', 0.0, 186.2157701441213, 'alive'),
        ('a', 'u0', 0.0, 195.50689750890967, 'alive'),
        ('a', 'u0', 9.446711468836714, 0.0, 'alive'),
        ('a', 'u0', 19.48065624057503, 0.0, 'alive'),
        ('a', 'u0', 21.004156240483024, 54.870926093996545, 'alive'),
        ('a', 'u0', 27.408718608744614, 44.0, 'dead'),
        ('a', 'u0', 33.0, 0.0, 'alive'),
        ('a', 'u0', 26.0, 0.0, 'alive'),
        ('a', 'u0', 1.0, 0.0, 'alive'),
        ('a', 'u2', 21.0, 46.0, 'alive'),
        ('a', 'u1', 0.0, 0.0, 'alive'),
        ('a', 'u2', 0.0, 0.0, 'alive'),
        ('a', 'u2', 36.0, 0.0, 'alive'),
    ],
    seed=0,
)  # fmt: skip
@example(  # cluster centres once summed in row order: y differed by 1.4e-14
    points=[
        ('a', 'u0', 64.34107637245435, 19.65357228793599, 'alive'),
        ('a', 'u0', 132.69223707416143, 9.754624654231185, 'alive'),
        ('a', 'u0', 27.700639702627246, 1.175494351e-38, 'alive'),
        ('a', 'u0', 95.47768476128901, 75.30185417254376, 'alive'),
        ('a', 'u0', 144.4121915089424, 110.04894757764163, 'alive'),
        ('a', 'u0', 0.3333333333333333, 40.6055957141752, 'alive'),
        ('a', 'u0', 135.98244664865373, 1.401298464324817e-45, 'alive'),
        ('a', 'u0', 189.10405425147582, 2.2250738585072014e-308, 'alive'),
        ('a', 'u0', 111.10223569885778, 171.5930124443775, 'alive'),
        ('a', 'u0', 60.91749591196157, 160.68468970099167, 'alive'),
        ('a', 'u0', 111.73808970719048, 0.0, 'alive'),
        ('a', 'u0', 2.858984993467307, 1.6557452570799132e-117, 'alive'),
        ('a', 'u0', 45.77195178612309, 195.4101948257534, 'alive'),
        ('a', 'u0', 132.60193814476946, 160.72366894469164, 'alive'),
        ('a', 'u0', 161.8340546461789, 172.4750220519448, 'alive'),
        ('a', 'u0', 3.062460876088747, 74.825699889987, 'alive'),
        ('a', 'u0', 0.114, 110.78365817039327, 'alive'),
        ('a', 'u0', 105.09565533408572, 63.07005487520506, 'alive'),
        ('a', 'u0', 1.9, 2.7625303267121657, 'alive'),
        ('a', 'u0', 107.75773069805415, 147.58123398135228, 'alive'),
        ('a', 'u0', 11.082556632996402, 151.74601370644103, 'alive'),
        ('a', 'u0', 0.0, 0.0, 'alive'),
        ('a', 'u0', 0.0, 0.0, 'alive'),
        ('a', 'u0', 0.0, 0.0, 'alive'),
        ('a', 'u0', 0.0, 0.0, 'alive'),
        ('a', 'u0', 0.0, 0.0, 'alive'),
        ('a', 'u0', 112.2380930596057, 73.85179955547582, 'alive'),
        ('a', 'u0', 0.0, 199.0, 'alive'),
        ('a', 'u3', 111.12894087005019, 0.0, 'alive'),
        ('a', 'u0', 0.0, 0.0, 'alive'),
        ('a', 'u0', 0.0, 0.0, 'alive'),
        ('a', 'u2', 45.95381879375699, 180.20695982865527, 'alive'),
        ('a', 'u0', 0.0, 0.0, 'alive'),
        ('a', 'u1', 0.0, 53.44208065973307, 'dead'),
    ],
    seed=34426,
)  # fmt: skip
def test_positions_bit_identical_under_row_shuffles(points, seed):
    """Sums run in the canonical order (image, x, y, annotator, label): any float positions,
    in any row order, give the very same bits (not merely close values), posteriors too."""
    clicks = pd.DataFrame(points, columns=["image_id", "annotator_id", "x", "y", "label"])
    shuffled = clicks.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    a, b = find_consensus(clicks), find_consensus(shuffled)
    pd.testing.assert_frame_equal(_cells(a), _cells(b), check_exact=True)


@pytest.mark.parametrize("strategy", PARTITIONING)
@SETTINGS
@given(clicks=random_clicks(), which=st.lists(st.integers(0, 39), max_size=5))
def test_an_exact_double_click_changes_no_cell(strategy, clicks, which):
    """A click repeated by its annotator (same spot, same answer) is a double click: taken out
    before clustering, so the cells are those without it."""
    repeated = clicks.iloc[[i % len(clicks) for i in which]]
    doubled = pd.concat([clicks, repeated], ignore_index=True)
    a, b = find_consensus(clicks, strategy), find_consensus(doubled, strategy)
    pd.testing.assert_frame_equal(_cells(a), _cells(b))
    assert b.report.n_duplicate >= a.report.n_duplicate + len(repeated)


def test_double_clicks_make_no_phantom_cells():
    """Two annotators double-clicking the same cells once made a second cell 0.5 px beside
    each; identical clicks of two annotators made one cell per pair of clicks."""
    rows = []
    for i in range(20):
        x = 30.0 * i + 1
        rows += [("a", who, x, 10.0, "alive") for who in ("u", "v", "w")]
        rows += [("a", "u", x + 0.5, 10.0, "alive"), ("a", "v", x + 0.4, 10.2, "alive")]
        rows += [("b", "solo", x, 10.0, "dead"), ("b", "solo", x + 1.0, 11.0, "dead")]
    clicks = pd.DataFrame(rows, columns=["image_id", "annotator_id", "x", "y", "label"])
    for strategy in ("dbscan", "hdbscan", "agglomerative"):
        cells = find_consensus(clicks, strategy).cells
        assert cells.groupby("image_id").size().to_dict() == {"a": 20, "b": 20}, strategy
    pile = pd.DataFrame({"image_id": "a", "annotator_id": ["u"] * 200 + ["v"] * 200,
                         "x": 5.0, "y": 5.0, "label": "alive"})  # fmt: skip
    result = find_consensus(pile)
    assert len(result.cells) == 1 and result.report.n_duplicate == 398
