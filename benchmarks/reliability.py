"""Reliability: fuzzed inputs, killed builds and damaged stores, every outcome counted.

    python benchmarks/reliability.py [--quick] [--examples N] [--workers N]

Runs three parts of the test suite with their long profiles and counts what each
case ended in (``tests/_tally.py`` records one line per case):

- the fuzz suite (``tests/test_fuzz.py``) at ``--examples`` hypothesis examples per
  test: every reader, consensus on degenerate tables, patches of bad cells and bad
  images, ``predict`` on bad points. A case ends in a valid result, a result under a
  documented policy that counted what it dropped or moved, or a clear
  ``CellConsensusInputError``; anything else fails its test;
- the kill matrix (``tests/test_resume.py`` with ``CELLCONSENSUS_KILL_MATRIX=full``):
  a real build process killed before and after every call of every step, for one
  process, ``n_jobs=2``, an append and a Dask cluster, then re-run: the store must end
  identical, chunk file for chunk file, to an uninterrupted build;
- the corruption sweep (``tests/test_integrity.py``): every chunk file of a store
  deleted, emptied, truncated, bit-flipped and swapped with another chunk, one at a
  time: ``verify_store`` must name exactly that chunk.

A failed test is a case that was not handled (a silent result or an escaped
exception): the table counts them, and the target is none.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from _common import markdown_table, parser, write_result

TESTS = Path(__file__).resolve().parents[1] / "tests"
FUZZ, KILL, INTEGRITY = "test_fuzz.py", "test_resume.py", "test_integrity.py"
#: The one kill point of a quick run (each costs a fresh Python process).
QUICK_KILL = f"{KILL}::test_a_build_killed_anywhere_resumes_to_the_uninterrupted_store"


def run_suite(
    targets: list[str], examples: int, full_matrix: bool, workers: int, select: str | None = None
) -> dict:
    """Run ``targets`` under pytest with the tally on (``select``: a ``-k`` expression): per-test
    outcomes and tallied cases."""
    with tempfile.TemporaryDirectory() as tmp:
        tally, junit = Path(tmp) / "tally.jsonl", Path(tmp) / "junit.xml"
        env = {
            **os.environ,
            "CELLCONSENSUS_RELIABILITY_TALLY": str(tally),
            "CELLCONSENSUS_FUZZ_EXAMPLES": str(examples),
            "CELLCONSENSUS_KILL_MATRIX": "full" if full_matrix else "chosen",
        }
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   f"--junitxml={junit}", *(["-n", str(workers)] if workers > 1 else []),
                   *(["-k", select] if select else []), *targets]  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run(command, cwd=TESTS.parent, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        cases = (
            [json.loads(line) for line in tally.read_text().splitlines()] if tally.exists() else []
        )
        tests = collections.Counter()
        failed = []
        for case in ET.parse(junit).getroot().iter("testcase"):
            module = case.get("classname", "").rsplit(".", 1)[-1] + ".py"
            outcome = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "ok")
            tests[module, outcome] += 1
            if outcome in ("failure", "error"):
                failed.append(f"{module}::{case.get('name')}")
    if done.returncode not in (0, 1):  # 1: some test failed (counted below); else pytest broke
        raise SystemExit(f"pytest exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr}")
    return {"cases": cases, "tests": tests, "failed": failed, "seconds": seconds,
            "pytest_tail": done.stdout[-2000:]}  # fmt: skip


def summarise(run: dict) -> dict:
    """Rows of the three tables from a run's tallied cases and failed tests."""
    counts = collections.Counter((c["area"], c["outcome"]) for c in run["cases"])
    areas = sorted({area for area, _ in counts})
    failed_in = collections.Counter(name.split("::")[0] for name in run["failed"])
    fuzz = [
        {
            "area": area,
            "cases": sum(counts[area, o] for o in ("result", "policy", "error")),
            "result": counts[area, "result"],
            "policy": counts[area, "policy"],
            "error": counts[area, "error"],
        }
        for area in areas
        if not area.startswith(("kill points", "chunks damaged"))
    ]
    kills = [
        {"executor": area.split(": ")[1], "resumed": counts[area, "resumed"]}
        for area in areas
        if area.startswith("kill points")
    ]
    chunks = [
        {"damage": area.split(": ")[1], "detected": counts[area, "detected"]}
        for area in areas
        if area.startswith("chunks damaged")
    ]
    tried_kills = sum(n for (module, outcome), n in run["tests"].items()
                      if module == KILL and outcome != "skipped")  # fmt: skip
    return {
        "fuzz": fuzz,
        "kill": kills,
        "chunks": chunks,
        "kill_points_tried": tried_kills,
        "failed_tests": run["failed"],
        "failed_by_module": dict(failed_in),
        "seconds": run["seconds"],
    }


def report(summary: dict, examples: int, full_matrix: bool) -> str:
    fuzz = summary["fuzz"]
    total = sum(r["cases"] for r in fuzz)
    resumed = sum(r["resumed"] for r in summary["kill"])
    detected = sum(r["detected"] for r in summary["chunks"])
    failed = summary["failed_tests"]
    matrix = "every call of every step, before and after" if full_matrix else "a quick run"
    lines = [
        f"**{total:,} fuzzed cases** ({examples:,} hypothesis examples per test), each ended "
        "in a valid result, a result under a documented policy that counted what it dropped "
        "or moved, or a clear `CellConsensusInputError`"
        + (" (and no test failed)." if not failed else f"; {len(failed)} test(s) failed:"),
        "",
        markdown_table(
            fuzz,
            {
                "area": "area",
                "cases": "cases",
                "result": "result",
                "policy": "policy (counted)",
                "error": "clear error",
            },
        ),
        "",
        f"**Kill matrix** ({matrix}): "
        f"{resumed} of {summary['kill_points_tried']} killed builds resumed to a store identical "
        "to an uninterrupted build.",
        "",
        markdown_table(summary["kill"], {"executor": "executor", "resumed": "kill points resumed"}),
        "",
        f"**Corruption sweep**: {detected} damaged chunk files, each found and named alone by "
        "`verify_store`.",
        "",
        markdown_table(summary["chunks"], {"damage": "damage", "detected": "chunks detected"}),
        "",
        f"Cases not handled (failed tests): **{len(failed)}**"
        + ("" if not failed else ": " + ", ".join(f"`{f}`" for f in failed))
        + f". Run time {summary['seconds']:.0f} s.",
    ]
    return "\n".join(lines)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--examples", type=int, default=2000, help="hypothesis examples per fuzz test")
    p.add_argument("--workers", type=int, default=2, help="pytest-xdist processes")
    args = p.parse_args()
    select = None
    if args.quick:
        examples, full, targets = (
            3,
            False,
            [f"{FUZZ}", INTEGRITY, f"{QUICK_KILL}[serial-after-flush-1]"],
        )
        select = "not predict"  # a smoke run: no model to train, no TensorFlow to start
    else:
        examples, full, targets = args.examples, True, [FUZZ, KILL, INTEGRITY]
    run = run_suite([f"tests/{t}" for t in targets], examples, full, args.workers, select)
    summary = summarise(run)
    text = report(summary, examples, full)
    print(text)
    write_result("reliability", {"examples": examples, "full_matrix": full, **summary}, text)
    if summary["failed_tests"]:
        print(run["pytest_tail"])
        raise SystemExit(1)


if __name__ == "__main__":
    main()
