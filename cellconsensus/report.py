"""A browsable HTML report of any crowd data set: consensus, disagreement, volunteers.

:func:`write_report` (``cellconsensus report INPUT -o DIR``) runs the default
consensus and the strategies to compare on a Clicks table and writes a folder
that opens offline in any browser:

- ``index.html``: what was read and found; how far the strategies agree without any
  truth (matrix, and the images they dispute most); the annotators (chart and the
  least reliable); the images where another annotator would help most; with truth,
  every strategy's scores and the images with the most errors;
- ``gallery-<n>.html``: every reported image as an overlay (clicks by annotator,
  cells by label and posterior, truth with misses and extras), a page at a time;
- ``images/<n>.html``: one image large, its cells in doubt, its cells' table.

Figures are PNG files under ``figures/``; pages link by number, so any image id
is safe. Images are chosen for the gallery by how much they need a look (the
most disputed and most doubtful first), at most ``max_images``.

Other steps add their own sections to the summary page as :class:`ReportSection`
objects (``cellcnn demo`` adds the CNN's: learning curves, ROC, reliability, worst
errors, the cells where the CNN and the crowd disagree).
"""

from __future__ import annotations

import html
import logging
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import defaults
from .compare import comparison_table, run_strategies
from .consensus import Consensus
from .disagreement import cell_doubt, image_disagreement, strategy_agreement
from .metrics import score
from .plot import plot_agreement, plot_annotators, plot_disagreement, plot_image, pyplot
from .tables import count_runs, encode_clicks

__all__ = ["write_report", "need_ranking", "ReportSection", "REPORT_STRATEGIES"]

logger = logging.getLogger(__name__)

