"""Run the benchmark suite, then assemble docs/benchmarks.md.

    python benchmarks/run.py [--quick] [--only NAME ...] [--skip NAME ...]

Each benchmark runs in its own process (isolated timings and memory), in the
order of :data:`SUITE`; a failing one is reported and the rest still run. Full
runs write ``benchmarks/results/`` and rebuild ``docs/benchmarks.md``; with
``--quick`` (the CI smoke mode, a few minutes) results go to
``benchmarks/results/quick/`` and the report to ``results/quick/benchmarks.md``,
so a smoke run never replaces measured figures. ``make bench`` and ``make
bench-quick`` run the peer comparisons with ``.venv-bench``'s interpreter
(``--peers-python``), where the peer libraries are, and the rest with
``.venv``'s (TensorFlow).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: (name, script, extra arguments of a full run, compares with peers): the suite, in order.
SUITE = [
    ("consensus_accuracy", "consensus_accuracy.py", ["--seeds", "2"], True),
    ("label_aggregation", "label_aggregation.py", [], True),
    ("label_classes", "label_classes.py", [], True),
    ("three_classes", "three_classes.py", [], True),
    ("three_classes_cnn", "three_classes_cnn.py", [], False),
    ("real_cellspotting", "real_cellspotting.py", [], False),
    ("allocation", "allocation.py", [], False),
    ("detection", "detection.py", [], False),
    ("detector_input", "detector_input.py", [], False),
    ("ensemble", "ensemble.py", [], False),
    ("double_clicks", "double_clicks.py", [], False),
    ("consensus_speed", "consensus_speed.py", ["--budget", "60"], True),
    ("patch_store", "patch_store.py", ["--n-patches", "10000"], False),
    ("input_pipeline", "input_pipeline.py", [], False),
    ("synthetic_speed", "synthetic_speed.py", [], False),
    ("distributed_scaling", "distributed_scaling.py", [], False),
    ("reliability", "reliability.py", [], False),
    ("end_to_end", "end_to_end.py", ["--epochs", "8", "--patience", "3"], False),
    (
        "crop_size_ldc",
        "crop_size.py",
        ["--models", "compact", "--epochs", "12", "--patience", "4"],
        False,
    ),
    (
        "crop_size_synthetic",
        "crop_size.py",
        [
            *("--dataset", "synthetic", "--n-images", "100"),
            *("--models", "compact", "--epochs", "4", "--patience", "2"),
        ],
        False,
    ),
]
QUICK_ARGS = {
    "synthetic_speed": ["--n-images", "8", "--repeats", "1"],
    "crop_size_ldc": [
        "--max-images",
        "60",
        "--sizes",
        "32",
        "--models",
        "compact",
        "--epochs",
        "1",
    ],
    "crop_size_synthetic": [
        *("--dataset", "synthetic", "--max-images", "30", "--sizes", "90"),
        *("--models", "compact", "--epochs", "1"),
    ],
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small workloads (CI smoke test)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    p.add_argument("--skip", nargs="+", metavar="NAME", default=[], help="skip these")
    p.add_argument(
        "--peers-python",
        default=sys.executable,
        help="interpreter with the peer libraries, for the benchmarks that compare with them",
    )
    args = p.parse_args()
    names = [name for name, *_ in SUITE]
    unknown = (set(args.only or []) | set(args.skip)) - set(names)
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; known: {', '.join(names)}")
    env = os.environ.copy()
    if args.quick and "CELLCONSENSUS_BENCH_RESULTS" not in env:
        env["CELLCONSENSUS_BENCH_RESULTS"] = str(HERE / "results" / "quick")
    failed = []
    for name, script, full_args, with_peers in SUITE:
        if (args.only and name not in args.only) or name in args.skip:
            continue
        extra = (QUICK_ARGS.get(name, ["--quick"])) if args.quick else full_args
        print(f"== {name}: {script} {' '.join(extra)}", flush=True)
        start = time.perf_counter()
        # Absolute (scripts run in benchmarks/), but not resolved: a venv's python is a link.
        python = os.path.abspath(args.peers_python) if with_peers else sys.executable
        done = subprocess.run([python, str(HERE / script), *extra], cwd=HERE, env=env)
        print(f"== {name}: exit {done.returncode} after {time.perf_counter() - start:.0f} s\n")
        if done.returncode:
            failed.append(name)
    report = [sys.executable, str(HERE / "report.py")]
    if args.quick:
        report += ["--out", str(Path(env["CELLCONSENSUS_BENCH_RESULTS"]) / "benchmarks.md")]
    subprocess.run(report, cwd=HERE, env=env, check=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
