"""Headless Chromium for the report tests (they skip where it is not installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

BROWSER = ["chromium", "--headless", "--no-sandbox", "--disable-gpu"]
needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Chromium is not installed"
)


def rendered_dom(page: Path) -> str:
    """The page's DOM after its scripts ran (the pages mark ``data-rendered``)."""
    return subprocess.run(
        [*BROWSER, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
