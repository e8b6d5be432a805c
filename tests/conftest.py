"""Shared fixtures: real data in ../shared/data (skipped with a message when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CELLSPOTTING_CSV = DATA / "cellspotting" / "runs" / "task_runs_1000.csv"
LDC_IMAGES = DATA / "ldc" / "images"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not found at {path} (../shared/data is absent)")
    return path


@pytest.fixture(scope="session")
def cellspotting_csv() -> Path:
    return _need(CELLSPOTTING_CSV)


@pytest.fixture(scope="session")
def ldc_images() -> Path:
    return _need(LDC_IMAGES)


@pytest.fixture(scope="session")
def cellspotting_images() -> Path:
    return _need(DATA / "cellspotting" / "app_images")
