"""Throughput of the default consensus strategy on a 20,000-image synthetic workload.

    python benchmarks/consensus_speed.py [--n-images 20000] [--repeats 3]

Target (issue 2): at least 1,000,000 clicks/s on a 2-core machine.
"""

from __future__ import annotations

import argparse

from _common import timed, write_result

from cellconsensus import find_consensus, make_truth, simulate_crowd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    truth = make_truth(args.n_images, cells_per_image=(5, 40), seed=0)
    clicks = simulate_crowd(truth, 5, seed=0)
    print(
        f"workload: {args.n_images} images, {len(truth)} cells, {len(clicks)} clicks (5 annotators)"
    )
    rows = {}
    for n_jobs in (1, 2):
        find_consensus(clicks.head(1000), n_jobs=n_jobs)  # start worker processes once
        median, times, result = timed(
            lambda n=n_jobs: find_consensus(clicks, "dbscan", n_jobs=n), args.repeats
        )
        rows[f"n_jobs={n_jobs}"] = {
            "median_s": median,
            "times_s": times,
            "clicks_per_s": len(clicks) / median,
            "images_per_s": args.n_images / median,
            "n_cells": result.report.n_cells,
        }
        print(
            f"dbscan n_jobs={n_jobs}: median {median:.2f} s over {args.repeats} runs "
            f"({', '.join(f'{t:.2f}' for t in times)}) -> {len(clicks) / median:,.0f} clicks/s, "
            f"{args.n_images / median:,.0f} images/s"
        )
    print("wrote", write_result("consensus_speed", {"n_clicks": len(clicks), "runs": rows}))


if __name__ == "__main__":
    main()
