"""The demo's last step: train a CNN on the demo's patch store and write the report.

``cellconsensus demo`` writes synthetic images, a crowd export, consensus
cells, a strategy comparison and a patch store into one folder; ``cellcnn
demo`` trains ``compact`` on that store and writes ``demo-report/``: the report
``cellconsensus report`` writes for any data set (:func:`cellconsensus.report.write_report`:
summary, strategy agreement and scores against the truth, annotators, a gallery
of every image with its clicks, cells, truth, misses and extras) with the demo's
sections added: every strategy against the truth, patches per class, and the
CNN's learning curves, confusion matrix, ROC, reliability, worst errors on the test
split, and the cells where the CNN and the crowd's consensus disagree.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from cellconsensus.demo import DemoRun
from cellconsensus.plot import pyplot
from cellconsensus.report import ReportSection
from cellconsensus.report.html import key_value_table

__all__ = ["demo_report", "crowd_disagreements", "DEMO_REPORT_IMAGES"]

logger = logging.getLogger(__name__)

#: Images drawn in the demo report's gallery (keeps `make demo` under 3 minutes on 2 cores).
DEMO_REPORT_IMAGES = 24
#: Test images drawn with the point detector's cells.
DETECTOR_IMAGES = 4


def _strategy_figure(table: pd.DataFrame):
    table = table.sort_values("f1")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(table) + 1))
    ax.barh(table["strategy"], table["f1"], color="tab:blue", label="F1")
    ax.scatter(
        table["label_accuracy"],
        table["strategy"],
        color="black",
        s=12,
        zorder=3,
        label="label accuracy",
    )
    ax.set(xlim=(0, 1), xlabel="against the truth")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def _with_interval(metrics: dict, name: str) -> str:
    """``"0.952 (95 % interval 0.930-0.971)"``: a figure of :func:`~cellcnn.evaluate.evaluate`
    with its bootstrap interval where it has one (``"nan"`` where it has no figure)."""
    value = metrics.get(name, float("nan"))
    low, high = metrics.get(f"{name}_interval", (float("nan"),) * 2)
    if low == low and high == high:
        return f"{value:.3f} (95 % interval {low:.3f}-{high:.3f})"
    return f"{value:.3f}"


def crowd_disagreements(scored: pd.DataFrame, n: int | None = 20) -> pd.DataFrame:
    """The cells where the CNN and the crowd's consensus disagree, the widest gaps first.

    Parameters
    ----------
    scored : DataFrame
        :func:`cellcnn.predict.predict_cells`' output on a Cells table
        (``label``, ``p_alive``, ``label_cnn``, ``p_alive_cnn``).
    n : int or None, default 20
        Rows to return (None: all).

    Returns
    -------
    DataFrame
        ``image_id, cell_id, x, y``, the crowd's ``label`` and ``p_alive``, the CNN's
        ``label_cnn`` and ``p_alive_cnn``, and ``gap`` (the two P(alive) apart);
        cells the crowd called unsure and cells off their image are left out.

    Examples
    --------
    >>> scored = pd.DataFrame({"image_id": ["a", "a"], "cell_id": [0, 1], "x": [1.0, 2.0],
    ...                        "y": [1.0, 2.0], "label": ["alive", "dead"],
    ...                        "p_alive": [0.9, 0.2], "label_cnn": ["alive", "alive"],
    ...                        "p_alive_cnn": [0.8, 0.7]})
    >>> crowd_disagreements(scored)[["cell_id", "gap"]].to_dict("records")
    [{'cell_id': 1, 'gap': 0.5}]
    """
    labels = scored["label"].astype(str)
    sure = labels.isin(["alive", "dead"]) & scored["label_cnn"].notna()
    if "outside" in scored:
        sure &= ~scored["outside"].astype(bool)
    differ = scored[sure & (labels != scored["label_cnn"].astype(str))]
    gap = (differ["p_alive"] - differ["p_alive_cnn"]).abs().round(6)
    columns = [c for c in ("image_id", "cell_id", "x", "y", "label", "p_alive", "label_cnn",
                           "p_alive_cnn") if c in differ]  # fmt: skip
    table = differ[columns].assign(gap=gap)
    order = ["gap", "image_id"] + (["cell_id"] if "cell_id" in table else [])
    table = table.sort_values(order, ascending=[False] + [True] * (len(order) - 1),
                              kind="stable")  # fmt: skip
    return (table if n is None else table.head(n)).reset_index(drop=True)


def _disagreement_sheet(table: pd.DataFrame, images, size: int):
    """Patches of the disagreeing cells, each titled with the crowd's and the CNN's P(alive)."""
    from cellconsensus.patches import extract_patches

    patches = extract_patches(table, images, size, channels=1).pixels
    plt = pyplot()
    cols = min(8, len(table))
    rows = -(-len(table) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 2.0 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, patch, (_, cell) in zip(axes.ravel(), patches, table.iterrows(), strict=False):
        ax.imshow(patch[..., 0], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"crowd {cell['label']} {cell['p_alive']:.2f}\n"
                     f"CNN {cell['label_cnn']} {cell['p_alive_cnn']:.2f}", fontsize=7)  # fmt: skip
    fig.suptitle("P(alive): the crowd's label model and the CNN", fontsize=9)
    fig.tight_layout()
    return fig


def _detector_section(demo, cells, truth, split: dict, epochs: int, seed: int) -> ReportSection:
    """Train a point detector on the crowd's cells of the training images; its cells on
    the test images beside the truth."""
    from cellconsensus.plot import plot_image

    from .detect import evaluate_detector, train_detector

    ids = sorted(split)
    result = train_detector(cells, demo.images, demo.root / "detector", image_ids=ids,
                            split=split, epochs=epochs, seed=seed)  # fmt: skip
    figures, found = evaluate_detector(result.out_dir, truth, demo.images)
    shown = result.record["splits"]["test"][:DETECTOR_IMAGES]
    drawn = tuple((f"detected-{k}", plot_image(i, demo.images, cells=found, truth=truth),
                   f"cells the detector found on {i}") for k, i in enumerate(shown))  # fmt: skip
    numbers = {"trained on": f"the consensus cells of {len(result.record['splits']['train'])} "
                             f"training images, {epochs} epochs",
               "test images": len(result.record["splits"]["test"]),
               "detection F1 (precision, recall)":
                   f"{figures.f1:.3f} ({figures.precision:.3f}, {figures.recall:.3f})",
               "balanced label accuracy": f"{figures.balanced_label_accuracy:.3f}",
               "localisation error": f"{figures.localisation_error:.1f} px"}  # fmt: skip
    return ReportSection(
        "Cells found without clicks",
        '<p class="note">A point detector (<code>cellcnn.detect</code>) trained on the '
        "crowd's consensus cells finds and labels the cells of the test images from their "
        "pixels alone, scored against the truth (circles: its cells; white crosses: the "
        "truth; misses and extra cells marked).</p>" + key_value_table(numbers, "detector"),
        drawn,
    )


def demo_report(
    demo_dir: str | os.PathLike,
    out: str | os.PathLike = "demo-report",
    *,
    size: int | None = None,
    epochs: int = 3,
    detector_epochs: int = 3,
    seed: int = 0,
    verbose: int = 0,
    progress: bool = False,
) -> Path:
    """Train ``compact`` on the demo's store, and a point detector on its consensus cells,
    and write the HTML report.

    Parameters
    ----------
    demo_dir : path-like
        The folder ``cellconsensus demo`` wrote; its files are found through its
        ``demo.json`` (:class:`cellconsensus.demo.DemoRun`).
    out : path-like, default "demo-report"
        The report's folder (``index.html``, the gallery, ``figures/``).
    size : int, optional
        Patch size to train on (default: the demo store's).
    epochs : int, default 3
        Training epochs (a demonstration, not a study).
    detector_epochs : int, default 3
        Epochs of the point detector (:func:`cellcnn.detect.train_detector`), trained on
        the consensus cells of the store's training images (0: none).
    seed : int, default 0
        Training seed.
    verbose : int, default 0
        Keras' training output (2: a line per epoch, as ``cellcnn demo`` shows).
    progress : bool, default False
        Progress bars while the report is drawn.

    Returns
    -------
    Path
        ``out/index.html``.

    Examples
    --------
    >>> demo_report("demo-output", "demo-report")  # doctest: +SKIP
    PosixPath('demo-report/index.html')
    """
    from cellconsensus import read_cells, read_pybossa
    from cellconsensus.io import read_voc
    from cellconsensus.report import write_report
    from cellconsensus.store import open_patches

    from .evaluate import evaluate
    from .predict import predict_cells
    from .train import train

    demo, out = DemoRun.load(demo_dir), Path(out)
    run_dir = demo.root / "cnn"
    size = size or demo.patch_size
    result = train(
        demo.store,
        size,
        "compact",
        out_dir=run_dir,
        epochs=epochs,
        patience=epochs,
        seed=seed,
        verbose=verbose,
    )
    metrics = evaluate(run_dir, split="test", out_dir=run_dir, progress=progress)
    # The CNN against the crowd on the test images, which it never saw.
    cells = read_cells(demo.cells)
    stored = open_patches(demo.store, size)
    test_images = {str(image) for image, split in
                   zip(stored["image_id"].values, stored["split"].values, strict=True)
                   if split == "test"}  # fmt: skip
    test_cells = cells[cells["image_id"].astype(str).isin(test_images)].reset_index(drop=True)
    scored = predict_cells(run_dir, test_cells, demo.images, progress=progress)
    disagree = crowd_disagreements(scored, n=None)
    n_disagree, disagree = len(disagree), disagree.head(20)
    strategies = pd.read_csv(demo.strategies)
    columns = ["strategy", "n_cells", "precision", "recall", "f1", "label_accuracy"]
    numbers = {
        **demo.summary,
        "CNN": f"compact, {size} px, {result.run['epochs_run']} epochs",
        "test cells": metrics["n"],
        "test balanced accuracy": _with_interval(metrics, "balanced_accuracy"),
        "test ROC AUC": _with_interval(metrics, "roc_auc"),
        "test expected calibration error": f"{metrics['ece']:.3f}",
        "test cells where the CNN and the crowd disagree": f"{n_disagree} of {len(test_cells)}",
    }
    plots = metrics["plots"]
    cnn_figures = [
        ("curves", run_dir / "learning_curves.png", "learning curves"),
        ("confusion", plots["confusion"], "confusion matrix"),
    ]
    cnn_figures += [(name, plots[name], f"{name} on the test split")
                    for name in ("roc", "reliability") if name in plots]  # fmt: skip
    cnn_figures.append(("worst", metrics["worst_errors"], "the test split's worst errors"))
    sections = [
        ReportSection(
            "The demo and its CNN",
            "<p>Synthetic fluorescence images, a simulated crowd's PyBossa export, consensus "
            "cells, a patch store and a CNN trained on it: the whole pipeline on built-in "
            "data. The gallery draws every image with its clicks, cells and truth.</p>"
            + key_value_table(numbers, "cnn-summary"),
        ),
        ReportSection(
            "Every strategy against the truth",
            '<p class="note">The scale estimated from the clicks; bars F1, dots label '
            "accuracy.</p>",
            (("strategies", _strategy_figure(strategies), "strategy comparison"),),
            strategies[[c for c in columns if c in strategies]],
        ),
        ReportSection(
            "Patches per class",
            figures=(("sheet", demo.sheet, "contact sheet of patches per class"),),
        ),
        ReportSection(
            "The CNN on the test split",
            '<p class="note">Learning curves; the confusion matrix against the consensus '
            "label; ROC and reliability of the CNN's P(alive); its worst errors (label: the "
            "consensus, p: the CNN's P(alive)).</p>",
            tuple(cnn_figures),
        ),
        ReportSection(
            "Where the CNN and the crowd disagree",
            '<p class="note">Every consensus cell of the test images (never trained on) '
            "classified by the CNN; the widest gaps between the crowd's label model and the "
            "CNN first (at most 20).</p>",
            (
                (
                    "disagreements",
                    _disagreement_sheet(disagree, demo.images, size),
                    "patches where the CNN and the crowd disagree",
                ),
            )
            if len(disagree)
            else (),
            disagree,
        ),
    ]
    truth = read_voc(demo.annotations)
    if detector_epochs:
        split = {str(i): str(s) for i, s in zip(stored["image_id"].values,
                                                 stored["split"].values, strict=True)}  # fmt: skip
        sections.append(_detector_section(demo, cells, truth, split, detector_epochs, seed))
    index = write_report(
        read_pybossa(demo.task_runs, demo.tasks),
        out,
        images=demo.images,
        truth=truth,
        title="cellconsensus demo report",
        max_images=DEMO_REPORT_IMAGES,
        sections=sections,
        progress=progress,
    )
    logger.info("wrote %s", index)
    return index