#: Strategies compared in a report (the default, and two that cluster differently).
REPORT_STRATEGIES = ("dbscan", "hdbscan", "agglomerative")

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1150px; margin: 1.5em auto; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 2px 10px; text-align: left; } tr:nth-child(even) { background: #f3f3f3; }
img { max-width: 100%; } nav { margin: 1em 0; } nav a { margin-right: 1em; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px; }
.grid a { text-decoration: none; color: #222; font-size: 0.85em; } .note { color: #555; }
"""

SCRIPT = """<script>
// Marks the page once every figure has decoded (checked by the tests in headless Chromium).
window.addEventListener("load", () => {
  const ok = [...document.images].every((i) => i.complete && i.naturalWidth > 0);
  document.body.setAttribute("data-rendered", ok ? "ok" : "broken");
});
</script>"""


def _page(title: str, body: str, root: str = "") -> str:
    nav = f'<nav><a href="{root}index.html">summary</a><a href="{root}gallery-1.html">gallery</a></nav>'
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{nav}\n"
        f"<h1>{html.escape(title)}</h1>\n{body}\n{SCRIPT}\n</body></html>\n"
    )


def _table(table: pd.DataFrame, links: dict[str, str] | None = None) -> str:
    """A table as HTML; ``links`` maps an image id to its page (the ``image_id`` cells)."""
    shown = table.copy()
    if links and "image_id" in shown:
        shown["image_id"] = [
            f'<a href="{links[str(i)]}">{html.escape(str(i))}</a>' if str(i) in links
            else html.escape(str(i))
            for i in shown["image_id"]
        ]  # fmt: skip
    return shown.to_html(index=False, escape=False, border=0,
                         float_format=lambda v: f"{v:.3f}")  # fmt: skip


def _save(fig, path: Path, dpi: int = 80) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    return path.name


@dataclass(frozen=True)
class ReportSection:
    """A section another step adds to a report's summary page.

    Rendered in this order: the title, ``note``, the figures, the table.

    Parameters
    ----------
    title : str
        The section's heading.
    note : str, default ""
        HTML shown under the heading (escape any text you did not write).
    figures : tuple of (id, figure, alt), default ()
        ``id`` names the ``<img>`` and its file ``figures/<id>.png`` (letters, digits,
        ``-`` and ``_``); ``figure`` is a matplotlib Figure or the path of a PNG file
        (copied); ``alt`` is the text a screen reader says.
    table : DataFrame, optional
        Shown under the figures; its ``image_id`` cells link to the images' pages,
        and its images are drawn in the gallery.

    Examples
    --------
    >>> import pandas as pd
    >>> section = ReportSection("Extra", "<p>a note</p>", table=pd.DataFrame({"n": [1]}))
    >>> section.title
    'Extra'
    """

    title: str
    note: str = ""
    figures: tuple[tuple[str, Any, str], ...] = ()
    table: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        for figure_id, _, _ in self.figures:
            if not re.fullmatch(r"[A-Za-z0-9_-]+", figure_id):
                raise ValueError(f"figure id {figure_id!r}: use letters, digits, - and _")

    def render(self, figures: Path, links: dict[str, str]) -> str:
        """The section's HTML; its figures are written to the folder ``figures``."""
        parts = [f"<h2>{html.escape(self.title)}</h2>", self.note]
        for figure_id, figure, alt in self.figures:
            path = figures / f"{figure_id}.png"
            if isinstance(figure, (str, os.PathLike)):
                figures.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(figure, path)
            else:
                _save(figure, path)
            parts.append(f'<img id="{figure_id}" alt="{html.escape(alt)}" '
                         f'src="figures/{path.name}">')  # fmt: skip
        if self.table is not None:
            parts.append(_table(self.table, links))
        return "\n".join(p for p in parts if p)


def need_ranking(cells: pd.DataFrame, clicks: pd.DataFrame) -> pd.DataFrame:
    """Images ranked by how much another annotator would help (a first, simple measure).

    Per image: its annotators (runs), its cells, the cells in doubt (doubt above
    0.5, :func:`~cellconsensus.disagreement.cell_doubt`) and ``need``, the summed
    doubt of its cells divided by its annotators (the doubt one more annotator
    would share), images with a single annotator counting each cell as a coin flip
    (one volunteer's word is never a consensus). Highest need first.

    Examples
    --------
    >>> from cellconsensus import find_consensus, make_truth, simulate_crowd
    >>> clicks = simulate_crowd(make_truth(3, seed=0), 3, seed=0)
    >>> table = need_ranking(find_consensus(clicks).cells, clicks)
    >>> list(table.columns)
    ['image_id', 'annotators', 'cells', 'cells_in_doubt', 'need']
    """
    table, codes = encode_clicks(clicks.drop(columns=["run_id"], errors="ignore"))
    clicked, empty, _ = count_runs(codes, clicks.attrs.get("runs"))
    runs = pd.Series(clicked + empty, index=codes.images.astype(str))
    doubt = cell_doubt(cells)["doubt"]
    ids = cells["image_id"].astype(str)
    per_image = pd.DataFrame({"image_id": ids, "doubt": doubt.to_numpy()})
    grouped = per_image.groupby("image_id")["doubt"]
    out = pd.DataFrame({"annotators": runs})
    out["cells"] = grouped.size().reindex(out.index, fill_value=0)
    in_doubt = (per_image["doubt"] > 0.5).groupby(per_image["image_id"]).sum()
    out["cells_in_doubt"] = in_doubt.reindex(out.index, fill_value=0).astype(int)
    summed = grouped.sum().reindex(out.index, fill_value=0.0)
    single = out["annotators"] <= 1
    out["need"] = np.where(single, out["cells"].astype(float), summed) / out["annotators"].clip(
        lower=1
    )
    out = out.rename_axis("image_id").reset_index()
    return out.sort_values(
        ["need", "image_id"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)


def _choose_images(ids: list[str], rankings: Iterable[pd.DataFrame], max_images: int) -> list[str]:
    """The images a report draws: the top of each ranking in turn, then the rest by id."""
    chosen: list[str] = []
    tops = [list(r["image_id"].astype(str)) for r in rankings]
    for k in range(max(map(len, tops), default=0)):
        for top in tops:
            if k < len(top) and top[k] not in chosen and len(chosen) < max_images:
                chosen.append(top[k])
    for image_id in ids:
        if len(chosen) >= max_images:
            break
        if image_id not in chosen:
            chosen.append(image_id)
    return chosen


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
        errors = _errors_per_image(cells, truth)
        rankings.append(errors)
    rankings += [need] + ([disputed] if disputed is not None else [])
    chosen = _choose_images(ids, rankings, max_images)
    pages = {image_id: f"images/{k + 1:04d}.html" for k, image_id in enumerate(chosen)}

    # Per-image pages and gallery thumbnails.
    bar = tqdm(chosen, desc="report images", unit="image", disable=not progress)
    for k, image_id in enumerate(bar):
        number = f"{k + 1:04d}"
        overlay = _save(plot_image(image_id, images, clicks=clicks, cells=cells, truth=truth),
                        figures / f"{number}.png")  # fmt: skip
        doubt = _save(plot_disagreement(image_id, cells, images), figures / f"{number}-doubt.png")
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
            f"<h2>Cells ({len(mine)})</h2>\n{_table(mine[columns])}"
        )
        (out / pages[image_id]).write_text(_page(f"Image {image_id}", body, root="../"))
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
        (out / f"gallery-{p + 1}.html").write_text(_page(f"Gallery, page {p + 1}", body))

    # The summary page.
    parts = [_summary(main, clicks, cells, len(ids))]
    parts += [section.render(figures, pages) for section in sections]
    parts.append("<h2>Strategies</h2>\n" + (
        '<p class="note">agreement: mean detection F1 against the other strategies (no truth '
        "needed); with truth, the scores.</p>\n" + _table(comparison.drop(columns=["params"]))
    ))  # fmt: skip
    if len(names) > 1:
        matrix = strategy_agreement(cells_by_name)
        agreement = _save(plot_agreement(matrix), figures / "agreement.png")
        parts.append(f'<img alt="agreement between strategies" src="figures/{agreement}">')
        parts.append("<h2>Images the strategies dispute most</h2>\n"
                        + _table(disputed.head(20), pages))  # fmt: skip
    parts.append(
        '<h2>Where another annotator would help most</h2>\n<p class="note">need: the doubt '
        "of the image's cells one more annotator would share (a single annotator's cells "
        "count as coin flips).</p>\n" + _table(need.head(20), pages)
    )
    if truth is not None:
        parts.append("<h2>Images with the most errors against the truth</h2>\n"
                        + _table(errors.head(20), pages))  # fmt: skip
    table = main.annotators_
    if len(table):
        chart = _save(plot_annotators(table), figures / "annotators.png")
        worst = table.sort_values("spammer_score").head(20).reset_index()
        parts.append(
            f'<h2>Annotators</h2>\n<img alt="annotator reliability" src="figures/{chart}">\n'
            f'<p class="note">The 20 least reliable (lowest spammer score) of {len(table)}:'
            f"</p>\n{_table(worst)}"
        )
    index = out / "index.html"
    index.write_text(_page(title, "\n".join(parts)))
    logger.info("wrote %s (%d image pages)", index, len(chosen))
    return index


def _summary(main, clicks: pd.DataFrame, cells: pd.DataFrame, n_images: int) -> str:
    report = main.report
    read = clicks.attrs.get("report")
    rows = {
        "clicks": f"{len(clicks):,}",
        "images": f"{n_images:,}",
        "annotators": f"{clicks['annotator_id'].nunique():,}",
        "images with a single annotator": f"{report.n_single_annotator_images:,}",
        "consensus": f"{main.strategy!r}, labels {main.aggregator!r}",
        "consensus cells": f"{len(cells):,} ({(cells['label'] == 'dead').mean():.0%} dead)"
        if len(cells) else "0",
        "clicks in no cell": f"{report.n_noise:,} noise, {report.n_duplicate:,} duplicate, "
        f"{report.n_filtered:,} in filtered cells",
    }  # fmt: skip
    if read is not None:
        rows["read"] = (
            f"{', '.join(read.sources)}: {read.n_records:,} records, "
            f"{read.n_duplicate_runs:,} duplicate runs dropped, {read.n_empty_runs:,} empty runs"
        )
    body = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows.items()
    )
    return f'<h2>Summary</h2>\n<table id="summary">{body}</table>'


def _errors_per_image(cells: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per image: true cells missed, extra cells, wrong labels; most errors first."""
    s = score(cells, truth)
    matches = s.matches
    ids = truth.attrs.get("image_ids") or sorted(set(truth["image_id"].astype(str)))
    n_true = truth["image_id"].astype(str).value_counts().reindex(ids, fill_value=0)
    n_cells = cells["image_id"].astype(str).value_counts().reindex(ids, fill_value=0)
    tp = matches.groupby(matches["image_id"].astype(str)).size().reindex(ids, fill_value=0)
    wrong = pd.Series(0, index=pd.Index(ids))
    if len(matches):
        predicted = cells["label"].astype(str).to_numpy()[matches["cell"].to_numpy()]
        actual = truth["label"].astype(str).to_numpy()[matches["truth"].to_numpy()]
        bad = pd.Series(predicted != actual, index=matches["image_id"].astype(str))
        wrong = bad.groupby(level=0).sum().reindex(ids, fill_value=0)
    table = pd.DataFrame({"image_id": ids, "true_cells": n_true.to_numpy(),
                          "missed": (n_true - tp).to_numpy(), "extra": (n_cells - tp).to_numpy(),
                          "wrong_label": wrong.to_numpy()})  # fmt: skip
    table["errors"] = table["missed"] + table["extra"] + table["wrong_label"]
    return table.sort_values(["errors", "image_id"], ascending=[False, True],
                             kind="stable").reset_index(drop=True)  # fmt: skip
