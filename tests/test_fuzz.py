"""Fuzzing: every reader, consensus on degenerate tables, patches on bad cells, predict on
bad points.

The invariant of every case: a valid result (under a documented policy that counts what
it dropped or moved, where one applies), or ``CellConsensusInputError`` with a message;
never another exception, never memory beyond a fixed budget. The number of examples is
kept small for ``make test``; ``CELLCONSENSUS_FUZZ_EXAMPLES`` raises it (the reliability
benchmark, ``benchmarks/reliability.py``, runs thousands and counts the outcomes).
"""

from __future__ import annotations

import json
import os
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from _tally import record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cellconsensus import CellConsensusInputError, find_consensus
from cellconsensus.io import (
    read_cellspotting_csv,
    read_clicks,
    read_pybossa,
    read_voc,
    read_zooniverse,
)
from cellconsensus.patches import crop, extract_patches
from cellconsensus.synthetic import make_images
from cellconsensus.tables import validate_clicks, validate_truth

EXAMPLES = int(os.environ.get("CELLCONSENSUS_FUZZ_EXAMPLES", "40"))
#: Peak Python allocations one case may make (tracemalloc).
MEMORY_BUDGET = 64 * 2**20

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
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


def _within_budget(area: str, fn) -> None:
    """Run ``fn``: it returns (how many items a documented policy dropped or moved) or raises
    CellConsensusInputError with a message, within the memory budget; the outcome is
    recorded for the reliability benchmark."""
    tracemalloc.start()
    try:
        outcome = "policy" if fn() else "result"
    except CellConsensusInputError as exc:
        assert str(exc)  # a message, naming what was wrong
        outcome = "error"
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MEMORY_BUDGET, f"{peak / 2**20:.0f} MiB"
    record(area, outcome)


def _read(reader, *args) -> int:
    """Read an export: a valid Clicks table; the runs, marks and clicks its policies dropped."""
    clicks = reader(*args)
    validate_clicks(clicks.drop(columns=["run_id"], errors="ignore"))
    report = clicks.attrs["report"]
    return (
        report.n_duplicate_runs
        + report.n_dropped_out_of_canvas
        + report.n_clipped
        + report.n_dropped_marks
    )


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
    _within_budget("PyBossa JSON", lambda: _read(read_pybossa, path))


@FUZZ
@given(text=st.text(max_size=300), raw=st.binary(max_size=200))
def test_any_bytes_as_an_export(tmp_path_factory, text, raw):
    folder = tmp_path_factory.mktemp("fuzz")
    for name, content in (("a.json", text), ("a.csv", text), ("b.csv", raw), ("b.json", raw)):
        path = folder / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        reader = read_pybossa if name.endswith(".json") else read_cellspotting_csv
        _within_budget("any bytes as an export", lambda p=path, r=reader: _read(r, p))
    # a folder given as a file
    _within_budget("any bytes as an export", lambda: _read(read_pybossa, folder))
    _within_budget("any bytes as an export", lambda: _read(read_clicks, folder / "a.csv"))


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
    _within_budget("Cell Spotting CSV", lambda: _read(read_cellspotting_csv, path))


marks = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"x": scalars, "y": scalars},
            optional={
                "tool": scalars,
                "tool_label": st.sampled_from(["Alive", "Dead", "x"]),
                "frame": scalars,
            },
        ),  # fmt: skip
        scalars,
    ),
    max_size=4,
)


