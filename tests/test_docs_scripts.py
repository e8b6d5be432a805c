"""The scripts that draw documentation figures run, so the docs cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image

SCRIPTS = Path(__file__).resolve().parents[1] / "docs" / "scripts"


def _script(name: str, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / name), *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done


def test_gallery_draws_both_styles(tmp_path):
    _script("gallery.py", "--out", str(tmp_path))
    for style in ("fluorescence", "brightfield"):
        with Image.open(tmp_path / f"gallery-{style}.png") as image:
            assert image.width > 400 and image.height > 400


def test_gallery_without_real_data_still_draws_the_synthetic_rows(tmp_path):
    _script("gallery.py", "--out", str(tmp_path), "--data", str(tmp_path / "nowhere"))
    assert (tmp_path / "gallery-brightfield.png").exists()


def test_screenshots_draw_the_overlay_and_with_chromium_the_report(tmp_path):
    import shutil

    done = _script("screenshots.py", "--out", str(tmp_path))
    with Image.open(tmp_path / "overlay.png") as image:
        assert image.width > 300
    if shutil.which("chromium"):
        with Image.open(tmp_path / "report.png") as image:
            assert image.size == (800, 1000) and len(image.getcolors(256) or []) > 8
    else:
        assert "Chromium is not installed" in done.stdout
