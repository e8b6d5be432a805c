"""Fuzzing: every reader, consensus on degenerate tables, patches on bad cells.

The invariant of every case: a result, or ``CellConsensusInputError`` naming its
source; never another exception, never memory beyond a fixed budget. The number of
examples is kept small for ``make test``; ``CELLCONSENSUS_FUZZ_EXAMPLES`` raises it
(the reliability benchmark runs thousands).
"""

from __future__ import annotations

import json
import os
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cellconsensus import CellConsensusInputError, find_consensus
from cellconsensus.io import read_cellspotting_csv, read_clicks, read_pybossa
from cellconsensus.patches import crop, extract_patches
from cellconsensus.synthetic import make_images

EXAMPLES = int(os.environ.get("CELLCONSENSUS_FUZZ_EXAMPLES", "40"))
#: Peak Python allocations one case may make (tracemalloc).
MEMORY_BUDGET = 64 * 2**20

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Values an export may hold where a number, a label or a list is expected.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
clicks = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["alive", "dead", "not_sure_alive"]), scalars, scalars).map(list),
        st.lists(scalars, max_size=4),
        scalars,
    ),
    max_size=6,
)
answers = st.one_of(clicks, scalars, st.dictionaries(st.text(max_size=3), scalars, max_size=2))


def _within_budget(fn) -> None:
    """Run ``fn``: it returns or raises CellConsensusInputError, within the memory budget."""
    tracemalloc.start()
    try:
        fn()
    except CellConsensusInputError as exc:
        assert str(exc)  # a message, naming what was wrong
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MEMORY_BUDGET, f"{peak / 2**20:.0f} MiB"


@FUZZ
@given(
    runs=st.lists(
        st.fixed_dictionaries(
            {"id": scalars, "task_id": scalars, "user_id": scalars},
            optional={"info": st.fixed_dictionaries({}, optional={"alive_array": answers})},
        ),
        max_size=5,
    )
)
def test_pybossa_json_fuzz(tmp_path_factory, runs):
    path = tmp_path_factory.mktemp("fuzz") / "runs.json"
    path.write_text(json.dumps(runs, default=str, allow_nan=True))
    _within_budget(lambda: read_pybossa(path))


@FUZZ
@given(text=st.text(max_size=300), raw=st.binary(max_size=200))
def test_any_bytes_as_an_export(tmp_path_factory, text, raw):
    folder = tmp_path_factory.mktemp("fuzz")
    for name, content in (("a.json", text), ("a.csv", text), ("b.csv", raw), ("b.json", raw)):
        path = folder / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        reader = read_pybossa if name.endswith(".json") else read_cellspotting_csv
        _within_budget(lambda p=path, r=reader: r(p))
    _within_budget(lambda: read_pybossa(folder))  # a folder given as a file
    _within_budget(lambda: read_clicks(folder / "a.csv"))


@FUZZ
@given(
    rows=st.lists(
        st.tuples(answers, st.sampled_from(["http://h/img/input/a", "http://h/img/input/b", ""])),
        max_size=5,
    )
)
def test_cellspotting_csv_fuzz(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("fuzz") / "runs.csv"
    table = pd.DataFrame(
        {"alive_array": [json.dumps(a, default=str) for a, _ in rows], "task": [t for _, t in rows]}
    )
    table.to_csv(path, index=False)
    _within_budget(lambda: read_cellspotting_csv(path))


coordinates = st.one_of(
    st.floats(-50, 600),
    st.sampled_from([0.0, 1e300, -1e300, np.nan, np.inf, 1e7, 1e8]),
)


@FUZZ
@given(
    points=st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.sampled_from(["u", "v", "w"]),
            coordinates,
            coordinates,
            st.sampled_from(["alive", "dead", "unsure", "zombie"]),
        ),
        max_size=30,
    ),
    strategy=st.sampled_from(["dbscan", "hdbscan", "kmeans", "agglomerative", "radius-thesis"]),
    auto=st.booleans(),
)
def test_consensus_on_degenerate_tables(points, strategy, auto):
    table = pd.DataFrame(points, columns=["image_id", "annotator_id", "x", "y", "label"])
    params = {"eps": "auto"} if auto and strategy == "dbscan" else None

    def run():
        result = find_consensus(table, strategy, params=params)
        assert result.cells["x"].notna().all()

    _within_budget(run)


@FUZZ
@given(
    x=st.lists(coordinates, min_size=1, max_size=5),
    size=st.integers(1, 64),
    border=st.sampled_from(["reflect", "constant", "shift", "drop"]),
)
def test_patches_on_bad_cells(x, size, border):
    image = np.arange(40 * 30, dtype=np.uint32).reshape(40, 30, 1).astype(np.uint8)
    _within_budget(lambda: crop(image, x, list(reversed(x)), size, border))


@pytest.mark.parametrize("bad", [np.nan, 1e300, -40_000.0])
def test_extract_patches_on_bad_cell_tables(bad):
    data = make_images(2, style="brightfield", seed=2)
    cells = data.truth.copy()
    cells.loc[cells.index[0], "x"] = bad
    _within_budget(lambda: extract_patches(cells, data.images, 32))


@pytest.mark.parametrize(
    "strategy", ["dbscan", "hdbscan", "kmeans", "agglomerative", "radius-thesis"]
)
def test_astronomical_coordinates_are_named_not_overflowed(strategy):
    """+-1e300 once overflowed scipy, raised IndexError or KeyError, or gave 0 cells."""
    table = pd.DataFrame(
        {
            "image_id": ["a"] * 6,
            "annotator_id": ["u", "v", "w"] * 2,
            "x": [1e300, -1e300, 1e300, 5, 6, 7],
            "y": [1e300, 3, -1e300, 5, 6, 7],
            "label": ["alive"] * 6,
        }
    )
    with pytest.raises(CellConsensusInputError, match=r"row 1, field 'x': coordinate 1e\+300"):
        find_consensus(table, strategy)


def test_a_pile_of_clicks_fails_fast_not_out_of_memory(monkeypatch):
    """Clicks piled on one spot make n^2 / 2 neighbour pairs: refused before they are made."""
    from cellconsensus.strategies import _geometry

    monkeypatch.setattr(_geometry, "MAX_PAIRS", 10_000)
    pile = pd.DataFrame(
        {
            "image_id": "a",
            "annotator_id": [f"u{i % 50}" for i in range(400)],
            "x": 100.0 + (np.arange(400) % 7) * 0.1,
            "y": 100.0,
            "label": "alive",
        }
    )
    with pytest.raises(CellConsensusInputError, match="79,800 pairs of clicks lie within"):
        find_consensus(pile, "dbscan", params={"eps": 10.0}, support_rule="threshold")
    spread = pile.assign(x=np.arange(400) * 30.0)  # the same clicks far apart: fine
    assert find_consensus(spread, "dbscan", params={"eps": 10.0}).report.n_noise == 400


def test_agglomerative_states_its_limit(monkeypatch):
    from cellconsensus.strategies import AgglomerativeStrategy

    monkeypatch.setattr(AgglomerativeStrategy, "max_points_per_image", 100)
    table = pd.DataFrame(
        {"image_id": "a", "annotator_id": [f"u{i}" for i in range(101)],
         "x": np.arange(101) * 50.0, "y": 5.0, "label": "alive"}
    )  # fmt: skip
    with pytest.raises(CellConsensusInputError, match="an image with 101 clicks.*at most 100"):
        find_consensus(table, "agglomerative")
