"""The annotator table: each column on a crowd whose annotators are known, and its CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cellconsensus import find_consensus
from cellconsensus.annotators import ANNOTATOR_COLUMNS, annotator_table
from cellconsensus.cli import main


def known_crowd() -> pd.DataFrame:
    """40 cells on 4 images; three careful annotators, a yes-man, a stray clicker, a misser."""
    rng = np.random.default_rng(0)
    rows = []
    for image in range(4):
        for k in range(10):
            x, y = 30.0 + 40 * (k % 5), 30.0 + 60 * (k // 5)
            truth = "alive" if (k + image) % 2 else "dead"
            for who in ("careful-1", "careful-2", "careful-3"):
                rows.append((f"im{image}", who, x + rng.normal(0, 1), y, truth))
            rows.append((f"im{image}", "yes-man", x + 1, y - 1, "alive"))
            if k % 2 == 0:
                rows.append((f"im{image}", "misser", x - 1, y + 1, truth))
        for _ in range(10):  # far from every cell and from each other
            rows.append((f"im{image}", "stray", rng.uniform(300, 2000), 500.0, "alive"))
    return pd.DataFrame(rows, columns=["image_id", "annotator_id", "x", "y", "label"])


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return find_consensus(known_crowd(), "dbscan", "dawid-skene").annotators_


def test_columns_and_counts(table):
    assert list(table.columns) == list(ANNOTATOR_COLUMNS)
    assert table.index.name == "annotator_id"
    assert table.index.tolist() == sorted(table.index)
    assert table.loc["careful-1", ["clicks", "votes", "images"]].tolist() == [40, 40, 4]
    assert table.loc["misser", ["clicks", "votes"]].tolist() == [20, 20]
    assert table.loc["stray", ["clicks", "votes", "images"]].tolist() == [40, 0, 4]


def test_rates_tell_the_annotators_apart(table):
    careful = table.loc["careful-1"]
    assert careful["sensitivity"] > 0.95 and careful["specificity"] > 0.95
    assert careful["detection_rate"] == 1.0 and careful["stray_click_rate"] == 0.0
    assert careful["spammer_score"] > 0.9 and careful["unsure_rate"] == 0.0
    yes_man = table.loc["yes-man"]
    assert yes_man["sensitivity"] > 0.95 and yes_man["specificity"] < 0.05
    assert yes_man["spammer_score"] < 0.1
    assert table.loc["misser", "detection_rate"] == pytest.approx(0.5)
    stray = table.loc["stray"]
    assert stray["stray_click_rate"] == 1.0 and stray["detection_rate"] == 0.0
    assert np.isnan(stray["sensitivity"]) and np.isnan(stray["spammer_score"])


def test_rates_need_a_cell_of_evidence():
    """An annotator who only met alive cells has no specificity (not a specificity of 0)."""
    clicks = known_crowd()
    alive_only = clicks[(clicks["label"] == "alive") | (clicks["annotator_id"] != "misser")]
    table = annotator_table(find_consensus(alive_only, "dbscan", "dawid-skene"))
    assert np.isnan(table.loc["misser", "specificity"])
    assert table.loc["misser", "sensitivity"] > 0.95


def test_cli_prints_worst_first_and_writes_the_table(tmp_path, capsys):
    clicks, out = tmp_path / "clicks.csv", tmp_path / "annotators.csv"
    known_crowd().to_csv(clicks, index=False)
    assert main(["annotators", str(clicks), "--labels", "dawid-skene", "-o", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    first = next(line for line in printed if line.startswith(("careful", "yes-man", "misser")))
    assert first.startswith("yes-man")  # the lowest spammer score first
    written = pd.read_csv(out)
    assert written["annotator_id"].tolist()[0] == "yes-man"
    assert set(written["annotator_id"]) == set(known_crowd()["annotator_id"])
    assert main(["annotators", str(tmp_path / "missing.csv")]) == 2
