"""`make demo`'s two steps on a small set, and the HTML report in headless Chromium."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _browser import BROWSER, needs_chromium, rendered_dom
from PIL import Image

FIGURES = ("strategies", "sheet", "curves", "confusion", "roc", "reliability", "worst",
           "disagreements", "detected-0")  # fmt: skip


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    demo, out = root / "demo-output", root / "demo-report"
    for command in (
        [sys.executable, "-m", "cellconsensus", "demo", "--n-images", "24", "--out", str(demo)],
        [
            sys.executable,
            "-m",
            "cellcnn",
            "demo",
            str(demo),
            "--report",
            str(out),
            "--epochs",
            "1",
            "--detector-epochs",
            "1",
        ],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    assert "6. the report:" in done.stdout
    return out / "index.html"


def test_report_has_every_part(report):
    page = report.read_text()
    for figure in FIGURES:
        match = re.search(rf'<img id="{figure}"[^>]*src="(figures/[^"]+)"', page)
        assert match, figure
        with Image.open(report.parent / match.group(1)) as image:
            assert min(image.size) > 50, figure
    for number in (
        "clicks",
        "consensus cells",
        "test balanced accuracy",
        "radius-thesis",
        "Where the CNN and the crowd disagree",
        "Where another annotator would help",
        "Cells found without clicks",
        "detection F1",
    ):
        assert number in page  # fmt: skip
    # The CNN's test figures with their bootstrap intervals.
    assert re.search(r"test balanced accuracy.{0,80}?\d\.\d{3} \(95 % interval \d\.\d{3}-\d\.\d{3}\)",
                     page, re.S)  # fmt: skip
    # The images drawn a page each, linked from the gallery, their overlay on the page.
    gallery = (report.parent / "gallery-1.html").read_text()
    first = re.search(r'<a href="(images/\d+\.html)">', gallery).group(1)
    overlay = re.search(r'alt="overlay of [^"]+" src="\.\./(figures/[^"]+)"',
                        (report.parent / first).read_text()).group(1)  # fmt: skip
    with Image.open(report.parent / overlay) as image:
        assert min(image.size) > 100


def test_disagreeing_cells_link_to_their_images(report):
    page = report.read_text()
    section = page[page.index("Where the CNN and the crowd disagree") :]
    links = re.findall(r'<a href="(images/\d+\.html)">', section)
    assert links and all((report.parent / link).is_file() for link in links)


def test_report_without_a_demo_says_what_to_run(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "cellcnn", "demo", str(tmp_path), "--report", str(tmp_path / "r")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "run `cellconsensus demo" in done.stderr


@needs_chromium
def test_report_renders_in_headless_chromium(report, tmp_path):
    assert 'data-rendered="ok"' in rendered_dom(report)  # every figure decoded
    shot = tmp_path / "report.png"
    subprocess.run(
        [*BROWSER, f"--screenshot={shot}", "--window-size=1200,2400", report.as_uri()],
        capture_output=True,
        timeout=120,
    )
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 10  # not a blank page
