"""Helpers shared by the benchmark scripts: repeated timing and result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Where results go; smoke tests point ``CELLCONSENSUS_BENCH_RESULTS`` elsewhere so
#: that they never overwrite measured figures.
RESULTS = Path(
    os.environ.get("CELLCONSENSUS_BENCH_RESULTS", Path(__file__).resolve().parent / "results")
)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def timed(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, list[float], Any]:
    """Median wall time of ``repeats`` calls, every time, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def write_result(name: str, payload: dict) -> Path:
    """Write ``results/<name>.json`` with the machine description added."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        **payload,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float))
    return path
