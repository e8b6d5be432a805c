"""Write the report of a crowd data set (see :mod:`cellconsensus.report`)."""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from .. import defaults
from ..compare import comparison_table, run_strategies
from ..consensus import Consensus
from ..disagreement import image_disagreement, strategy_agreement
from ..plot import plot_agreement, plot_annotators, plot_disagreement, plot_image
from .html import ReportSection, key_value_table, page, save_figure, table_html
from .rankings import choose_images, errors_per_image, need_ranking

__all__ = ["write_report", "REPORT_STRATEGIES"]

logger = logging.getLogger(__name__)

#: Strategies compared in a report (the default, and two that cluster differently).
REPORT_STRATEGIES = ("dbscan", "hdbscan", "agglomerative")


def write_report(
    clicks: pd.DataFrame,
    out: str | os.PathLike,
    *,
    images: Any = None,
    truth: pd.DataFrame | None = None,
    strategies: Iterable[str] = REPORT_STRATEGIES,
    max_images: int = 60,
    per_page: int = 12,
    title: str = "Crowd consensus report",
    progress: bool = False,
    sections: Iterable[ReportSection] = (),
    consensus: Consensus | None = None,
    **consensus_kwargs: Any,
) -> Path:
    """Write the HTML report of a crowd data set (see the module docstring).

    Parameters
    ----------
    clicks : DataFrame
        A Clicks table (any reader's output; ``attrs["runs"]`` counts runs without
        a click).
    out : path-like
        The report's folder (created; the pages and figures of an earlier report
        there are replaced, other files left alone).
    images : folder, mapping or ImageSource, optional
        The pixels under the overlays (default: a dark canvas).
    truth : DataFrame, optional
        Ground truth: scores per strategy, misses and extras drawn.
    strategies : iterable of str
        Strategies compared (the first is the report's consensus; default
        :data:`REPORT_STRATEGIES`, dbscan with the library's defaults first).
    max_images : int, default 60
        Images drawn in the gallery.
    per_page : int, default 12
        Images per gallery page.
    title : str
        The report's title.
    progress : bool, default False
        Progress bars.
    consensus : Consensus, optional
        A consensus already found on ``clicks`` (e.g. with tuned parameters): the
        report's consensus, named by its strategy as resolved; ``strategies`` are
        then compared beside it.
    sections : iterable of ReportSection, default ()
        Sections other steps add to the summary page, after the summary; the images
        of their tables join the gallery.
    **consensus_kwargs
        Passed to :func:`~cellconsensus.find_consensus`.

    Returns
    -------
    Path
        ``out/index.html``.

    Examples
    --------
    >>> from cellconsensus import make_truth, simulate_crowd
    >>> import tempfile
    >>> truth = make_truth(4, seed=0)
    >>> index = write_report(simulate_crowd(truth, 3, seed=0), tempfile.mkdtemp(),
    ...                      truth=truth, max_images=2)
    >>> index.name
    'index.html'
    """
    if max_images < 0 or per_page < 1:
        raise ValueError(f"max_images >= 0 and per_page >= 1, got {max_images}, {per_page}")
    out = Path(out)
    figures = out / "figures"
    (out / "images").mkdir(parents=True, exist_ok=True)
    # An earlier report's pages and figures go (a smaller gallery leaves no stale page).
    for stale in [*out.glob("gallery-*.html"), *(out / "images").glob("*.html"),
                  *figures.glob("*.png")]:  # fmt: skip
        stale.unlink()
    names = list(dict.fromkeys(strategies))
    given = {} if consensus is None else {repr(consensus.strategy): consensus}
    results = given | run_strategies(clicks, names, labels=defaults.LABELS, progress=progress,
                                     **consensus_kwargs)  # fmt: skip
    names = list(results)
    main = results[names[0]]
    cells = main.cells
    cells_by_name = {name: r.cells for name, r in results.items()}
    comparison = comparison_table(results, truth)
    need = need_ranking(cells, clicks)
    disputed = image_disagreement(cells_by_name) if len(names) > 1 else None
    ids = sorted(set(clicks["image_id"].astype(str)) | set(need["image_id"]))
    sections = list(sections)
    rankings = [s.table for s in sections if s.table is not None and "image_id" in s.table]
    if truth is not None:
        errors = errors_per_image(cells, truth)
        rankings.append(errors)
    rankings += [need] + ([disputed] if disputed is not None else [])
    chosen = choose_images(ids, rankings, max_images)
    pages = {image_id: f"images/{k + 1:04d}.html" for k, image_id in enumerate(chosen)}

    # Per-image pages and gallery thumbnails.
    bar = tqdm(chosen, desc="report images", unit="image", disable=not progress)
    for k, image_id in enumerate(bar):
        number = f"{k + 1:04d}"
        overlay = save_figure(plot_image(image_id, images, clicks=clicks, cells=cells, truth=truth),
                        figures / f"{number}.png")  # fmt: skip
        doubt = save_figure(
            plot_disagreement(image_id, cells, images), figures / f"{number}-doubt.png"
        )
        mine = cells[cells["image_id"].astype(str) == image_id]
        columns = [c for c in ("cell_id", "x", "y", "label", "p_alive", "p_real", "support",
                               "n_annotators") if c in mine]  # fmt: skip
        links = " ".join(
            f'<a href="{Path(pages[chosen[j]]).name}">{label}</a>'
            for j, label in ((k - 1, "previous"), (k + 1, "next"))
            if 0 <= j < len(chosen)
        )
        body = (
            f"<nav>{links}</nav>\n"
            f'<img alt="overlay of {html.escape(image_id)}" src="../figures/{overlay}">\n'
            f"<h2>Cells in doubt</h2>\n"
            f'<img alt="cells in doubt" src="../figures/{doubt}">\n'
            f"<h2>Cells ({len(mine)})</h2>\n{table_html(mine[columns])}"
        )
        (out / pages[image_id]).write_text(page(f"Image {image_id}", body, root="../"))
    n_pages = max(1, -(-len(chosen) // per_page))
    for p in range(n_pages):
        part = chosen[p * per_page : (p + 1) * per_page]
        tiles = "\n".join(
            f'<a href="{pages[i]}"><img alt="{html.escape(i)}" loading="lazy" '
            f'src="figures/{Path(pages[i]).stem}.png"><br>{html.escape(i)}</a>'
            for i in part
        )
        nav = " ".join(
            f'<a href="gallery-{q + 1}.html">{q + 1}</a>' if q != p else f"<b>{q + 1}</b>"
            for q in range(n_pages)
        )
        body = (f'<p class="note">{len(chosen)} of {len(ids)} images, those needing a look '
                f"first. Pages: {nav}</p>\n<div class=\"grid\">{tiles}</div>")  # fmt: skip
        (out / f"gallery-{p + 1}.html").write_text(page(f"Gallery, page {p + 1}", body))

    # The summary page.
    parts = [_summary(main, clicks, cells, len(ids))]
    parts += [section.render(figures, pages) for section in sections]
    parts.append("<h2>Strategies</h2>\n" + (
        '<p class="note">agreement: mean detection F1 against the other strategies (no truth '
        "needed); with truth, the scores.</p>\n" + table_html(comparison.drop(columns=["params"]))
    ))  # fmt: skip
    if len(names) > 1:
        matrix = strategy_agreement(cells_by_name)
        agreement = save_figure(plot_agreement(matrix), figures / "agreement.png")
        parts.append(f'<img alt="agreement between strategies" src="figures/{agreement}">')
        parts.append("<h2>Images the strategies dispute most</h2>\n"
                        + table_html(disputed.head(20), pages))  # fmt: skip
    parts.append(
        '<h2>Where another annotator would help most</h2>\n<p class="note">need: the doubt '
        "of the image's cells one more annotator would share (a single annotator's cells "
        "count as coin flips).</p>\n" + table_html(need.head(20), pages)
    )
    if truth is not None:
        parts.append("<h2>Images with the most errors against the truth</h2>\n"
                        + table_html(errors.head(20), pages))  # fmt: skip
    table = main.annotators_
    if len(table):
        chart = save_figure(plot_annotators(table), figures / "annotators.png")
        worst = table.sort_values("spammer_score").head(20).reset_index()
        parts.append(
            f'<h2>Annotators</h2>\n<img alt="annotator reliability" src="figures/{chart}">\n'
            f'<p class="note">The 20 least reliable (lowest spammer score) of {len(table)}:'
            f"</p>\n{table_html(worst)}"
        )
    index = out / "index.html"
    index.write_text(page(title, "\n".join(parts)))
    logger.info("wrote %s (%d image pages)", index, len(chosen))
    return index


def _label_shares(cells: pd.DataFrame) -> str:
    """``35% dead`` for alive / dead cells, else the share of every label."""
    labels = cells["label"].astype(str)
    if "p_alive" in cells and "classes" not in cells.attrs:
        return f"{(labels == 'dead').mean():.0%} dead"
    shares = labels.value_counts(normalize=True)
    return ", ".join(f"{share:.0%} {name}" for name, share in shares.items())


def _summary(main, clicks: pd.DataFrame, cells: pd.DataFrame, n_images: int) -> str:
    report = main.report
    read = clicks.attrs.get("report")
    rows = {
        "clicks": f"{len(clicks):,}",
        "images": f"{n_images:,}",
        "annotators": f"{clicks['annotator_id'].nunique():,}",
        "images with a single annotator": f"{report.n_single_annotator_images:,}",
        "consensus": f"{main.strategy!r}, labels {main.aggregator!r}",
        "consensus cells": f"{len(cells):,} ({_label_shares(cells)})" if len(cells) else "0",
        "clicks in no cell": f"{report.n_noise:,} noise, {report.n_duplicate:,} duplicate, "
        f"{report.n_filtered:,} in filtered cells",
    }  # fmt: skip
    if read is not None:
        rows["read"] = (
            f"{', '.join(read.sources)}: {read.n_records:,} records, "
            f"{read.n_duplicate_runs:,} duplicate runs dropped, {read.n_empty_runs:,} empty runs"
        )
    return "<h2>Summary</h2>\n" + key_value_table(rows, "summary")
