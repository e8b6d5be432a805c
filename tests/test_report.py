"""The HTML report of any data set: every page, link and figure, in Chromium when there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _browser import needs_chromium, rendered_dom
from PIL import Image

from cellconsensus import find_consensus, simulate_crowd
from cellconsensus.cli import main
from cellconsensus.io import write_pybossa
from cellconsensus.report import need_ranking, write_report
from cellconsensus.synthetic import make_images

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def data():
    data = make_images(3, style="brightfield", seed=8)
    clicks = simulate_crowd(data.truth, 3, seed=8)
    # One image seen by a single annotator: it needs another one most.
    first = clicks.loc[clicks["image_id"] == "syn00002", "annotator_id"].iloc[0]
    keep = (clicks["image_id"] != "syn00002") | (clicks["annotator_id"] == first)
    lone = clicks[keep].reset_index(drop=True)
    runs = clicks.attrs["runs"]
    lone.attrs["runs"] = runs[(runs["image_id"] != "syn00002") | (runs["annotator_id"] == first)]
    return data, lone


@pytest.fixture(scope="module")
def report(data, tmp_path_factory) -> Path:
    images, clicks = data[0].images, data[1]
    out = tmp_path_factory.mktemp("report")
    return write_report(clicks, out, images=images, truth=data[0].truth, max_images=2,
                        per_page=1)  # fmt: skip


def _pages(root: Path) -> list[Path]:
    return sorted(root.rglob("*.html"))


def test_every_link_and_figure_resolves(report):
    root = report.parent
    pages = _pages(root)
    names = {str(p.relative_to(root)) for p in pages}
    assert {"index.html", "gallery-1.html", "gallery-2.html", "images/0001.html",
            "images/0002.html"} == names  # fmt: skip
    for page in pages:
        text = page.read_text()
        for target in re.findall(r'href="([^"#]+)"', text):
            assert (page.parent / target).resolve().exists(), (page.name, target)
        sources = re.findall(r'src="([^"]+\.png)"', text)
        for src in sources:
            with Image.open(page.parent / src) as image:
                assert image.width > 100
        assert "data-rendered" in text  # the decode check for browsers
    image_page = (root / "images" / "0001.html").read_text()
    assert "Cells in doubt" in image_page and "next" in image_page


def test_summary_ranks_need_disagreement_and_errors(report, data):
    text = report.read_text()
    for heading in ("Summary", "Strategies", "Images the strategies dispute most",
                    "Where another annotator would help most",
                    "Images with the most errors against the truth", "Annotators"):  # fmt: skip
        assert f"<h2>{heading}</h2>" in text, heading
    need = need_ranking(find_consensus(data[1]).cells, data[1])
    assert need["image_id"].iloc[0] == "syn00002"  # the single-annotator image
    assert need.loc[0, "annotators"] == 1 and need["need"].is_monotonic_decreasing
    gallery = (report.parent / "gallery-1.html").read_text()
    assert "2 of 3 images" in gallery


def test_cli_report(data, tmp_path, capsys):
    clicks = data[1]
    runs, tasks = write_pybossa(clicks, tmp_path / "runs.json", tmp_path / "tasks.json")
    args = ["report", str(runs), "--tasks", str(tasks), "-o", str(tmp_path / "r"),
            "--max-images", "1", "--strategies", "dbscan,hdbscan"]  # fmt: skip
    assert main(args) == 0
    assert "report:" in capsys.readouterr().out
    assert (tmp_path / "r" / "images" / "0001.html").exists()


def test_the_real_cell_spotting_export(cellspotting_csv, tmp_path, capsys):
    out = tmp_path / "real"
    assert main(["report", str(cellspotting_csv), "-o", str(out), "--max-images", "3"]) == 0
    text = (out / "index.html").read_text()
    summary = dict(re.findall(r"<tr><th>([^<]+)</th><td>([^<]+)</td></tr>", text))
    assert summary["clicks"] == "8,004"
    assert int(summary["images with a single annotator"].replace(",", "")) >= 600
    assert "cellspotting" in summary["read"]
    # The three images drawn are linked from the rankings, every link resolves.
    pages = _pages(out)
    assert len(list((out / "images").glob("*.html"))) == 3
    for page in pages:
        for target in re.findall(r'href="([^"#]+)"', page.read_text()):
            assert (page.parent / target).resolve().exists(), (page.name, target)
    need = text[text.index("Where another annotator would help most") :]
    assert re.search(r'<a href="images/\d+\.html">', need)


@needs_chromium
def test_report_pages_render_in_headless_chromium(report):
    for page in _pages(report.parent):
        dom = rendered_dom(page)
        assert 'data-rendered="ok"' in dom, page.name  # every figure decoded


def test_a_section_of_another_step_is_drawn_and_its_images_join_the_gallery(data, tmp_path):
    import pandas as pd

    from cellconsensus.plot import pyplot
    from cellconsensus.report import ReportSection

    images, clicks = data[0].images, data[1]
    fig = pyplot().figure(figsize=(2, 2))
    fig.gca().plot([0, 1], [0, 1])
    # An image the other rankings would not put first: the section's table brings it in.
    section = ReportSection("Model checks", "<p>from another step</p>",
                            (("mine", fig, "a line"),),
                            pd.DataFrame({"image_id": ["syn00001"], "n": [3]}))  # fmt: skip
    (tmp_path / "gallery-9.html").write_text("an earlier, larger report's page")
    (tmp_path / "notes.txt").write_text("the user's own file")
    index = write_report(clicks, tmp_path, images=images, max_images=1, sections=[section])
    assert not (tmp_path / "gallery-9.html").exists() and (tmp_path / "notes.txt").exists()
    page = index.read_text()
    assert "<h2>Model checks</h2>" in page and "from another step" in page
    assert re.search(r'<img id="mine" alt="a line" src="figures/mine.png">', page)
    assert (tmp_path / "figures" / "mine.png").stat().st_size > 500
    link = re.search(r'<a href="(images/\d+\.html)">syn00001</a>', page)
    assert link and (tmp_path / link.group(1)).is_file()
    # A consensus found elsewhere is the report's, named by its strategy as resolved.
    given = find_consensus(clicks, params={"eps": 7.5})
    index = write_report(clicks, tmp_path / "given", consensus=given, strategies=["hdbscan"],
                         max_images=0)  # fmt: skip
    assert "DBSCANStrategy(eps=7.5)" in index.read_text()


def test_a_figure_id_must_be_a_safe_file_name():
    from cellconsensus.report import ReportSection

    with pytest.raises(ValueError, match="figure id"):
        ReportSection("x", figures=(("../evil", None, "alt"),))
