"""A third class from pixels to store: dividing cells in the synthetic images, a crowd of
K classes, readers and writers that keep the label set, stores that record it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cellconsensus import find_consensus, score
from cellconsensus.io import read_cellspotting_csv, read_pybossa, read_truth, read_voc
from cellconsensus.simulate import simulate_crowd
from cellconsensus.store import open_patches, write_patches
from cellconsensus.store.provenance import label_set
from cellconsensus.synthetic import make_images, make_truth, write_synthetic
from cellconsensus.synthetic.brightfield import render_brightfield
from cellconsensus.synthetic.fluorescence import render_fluorescence
from cellconsensus.synthetic.render import _fields
from cellconsensus.synthetic.truth import MITOTIC_CLASSES
from cellconsensus.tables import LABEL_DTYPE

THREE = list(MITOTIC_CLASSES.classes)


def test_truth_with_dividing_cells():
    truth = make_truth(60, mitotic_fraction=0.3, seed=2)
    assert truth.attrs["classes"] == MITOTIC_CLASSES
    assert list(truth["label"].cat.categories) == THREE
    assert ((truth["label"] == "mitotic") == (truth["phenotype"] == "dividing")).all()
    shares = truth["label"].value_counts(normalize=True)
    assert abs(shares["mitotic"] - 0.3) < 0.06 and abs(shares["dead"] - 0.35) < 0.06
    two = make_truth(60, seed=2)
    assert two["label"].dtype == LABEL_DTYPE and "classes" not in two.attrs
    # The third class takes its cells from the living ones: dead cells stay where they were.
    assert (two["label"] == "dead").equals(truth["label"] == "dead")
    with pytest.raises(ValueError, match="sum of at most 1"):
        make_truth(2, dead_fraction=0.7, mitotic_fraction=0.4)


def _elongation(image: np.ndarray, half: int) -> float:
    """Long over short axis of the pixels a cell drawn at (40, 40) changed."""
    grey = image.astype(float) if image.ndim == 2 else image.astype(float).sum(axis=2)
    changed = np.abs(grey - np.median(grey))[40 - half : 40 + half, 40 - half : 40 + half] > 8
    yy, xx = np.nonzero(changed)
    low, high = np.linalg.eigvalsh(np.cov(np.vstack([xx, yy])))
    return float(high / low)


@pytest.mark.parametrize(
    ("render", "size", "single"),
    [(render_brightfield, 20.0, "bright-centred"), (render_fluorescence, 50.0, "rounded")],
)
def test_a_dividing_cell_is_drawn_as_two_daughters_side_by_side(render, size, single):
    elongation = {}
    for phenotype in ("dividing", single):
        elongation[phenotype] = np.median(
            [
                _elongation(
                    render(
                        [40.0],
                        [40.0],
                        [size],
                        [phenotype],
                        canvas=(80, 80),
                        rng=np.random.default_rng(seed),
                        fields=_fields(0),
                        noise=0,
                    ),
                    int(0.8 * size),
                )  # fmt: skip
                for seed in range(8)
            ]
        )
    assert elongation["dividing"] > 1.4 * elongation[single]


def test_a_crowd_of_three_classes_errs_uniformly_and_is_aggregated():
    truth = make_truth(120, style="brightfield", mitotic_fraction=0.3, seed=0)
    clean = simulate_crowd(truth, 3, seed=0, label_noise=0.0, unsure_rate=0.0, miss_rate=0.0,
                           spurious_rate=0.0)  # fmt: skip
    assert clean.attrs["classes"] == MITOTIC_CLASSES
    assert set(clean["label"].astype(str)) == set(THREE)
    noisy = simulate_crowd(truth, 3, seed=0, label_noise=0.5, unsure_rate=0.0)
    result = find_consensus(noisy)
    assert [c for c in result.cells.columns if c.startswith("p_") and c != "p_real"] == [
        f"p_{c}" for c in THREE
    ]
    # Errors spread over both other classes: a wrong label is any other class.
    matched = find_consensus(clean).cells
    assert score(matched, truth).label_accuracy == 1.0
    assert score(result.cells, truth).f1 > 0.9
    assert (noisy["label"] == "mitotic").mean() > 0.2
    with pytest.raises(Exception, match="truth label 'purple' is not one of the classes"):
        simulate_crowd(truth.assign(label=truth["label"].cat.add_categories("purple")
                                    .where(truth.index != 3, "purple")))  # fmt: skip


def test_a_written_set_of_three_classes_reads_back_with_classes(tmp_path):
    data = write_synthetic(tmp_path / "s", 6, style="brightfield", mitotic_fraction=0.3, seed=1)
    assert set(data.manifest["counts"]["labels"]) == set(THREE)
    clicks = read_pybossa(data.task_runs, data.tasks, classes=THREE)
    assert clicks.attrs["classes"] == MITOTIC_CLASSES and len(clicks) == len(data.clicks)
    tidy = ["image_id", "annotator_id", "x", "y"]
    mine = clicks.sort_values(tidy, ignore_index=True)
    theirs = data.clicks.sort_values(tidy, ignore_index=True)
    assert (mine["label"].astype(str) == theirs["label"].astype(str)).all()
    with pytest.raises(Exception, match="mitotic"):
        read_pybossa(data.task_runs, data.tasks)
    for truth in (
        read_voc(data.annotations, classes=THREE),
        read_truth(data.truth_csv, classes=THREE),
    ):
        assert truth.attrs["classes"] == MITOTIC_CLASSES
        assert (truth["label"].astype(str).value_counts() == data.truth["label"].astype(str)
                .value_counts()).all()  # fmt: skip


def test_the_cell_spotting_reader_takes_classes(tmp_path):
    path = tmp_path / "runs.csv"
    pd.DataFrame({"task": ["http://x/img/1.jpg"],
                  "alive_array": ["[[u'mitotic', 10, 20], [u'dead', 30, 40]]"]}).to_csv(path, index=False)  # fmt: skip
    clicks = read_cellspotting_csv(path, classes=THREE)
    assert clicks["label"].astype(str).tolist() == ["mitotic", "dead"]


def test_the_store_records_the_label_set_and_the_class_probabilities(tmp_path):
    data = make_images(12, style="brightfield", mitotic_fraction=0.3, seed=0)
    cells = find_consensus(simulate_crowd(data.truth, 4, seed=0)).cells
    write_patches(cells, data.images, tmp_path / "p.zarr", [24], mode="w")
    ds = open_patches(tmp_path / "p.zarr", 24)
    assert ds.attrs["provenance"]["labels"]["classes"] == THREE
    stacked = np.column_stack([ds[f"p_{c}"].values for c in THREE])
    assert np.allclose(stacked.sum(axis=1), 1.0)
    assert label_set(data.truth) == {"classes": THREE, "unsure": "unsure"}
    assert label_set(pd.DataFrame({"label": ["only"]})) is None
    assert label_set(pd.DataFrame({"x": [1.0]})) is None


def test_plots_and_the_report_draw_any_label_set(tmp_path):
    from cellconsensus.plot import plot_annotators, plot_image
    from cellconsensus.plot.image import label_colours
    from cellconsensus.report import write_report

    data = make_images(8, style="brightfield", mitotic_fraction=0.4, seed=0)
    clicks = simulate_crowd(data.truth, 4, seed=0)
    result = find_consensus(clicks)
    image_id = result.cells.loc[result.cells["label"] == "mitotic", "image_id"].iloc[0]
    fig = plot_image(image_id, data.images, clicks=clicks, cells=result.cells, truth=data.truth)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "cell: mitotic" in legend and "number: P(label), label model" in legend
    circled = {
        tuple(c.get_edgecolor()[0][:3]) for c in fig.axes[0].collections if len(c.get_edgecolor())
    }
    from matplotlib.colors import to_rgb

    assert to_rgb(label_colours(THREE)["mitotic"]) in circled
    assert len(set(label_colours(["a", "b", "c", "d"]).values())) == 7  # 3 known + 4 distinct
    fig = plot_annotators(result.annotators_)
    assert fig.axes[0].get_xlabel().startswith("detection rate")
    index = write_report(clicks, tmp_path / "report", images=data.images, truth=data.truth)
    text = index.read_text()
    assert "% mitotic" in text and "Annotators" in text


@pytest.mark.parametrize("fmt", ["napari", "qupath", "fiji", "coco"])
def test_viewer_exports_keep_any_label_set(tmp_path, fmt):
    from cellconsensus.io.viewers import read_viewer, write_viewer

    data = make_images(4, style="brightfield", mitotic_fraction=0.4, seed=0)
    cells = find_consensus(
        simulate_crowd(data.truth, 4, seed=0), classes=["dead", "mitotic", "alive"]
    ).cells
    out = write_viewer(cells, tmp_path / ("c.json" if fmt == "coco" else "c"), fmt)
    back = read_viewer(out, fmt)
    assert back.attrs["classes"].classes == ("dead", "mitotic", "alive")  # the columns' order
    assert (
        back["label"].astype(str).value_counts().equals(cells["label"].astype(str).value_counts())
    )
    assert np.allclose(back.sort_values(["image_id", "cell_id"])["p_mitotic"],
                       cells.sort_values(["image_id", "cell_id"])["p_mitotic"])  # fmt: skip
    truth = write_viewer(data.truth, tmp_path / ("t.json" if fmt == "coco" else "t"), fmt)
    with pytest.raises(Exception, match="mitotic"):
        read_viewer(truth, fmt)  # mixed with alive / dead, a third label needs the classes
    assert set(read_viewer(truth, fmt, classes=THREE)["label"].astype(str)) == set(THREE)


def test_the_command_line_takes_classes(tmp_path, capsys):
    from cellconsensus.cli import main

    data = write_synthetic(tmp_path / "s", 6, style="brightfield", mitotic_fraction=0.3, seed=1)
    out = tmp_path / "cells.csv"
    args = [str(data.task_runs), "--tasks", str(data.tasks), "--classes", *THREE]
    assert main(["aggregate", *args, "-o", str(out)]) == 0
    assert [c for c in pd.read_csv(out).columns if c.startswith("p_") and c != "p_real"] == [
        f"p_{c}" for c in THREE
    ]  # fmt: skip
    assert main(["compare", *args, "--truth", str(data.truth_csv), "--strategies", "dbscan"]) == 0
    assert "dbscan" in capsys.readouterr().out
    assert main(["aggregate", str(data.task_runs), "--tasks", str(data.tasks), "-o", str(out)]) == 2
    assert "--classes for another label set" in capsys.readouterr().err
