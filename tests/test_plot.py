"""Public plots and disagreement tables: what is drawn matches the tables it comes from."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from cellconsensus import find_consensus, score, simulate_crowd
from cellconsensus.disagreement import cell_doubt, image_disagreement, strategy_agreement
from cellconsensus.plot import (
    plot_agreement,
    plot_annotators,
    plot_disagreement,
    plot_image,
    pyplot,
)
from cellconsensus.synthetic import make_images

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def crowd():
    data = make_images(2, seed=4)
    clicks = simulate_crowd(data.truth, 4, seed=4)
    return data, clicks, find_consensus(clicks)


def _points(ax, label: str) -> int:
    """How many points the collections of a legend label hold."""
    return sum(len(c.get_offsets()) for c in ax.collections if c.get_label() == label)


def _decodes(fig) -> tuple[int, int]:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    pyplot().close(fig)
    return Image.open(io.BytesIO(buffer.getvalue())).size


def test_overlay_marks_every_click_miss_and_extra(crowd):
    data, clicks, result = crowd
    image_id = "syn00000"
    cells = result.cells[result.cells["image_id"] == image_id].reset_index(drop=True)
    cells = cells.iloc[1:]  # a true cell now missed
    fake = cells.iloc[:1].assign(x=-100.0, y=-100.0, cell_id=999)  # a cell with no true cell
    cells = pd.concat([cells, fake], ignore_index=True)
    truth = data.truth[data.truth["image_id"] == image_id]
    s = score(cells, truth, image_ids=[image_id])
    fig = plot_image(image_id, data.images, clicks=clicks, cells=cells, truth=data.truth)
    ax = fig.axes[0]
    mine = clicks[clicks["image_id"] == image_id]
    drawn = sum(_points(ax, a) for a in mine["annotator_id"].unique())
    assert drawn == len(mine)
    assert _points(ax, "missed: no cell") == s.fn >= 1
    assert _points(ax, "truth") == s.tp
    dashed = sum(len(c.get_offsets()) for c in ax.collections if c.get_linestyle()[0][1])
    assert dashed == s.fp >= 1
    assert ax.get_title() == f"{image_id}: {len(cells)} cells, {s.fn} missed, {s.fp} extra"
    assert len(ax.images) == 1 and _decodes(fig)[0] > 100


def test_overlay_without_pixels_and_with_many_annotators():
    clicks = pd.DataFrame(
        {"image_id": "a", "annotator_id": [f"u{i:02d}" for i in range(14)],
         "x": np.arange(14) * 10.0, "y": 5.0, "label": "alive"}
    )  # fmt: skip
    fig = plot_image("a", clicks=clicks)
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert "+ 4 more annotators" in labels and len(labels) == 11
    assert ax.get_xlim()[1] > 130 and ax.get_ylim()[0] > ax.get_ylim()[1]  # y down, as images


def test_disagreement_colours_are_the_doubt():
    cells = pd.DataFrame(
        {"image_id": "a", "x": [10.0, 30, 50], "y": [10.0, 30, 50],
         "p_alive": [1.0, 0.6, 0.9], "p_real": [1.0, 1.0, 0.55], "label": "alive"}
    )  # fmt: skip
    doubt = cell_doubt(cells)
    np.testing.assert_allclose(doubt["doubt"], [0.0, 0.8, 0.9])
    fig = plot_disagreement("a", cells)
    ax = fig.axes[0]
    by_label = {c.get_label(): np.asarray(c.get_array()) for c in ax.collections}
    np.testing.assert_allclose(by_label["label in doubt"], [0.0, 0.8])
    np.testing.assert_allclose(by_label["cell in doubt"], [0.9])
    assert ax.get_title() == "a: 2 of 3 cells in doubt"


def test_agreement_matrix_and_image_ranking(crowd):
    _, clicks, result = crowd
    other = find_consensus(clicks, "kmeans").cells
    half = result.cells[result.cells["image_id"] == "syn00001"]
    tables = {"default": result.cells, "kmeans": other, "half": half}
    matrix = strategy_agreement(tables)
    n_default, n_half = len(result.cells), len(half)
    assert matrix.loc["default", "half"] == pytest.approx(2 * n_half / (n_default + n_half))
    ranking = image_disagreement(tables)
    assert ranking["image_id"].iloc[0] == "syn00000"  # "half" found nothing there
    assert (ranking["n_half"] == [0, n_half]).all()
    fig = plot_agreement(tables)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == [f"{v:.2f}" for v in matrix.to_numpy().ravel()]
    assert _decodes(fig)[0] > 50


def test_annotator_chart_rates_and_names_the_worst(crowd):
    _, _, result = crowd
    table = result.annotators_
    fig = plot_annotators(table, name_worst=3)
    ax = fig.axes[0]
    rated = table.dropna(subset=["sensitivity", "specificity"])
    assert len(ax.collections[0].get_offsets()) == len(rated)
    named = {t.get_text() for t in ax.texts}
    assert named == set(rated.nsmallest(3, "spammer_score").index.astype(str))


cell_rows = st.lists(
    st.tuples(st.sampled_from(["i", "j"]), st.integers(0, 20).map(lambda v: v * 7.0),
              st.integers(0, 20).map(lambda v: v * 7.0)),
    max_size=12,
)  # fmt: skip


def _table(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["image_id", "x", "y"]).assign(label="alive")


@settings(max_examples=30, deadline=None)
@given(a=cell_rows, b=cell_rows, seed=st.integers(0, 100))
def test_agreement_is_symmetric_bounded_and_order_free(a, b, seed):
    a, b = _table(a), _table(b)
    matrix = strategy_agreement({"a": a, "b": b})
    swapped = strategy_agreement({"b": b, "a": a})  # b matched as the cells, a as the truth
    assert swapped.loc["b", "a"] == pytest.approx(matrix.loc["a", "b"])
    assert 0 <= matrix.loc["a", "b"] <= 1 and (np.diag(matrix) == 1).all()
    shuffled = strategy_agreement({"a": a.sample(frac=1, random_state=seed), "b": b})
    assert shuffled.loc["a", "b"] == pytest.approx(matrix.loc["a", "b"])
    assert strategy_agreement({"a": a, "copy": a.copy()}).loc["a", "copy"] == 1


def test_doubt_of_a_single_annotators_cells_is_said_to_be_unassessed():
    """On the real export's one-run images every cell showed "0 in doubt", unqualified."""
    cells = pd.DataFrame({"image_id": "a", "x": [10.0, 30], "y": [10.0, 30],
                          "p_alive": [0.96, 0.96], "p_real": [np.nan, np.nan],
                          "label": "alive"})  # fmt: skip
    assert np.isnan(cell_doubt(cells)["real_doubt"]).all()
    title = plot_disagreement("a", cells).axes[0].get_title()
    assert "0 of 2 cells in doubt" in title and "not assessed" in title
