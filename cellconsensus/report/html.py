"""The report's HTML: the page frame, tables with image links, figures, and the sections
other steps add (:class:`ReportSection`)."""

from __future__ import annotations

import html
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..plot import pyplot

__all__ = ["ReportSection", "page", "table_html", "save_figure", "key_value_table"]

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


def page(title: str, body: str, root: str = "") -> str:
    """A whole page: navigation, title, body and the decode check."""
    nav = f'<nav><a href="{root}index.html">summary</a><a href="{root}gallery-1.html">gallery</a></nav>'
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{nav}\n"
        f"<h1>{html.escape(title)}</h1>\n{body}\n{SCRIPT}\n</body></html>\n"
    )


def table_html(table: pd.DataFrame, links: dict[str, str] | None = None) -> str:
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


def key_value_table(rows: dict[str, Any], table_id: str) -> str:
    """A two-column table of names and values (escaped), e.g. a summary.

    Examples
    --------
    >>> key_value_table({"cells": 3}, "summary")
    '<table id="summary"><tr><th>cells</th><td>3</td></tr></table>'
    """
    body = "\n".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in rows.items()
    )
    return f'<table id="{table_id}">{body}</table>'


def save_figure(fig, path: Path, dpi: int = 80) -> str:
    """Save and close a figure; its file name."""
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
                save_figure(figure, path)
            parts.append(f'<img id="{figure_id}" alt="{html.escape(alt)}" '
                         f'src="figures/{path.name}">')  # fmt: skip
        if self.table is not None:
            parts.append(table_html(self.table, links))
        return "\n".join(p for p in parts if p)
