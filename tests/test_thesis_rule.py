"""``radius-thesis`` against a second implementation, written from the thesis code's description.

The transcription below follows the thesis' loops literally (runs in export
order, the first run's rows converted to numbers and scaled by ``1/n``, every
run that is not ``==`` to that converted list added, strict ``< R``) and
shares no code with :class:`~cellconsensus.strategies.ThesisRadiusStrategy`.
It is compared on hypothesis-generated runs and on the real Cell Spotting
export (parsed here with ``csv`` and ``ast``, not with our reader).
"""

from __future__ import annotations

import ast
import csv
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cellconsensus import find_consensus, read_cellspotting_csv
from cellconsensus.strategies import ThesisRadiusStrategy

VALUE = {"alive": 1, "dead": 0, "not_sure_alive": 0.5, "unsure": 0.5}


def thesis_code(runs: list[list[list]], R: float = 35.0):
    """One image: ``runs`` = the runs' ``[label, x, y]`` lists in export order.

    Returns ``1`` (the thesis' "empty") or a list of ``[score, x, y]`` rows.
    """
    n = len(runs)
    if n == 1:
        return [[VALUE[label], x, y] for label, x, y in runs[0]]
    if len({len(run) for run in runs}) != 1:
        return 1
    first = [[VALUE[label], x, y] for label, x, y in runs[0]]
    runs = [first] + runs[1:]  # the first run now holds numbers, the others strings
    aux = [[v * (1 / n), x * (1 / n), y * (1 / n)] for v, x, y in first]
    for run in runs:
        if run == first:
            continue
        for i, (_, xi, yi) in enumerate(first):
            for label, xj, yj in run:
                if math.sqrt((xi - xj) ** 2 + (yi - yj) ** 2) < R:
                    aux[i][0] += VALUE[label] / n
                    aux[i][1] += xj / n
                    aux[i][2] += yj / n
    return aux


def expected_cells(runs_by_image: dict[str, list[list[list]]], R: float) -> pd.DataFrame:
    rows = []
    for image, runs in runs_by_image.items():
        out = thesis_code(runs, R)
        if out != 1:
            rows += [(image, x, y, score) for score, x, y in out]
    return pd.DataFrame(rows, columns=["image_id", "x", "y", "thesis_score"])


def assert_same_cells(ours: pd.DataFrame, expected: pd.DataFrame) -> None:
    keys = ["image_id", "y", "x"]
    ours = ours.astype({"x": float, "y": float, "thesis_score": float})
    expected = expected.astype({"x": float, "y": float, "thesis_score": float})
    a = ours[[*keys, "thesis_score"]].sort_values(keys).reset_index(drop=True)
    b = expected[[*keys, "thesis_score"]].sort_values(keys).reset_index(drop=True)
    assert len(a) == len(b)
    assert (a["image_id"].to_numpy() == b["image_id"].to_numpy()).all()
    for column in ("x", "y", "thesis_score"):
        np.testing.assert_allclose(a[column], b[column], rtol=0, atol=1e-9)


def clicks_from_runs(runs_by_image: dict[str, list[list[list]]]) -> pd.DataFrame:
    rows = [
        (image, f"{image}-r{r}", x, y, "unsure" if label == "not_sure_alive" else label)
        for image, runs in runs_by_image.items()
        for r, run in enumerate(runs)
        for label, x, y in run
    ]
    return pd.DataFrame(rows, columns=["image_id", "annotator_id", "x", "y", "label"])


coordinate = st.integers(0, 400).map(lambda v: v / 2)
click = st.tuples(st.sampled_from(["alive", "dead", "not_sure_alive"]), coordinate, coordinate)


@st.composite
def thesis_runs(draw):
    """Up to three images of 1-3 runs; equal lengths most of the time, a copied run sometimes."""
    out = {}
    for image in ("i1", "i2", "i3"):
        n_runs = draw(st.integers(1, 3))
        size = draw(st.integers(1, 5))
        runs = []
        for _ in range(n_runs):
            length = size if draw(st.booleans()) or draw(st.booleans()) else draw(st.integers(1, 5))
            if runs and draw(st.integers(0, 4)) == 0:
                runs.append([list(c) for c in runs[0]])  # a later run repeating the first
            else:
                runs.append([list(draw(click)) for _ in range(length)])
        out[image] = runs
    return out


@settings(max_examples=200, deadline=None)
@given(runs=thesis_runs(), radius=st.sampled_from([10.0, 35.0, 80.0]))
def test_radius_thesis_equals_the_thesis_code(runs, radius):
    clicks = clicks_from_runs(runs)
    expected = expected_cells(runs, radius)
    assume(len(clicks))
    ours, _ = ThesisRadiusStrategy(radius=radius).fit_cells(clicks)
    assert_same_cells(ours, expected)
    # Through the engine: every cell kept (no support filter), same positions and scores.
    cells = find_consensus(clicks, "radius-thesis", params={"radius": radius}).cells
    assert_same_cells(cells, expected)
    np.testing.assert_allclose(cells["p_alive"], cells["thesis_score"].clip(0, 1))


def test_radius_thesis_quirks():
    runs = {
        # Two runs of equal length: a lone click is pulled to half its coordinates.
        "a": [[["alive", 10, 10], ["dead", 200, 200]], [["alive", 12, 10], ["alive", 300, 300]]],
        # A run repeating the first run is added, not skipped: positions and score double.
        "b": [[["alive", 40, 40]], [["alive", 40, 40]]],
        # Unequal lengths: no cell at all.
        "c": [[["alive", 5, 5], ["alive", 50, 50]], [["alive", 5, 5]]],
    }
    cells = find_consensus(clicks_from_runs(runs), "radius-thesis").cells.set_index("image_id")
    a = cells.loc["a"].sort_values("x")
    assert a[["x", "y", "thesis_score"]].to_numpy().tolist() == [[11, 10, 1], [100, 100, 0]]
    assert a["n_annotators"].tolist() == [2, 1]
    b = cells.loc[["b"]]
    assert b[["x", "y", "thesis_score", "p_alive"]].to_numpy().tolist() == [[40, 40, 1, 1]]
    assert "c" not in cells.index
    # The distance test is strict: a click exactly R away is not merged.
    edge = {"e": [[["alive", 0, 0]], [["dead", 35, 0]]]}
    got = find_consensus(clicks_from_runs(edge), "radius-thesis").cells
    assert got[["x", "thesis_score"]].to_numpy().tolist() == [[0, 0.5]]


@pytest.mark.realdata
def test_radius_thesis_on_the_real_export(cellspotting_csv):
    runs_by_image: dict[str, list] = {}
    with open(cellspotting_csv, newline="", encoding="utf-8") as f:
        for record in csv.DictReader(f):
            image = record["task"].rstrip("/").split("/")[-1]
            runs_by_image.setdefault(image, []).append(ast.literal_eval(record["alive_array"]))
    expected = expected_cells(runs_by_image, 35.0)
    clicks = read_cellspotting_csv(cellspotting_csv, out_of_canvas="keep", duplicate_runs="keep")
    cells = find_consensus(clicks, "radius-thesis").cells
    assert len(expected) == 4634
    per_image = cells.groupby("image_id").size()
    pd.testing.assert_series_equal(
        per_image, expected.groupby("image_id").size(), check_names=False
    )
    assert_same_cells(cells, expected)


@pytest.mark.parametrize("radius", [0.0, -1.0])
def test_radius_must_be_positive(radius):
    with pytest.raises(ValueError, match="radius"):
        ThesisRadiusStrategy(radius=radius).fit_cells(clicks_from_runs({"a": [[["alive", 1, 1]]]}))
