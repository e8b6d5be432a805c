"""Dawid-Skene on 200,000 (task, annotator, label) rows: ours against crowd-kit's.

    python benchmarks/dawid_skene_speed.py [--repeats 3]

crowd-kit is optional (``pip install -e '.[bench]'``); without it only ours is timed.
Target (issue 2): at least 20 times faster than crowd-kit at equal accuracy.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from _common import timed, write_result

from cellconsensus.labels import get_aggregator


def make_votes(n_tasks: int = 40000, n_workers: int = 500, per_task: int = 5, seed: int = 0):
    """Binary tasks (65 % alive), workers with accuracy uniform in [0.55, 0.95]."""
    rng = np.random.default_rng(seed)
    truth = rng.random(n_tasks) < 0.65
    accuracy = rng.uniform(0.55, 0.95, n_workers)
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = np.argsort(rng.random((n_tasks, n_workers)), axis=1)[:, :per_task].ravel()
    right = rng.random(len(task)) < accuracy[worker]
    label = np.where(truth[task] == right, "alive", "dead")
    return pd.DataFrame({"task": task, "worker": worker, "label": label}), truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-tasks", type=int, default=40000, help="tasks, 5 votes each")
    args = parser.parse_args()
    votes, truth = make_votes(n_tasks=args.n_tasks)
    print(
        f"{len(votes)} rows, {votes['task'].nunique()} tasks, {votes['worker'].nunique()} workers"
    )
    results = {}
    median, times, p = timed(
        lambda: get_aggregator("dawid-skene").fit_predict_proba(votes), args.repeats
    )
    results["cellconsensus"] = {
        "median_s": median,
        "times_s": times,
        "accuracy": float(((p.sort_index().to_numpy() > 0.5) == truth).mean()),
    }
    try:
        from crowdkit.aggregation import DawidSkene
    except ImportError:
        print("crowd-kit is not installed: pip install -e '.[bench]' to compare")
    else:
        median, times, labels = timed(
            lambda: DawidSkene(n_iter=100).fit_predict(votes), args.repeats
        )
        results["crowd-kit"] = {
            "median_s": median,
            "times_s": times,
            "accuracy": float(((labels.sort_index().to_numpy() == "alive") == truth).mean()),
        }
    for name, r in results.items():
        print(
            f"{name:>14}: median {r['median_s']:.3f} s ({', '.join(f'{t:.3f}' for t in r['times_s'])}), "
            f"accuracy {r['accuracy']:.5f}"
        )
    if "crowd-kit" in results:
        ratio = results["crowd-kit"]["median_s"] / results["cellconsensus"]["median_s"]
        print(f"speed-up: {ratio:.1f}x")
        results["speedup"] = ratio
    print("wrote", write_result("dawid_skene_speed", results))


if __name__ == "__main__":
    main()
