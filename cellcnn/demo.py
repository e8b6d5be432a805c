"""The demo's last step: train a CNN on the demo's patch store and write an HTML report.

``cellconsensus demo`` writes synthetic images, a crowd export, consensus
cells, a strategy comparison and a patch store into one folder; ``cellcnn
demo`` trains ``compact`` on that store and writes ``demo-report/index.html``,
one self-contained page (figures embedded) with the pipeline's numbers: an
image with the raw clicks coloured by annotator and the consensus cells on
top, the strategy comparison, patches per class, learning curves and the
confusion matrix on the test split.
"""

from __future__ import annotations

import base64
import html
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cellconsensus.demo import DemoRun
from cellconsensus.plot import pyplot

__all__ = ["demo_report"]

logger = logging.getLogger(__name__)


def _png(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _clicks_figure(demo: DemoRun, out: Path) -> Path:
    """The busiest image: clicks by annotator, consensus cells, the truth (misses, extras)."""
    from cellconsensus import read_cells, read_pybossa
    from cellconsensus.io import read_voc
    from cellconsensus.plot import plot_image

    clicks = read_pybossa(demo.task_runs, demo.tasks)
    cells = read_cells(demo.cells)
    image_id = str(cells["image_id"].value_counts().index[0])
    truth = read_voc(demo.annotations)
    fig = plot_image(image_id, demo.images, clicks=clicks, cells=cells, truth=truth)
    path = out / "clicks.png"
    fig.savefig(path, dpi=90, bbox_inches="tight")
    pyplot().close(fig)
    return path


def _strategy_figure(table: pd.DataFrame, out: Path) -> Path:
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
    path = out / "strategies.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _confusion_figure(confusion: list[list[int]], out: Path) -> Path:
    plt = pyplot()
    matrix = np.asarray(confusion)
    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), n in np.ndenumerate(matrix):
        colour = "white" if n > matrix.max() / 2 else "black"
        ax.text(j, i, str(n), ha="center", va="center", color=colour)
    ax.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xticklabels=["dead", "alive"],
        yticklabels=["dead", "alive"],
        xlabel="predicted",
        ylabel="true",
    )
    ax.set_title("test split")
    fig.tight_layout()
    path = out / "confusion.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _table_html(table: pd.DataFrame) -> str:
    return table.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0)


def demo_report(
    demo_dir: str | os.PathLike,
    out: str | os.PathLike = "demo-report",
    *,
    size: int | None = None,
    epochs: int = 3,
    seed: int = 0,
    verbose: int = 0,
) -> Path:
    """Train ``compact`` on the demo's store and write the HTML report.

    Parameters
    ----------
    demo_dir : path-like
        The folder ``cellconsensus demo`` wrote; its files are found through its
        ``demo.json`` (:class:`cellconsensus.demo.DemoRun`).
    out : path-like, default "demo-report"
        Where ``index.html`` and its figures go.
    size : int, optional
        Patch size to train on (default: the demo store's).
    epochs : int, default 3
        Training epochs (a demonstration, not a study).
    seed : int, default 0
        Training seed.
    verbose : int, default 0
        Keras' training output (2: a line per epoch, as ``cellcnn demo`` shows).

    Returns
    -------
    Path
        ``out/index.html``.

    Examples
    --------
    >>> demo_report("demo-output", "demo-report")  # doctest: +SKIP
    PosixPath('demo-report/index.html')
    """
    from .evaluate import evaluate
    from .train import train

    demo, out = DemoRun.load(demo_dir), Path(out)
    out.mkdir(parents=True, exist_ok=True)
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
    metrics = evaluate(run_dir, split="test", out_dir=out)
    summary: dict[str, Any] = demo.summary
    table = pd.read_csv(demo.strategies)
    figures = {
        "clicks": _clicks_figure(demo, out),
        "strategies": _strategy_figure(table, out),
        "sheet": demo.sheet,
        "curves": run_dir / "learning_curves.png",
        "confusion": _confusion_figure(metrics["confusion"], out),
    }
    numbers = {
        **summary,
        "CNN": f"compact, {size} px, {result.run['epochs_run']} epochs",
        "test cells": metrics["n"],
        "test balanced accuracy": f"{metrics['balanced_accuracy']:.3f}",
        "test ROC AUC": f"{metrics.get('roc_auc', float('nan')):.3f}",
    }
    rows = "\n".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in numbers.items()
    )
    columns = ["strategy", "n_cells", "precision", "recall", "f1", "label_accuracy"]
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>cellconsensus demo report</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }}
h1 {{ font-size: 1.6em; }} h2 {{ font-size: 1.2em; margin-top: 2em; }}
table {{ border-collapse: collapse; }} th, td {{ padding: 2px 10px; text-align: left; }}
tr:nth-child(even) {{ background: #f3f3f3; }} img {{ max-width: 100%; }}
</style></head>
<body>
<h1>cellconsensus demo report</h1>
<p>Synthetic fluorescence images, a simulated crowd's PyBossa export, consensus
cells, a patch store and a CNN trained on it: the whole pipeline on built-in data.</p>
<h2>Summary</h2>
<table id="summary">{rows}</table>
<h2>Clicks and consensus</h2>
<p>The busiest image: clicks coloured by annotator, consensus cells circled in
their label's colour with the label model's probability of that label, true cells
as white crosses, true cells no consensus found as orange X, consensus cells with
no true cell dashed.</p>
<img id="clicks" alt="clicks by annotator, consensus cells and the truth" src="{_png(figures["clicks"])}">
<h2>Strategies against the truth</h2>
<img id="strategies" alt="strategy comparison" src="{_png(figures["strategies"])}">
{_table_html(table[[c for c in columns if c in table]])}
<h2>Patches per class</h2>
<img id="sheet" alt="contact sheet of patches per class" src="{_png(figures["sheet"])}">
<h2>Training</h2>
<img id="curves" alt="learning curves" src="{_png(figures["curves"])}">
<img id="confusion" alt="confusion matrix" src="{_png(figures["confusion"])}">
<script>
// Marks the page once every figure has decoded (checked by the test suite in headless Chromium).
window.addEventListener("load", () => {{
  const ok = [...document.images].every((i) => i.complete && i.naturalWidth > 0);
  document.body.setAttribute("data-rendered", ok ? "ok" : "broken");
}});
</script>
</body></html>
"""
    index = out / "index.html"
    index.write_text(page)
    logger.info("wrote %s", index)
    return index
