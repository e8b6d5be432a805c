"""Helpers shared by the benchmark scripts: timing, spreads, machine records, result files.

Every script writes ``results/<name>.json`` (machine, package versions, seeds
and every measurement) and, where it has one, ``results/<name>.md`` (its
Markdown table); ``report.py`` assembles ``docs/benchmarks.md`` from them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

#: Where results go; smoke tests point ``CELLCONSENSUS_BENCH_RESULTS`` elsewhere so
#: that they never overwrite measured figures.
RESULTS = Path(
    os.environ.get("CELLCONSENSUS_BENCH_RESULTS", Path(__file__).resolve().parent / "results")
)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: Packages whose versions are recorded with every result.
PACKAGES = (
    "cellconsensus",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "zarr",
    "xarray",
    "tensorflow-cpu",
    "tensorflow",
    "keras",
    "crowd-kit",
    "panoptes-aggregation",
)


def parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser with the suite's common ``--quick`` flag."""
    p = argparse.ArgumentParser(
        description=doc.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="a small workload (CI smoke test)")
    return p


def timed(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, list[float], Any]:
    """Median wall time of ``repeats`` calls, every time, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def peak_memory_mib(fn: Callable[[], Any]) -> float:
    """Peak memory allocated through Python's allocators (NumPy and pandas included)
    while ``fn`` runs, in MiB (a separate, untimed call: tracing slows the work)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def interval_text(bounds, digits: int = 3) -> str:
    """``"0.951 - 0.972"`` for an interval's ``(low, high)``, ``"-"`` where it has none.

    Examples
    --------
    >>> interval_text((0.95138, 0.97309)), interval_text((None, None)), interval_text([0.5, 1], 4)
    ('0.951 - 0.973', '-', '0.5000 - 1.0000')
    """
    values = [float(v) for v in bounds if v is not None and math.isfinite(v)]
    if len(values) != 2:
        return "-"
    return " - ".join(f"{v:.{digits}f}" for v in values)


def spread(values: Iterable[float]) -> dict[str, float]:
    """Median, minimum, maximum and count of repeated measurements."""
    v = [float(x) for x in values]
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """The machine and the versions of the packages that matter."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
    }


def markdown_table(rows: Sequence[dict], columns: dict[str, str]) -> str:
    """A Markdown table of ``rows``; ``columns`` maps a key to a header, and a key
    may carry a format after a colon (``"f1:.3f"``)."""
    keys = [(k.split(":", 1) + [""])[:2] for k in columns]
    lines = ["| " + " | ".join(columns.values()) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for key, fmt in keys:
            value = row.get(key, "")
            cells.append(
                format(value, fmt) if fmt and isinstance(value, int | float) else str(value)
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_result(name: str, payload: dict, markdown: str | None = None) -> Path:
    """Write ``results/<name>.json`` with the machine added, and ``<name>.md`` if given."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine(), **payload}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float))
    if markdown is not None:
        (RESULTS / f"{name}.md").write_text(markdown.rstrip() + "\n")
    return path