@FUZZ
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(marks, scalars, st.text(max_size=10)),  # a task's value
            st.one_of(st.sampled_from(["1.2", "3"]), st.text(max_size=4)),  # workflow_version
            st.one_of(st.just('{"42": {"Filename": "a.png"}}'), st.text(max_size=8)),
        ),
        max_size=4,
    ),
)
def test_zooniverse_fuzz(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("fuzz") / "classifications.csv"
    table = pd.DataFrame(
        {
            "classification_id": range(len(rows)),
            "user_name": "v",
            "workflow_id": 7,
            "workflow_version": [v for _, v, _ in rows],
            "annotations": [
                json.dumps([{"task": "T0", "value": m}], default=str) for m, _, _ in rows
            ],  # fmt: skip
            "subject_data": [d for *_, d in rows],
            "subject_ids": 42,
        }
    )
    table.to_csv(path, index=False)
    _within_budget("Zooniverse CSV", lambda: _read(read_zooniverse, path))


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
        assert result.cells["x"].notna().all() and len(result.assignments) == len(table)

    _within_budget("consensus on degenerate tables", run)


@FUZZ
@given(
    x=st.lists(coordinates, min_size=1, max_size=5),
    size=st.integers(1, 64),
    border=st.sampled_from(["reflect", "constant", "shift", "drop"]),
)
def test_patches_on_bad_cells(x, size, border):
    image = np.arange(40 * 30, dtype=np.uint32).reshape(40, 30, 1).astype(np.uint8)

    def run():
        pixels, keep, _, _ = crop(image, x, list(reversed(x)), size, border)
        assert pixels.shape == (keep.sum(), size, size, 1)
        return (~keep).sum()  # dropped: under "drop", or too far outside the image

    _within_budget("crop at bad positions", run)


images = st.one_of(
    st.just("brightfield"),
    st.tuples(st.integers(0, 40), st.integers(0, 40), st.sampled_from([None, 1, 2, 3, 4])),
    st.binary(max_size=64),  # a corrupt image file
)


@FUZZ
@given(
    positions=st.lists(st.tuples(coordinates, coordinates), min_size=1, max_size=4),
    image=images,
    size=st.integers(1, 48),
    border=st.sampled_from(["reflect", "constant", "shift", "drop"]),
    on_error=st.sampled_from(["raise", "skip"]),
)
def test_patches_of_bad_cells_and_bad_images(tmp_path_factory, positions, image, size, border,
                                             on_error):  # fmt: skip
    if image == "brightfield":
        source = make_images(1, style="brightfield", seed=2).images
    elif isinstance(image, bytes):
        folder = tmp_path_factory.mktemp("fuzz")
        (folder / "img0000.png").write_bytes(image)
        source = folder
    else:
        height, width, channels = image
        shape = (height, width) if channels is None else (height, width, channels)
        source = {"img0000": np.full(shape, 128, np.uint8)}
    cells = pd.DataFrame(
        {"image_id": "img0000", "x": [x for x, _ in positions], "y": [y for _, y in positions]}
    )

    def run():
        patches = extract_patches(cells, source, size, border=border, on_error=on_error)
        assert patches.pixels.shape[:3] == (len(patches.cells), size, size)
        report = patches.report
        return report.n_cells - report.n_patches  # dropped, each counted by its reason

    _within_budget("patches of bad cells and images", run)


@pytest.fixture(scope="module")
def model(tiny_run):
    return tiny_run


points = st.one_of(
    st.lists(st.lists(coordinates, max_size=3), max_size=4),
    st.lists(coordinates, max_size=4),
    st.builds(
        pd.DataFrame,
        st.fixed_dictionaries(
            {},
            optional={
                "x": st.lists(coordinates, min_size=2, max_size=2),
                "y": st.lists(coordinates, min_size=2, max_size=2),
            },
        ),
    ),  # fmt: skip
    scalars,
)


@FUZZ
@given(where=points)
def test_predict_on_bad_points(model, separable, where):
    from cellcnn.predict import predict

    image = separable[2]["im000"]

    def run():
        table = predict(model, image, where)
        assert len(table) == len(np.atleast_2d(np.asarray(where, dtype=float))) or len(table) == 0
        assert table["p_alive"].between(0, 1).all() or table["p_alive"].isna().any()
        return table["outside"].sum()  # flagged: off the image

    _within_budget("predict on bad points", run)


voc_values = st.one_of(st.integers(-5, 400).map(str), st.sampled_from(["", "x", "1e9", "nan"]))


@FUZZ
@given(
    size=st.one_of(st.none(), st.tuples(voc_values, voc_values)),
    boxes=st.lists(
        st.tuples(st.sampled_from(["alive", "dead", "cat", ""]), *[voc_values] * 4), max_size=3
    ),  # fmt: skip
    garbage=st.one_of(st.none(), st.text(max_size=40)),
)
def test_voc_fuzz(tmp_path_factory, size, boxes, garbage):
    folder = tmp_path_factory.mktemp("fuzz")
    if garbage is not None:
        text = garbage
    else:
        size_xml = "" if size is None else (
            f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>"
        )  # fmt: skip
        objects = "".join(
            f"<object><name>{name}</name><bndbox><xmin>{a}</xmin><ymin>{b}</ymin>"
            f"<xmax>{c}</xmax><ymax>{d}</ymax></bndbox></object>"
            for name, a, b, c, d in boxes
        )
        text = f"<annotation><filename>a.png</filename>{size_xml}{objects}</annotation>"
    (folder / "a.xml").write_text(text)

    def run():
        truth = read_voc(folder)
        validate_truth(truth)
        return 0

    _within_budget("Pascal VOC truth", run)


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
    """Clicks piled on one spot make n^2 / 2 neighbour pairs: refused before they are made.
    (400 annotators: one annotator's clicks on one spot would be double clicks.)"""
    from cellconsensus.strategies import _geometry

    monkeypatch.setattr(_geometry, "MAX_PAIRS", 10_000)
    pile = pd.DataFrame(
        {
            "image_id": "a",
            "annotator_id": [f"u{i}" for i in range(400)],
            "x": 100.0 + (np.arange(400) % 7) * 0.1,
            "y": 100.0,
            "label": "alive",
        }
    )
    with pytest.raises(CellConsensusInputError, match="79,800 pairs of clicks lie within"):
        find_consensus(pile, "dbscan", params={"eps": 10.0}, support_rule="threshold")
    spread = pile.assign(x=np.arange(400) * 30.0)  # the same clicks far apart: fine
    assert find_consensus(spread, "dbscan", params={"eps": 10.0}).report.n_noise == 400


@pytest.mark.parametrize("name", ["agglomerative", "hdbscan", "kmeans"])
def test_strategies_state_their_limit(monkeypatch, name):
    """10^6 clicks in one image once asked agglomerative for 3.6 TiB, and kept hdbscan and
    kmeans busy for minutes: each strategy states its limit and fails at once."""
    from cellconsensus.strategies import get_strategy

    monkeypatch.setattr(type(get_strategy(name)), "max_points_per_image", 100)
    table = pd.DataFrame(
        {"image_id": "a", "annotator_id": [f"u{i}" for i in range(101)],
         "x": np.arange(101) * 50.0, "y": 5.0, "label": "alive"}
    )  # fmt: skip
    with pytest.raises(CellConsensusInputError, match=f"101 clicks: {name} .* at most 100"):
        find_consensus(table, name)
    find_consensus(table.iloc[:100], name)  # at the limit: fine
