"""Shared by the examples: where real data lives and the two command-line flags."""

from __future__ import annotations

import argparse
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def parser(doc: str) -> argparse.ArgumentParser:
    """``--real`` (read ../shared/data) and ``--out`` (where files go)."""
    p = argparse.ArgumentParser(
        description=doc.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--real", action="store_true", help="use the real data in ../shared/data")
    p.add_argument("--out", type=Path, default=Path("example-output"), help="output folder")
    return p


def real(*parts: str) -> Path:
    """A path in ../shared/data, or exit with a clear message when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        raise SystemExit(f"real data not found at {path} (see ../shared/data/README.md)")
    return path
