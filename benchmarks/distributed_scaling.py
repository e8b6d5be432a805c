"""Scaling out: consensus and patch building on a Dask LocalCluster, and a model beyond.

    python benchmarks/distributed_scaling.py [--n-images 20000] [--patch-images 200] [--quick]

Measures, on this machine, ``cellconsensus.distributed.find_consensus`` and
``cellconsensus.distributed.write_patches`` with 1 and 2 worker processes (one
thread each) against the single-process functions, and the costs a model of
larger clusters needs: compute time per click inside the per-partition tasks
(from Dask's task stream), the scheduler's cost per task and a client-worker
round trip (from no-op tasks), and the fixed cost of a run. The model

    T(W) = fixed + N * t_click / W + tasks(W) * s + iterations * (rtt + 2 W s)

(``P = 4 W`` partitions, ``tasks`` = the graph's tasks, the last term only for
Dawid-Skene, whose EM runs on one group of partitions per worker) gives the expected throughput at 8, 32 and 128 workers for the
measured workload and for 100 million clicks, and the worker count where
adding workers stops paying (parallel efficiency under 50 %).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from _common import markdown_table, parser, timed, write_result

from cellconsensus import find_consensus, make_truth, simulate_crowd
from cellconsensus.distributed import find_consensus as find_consensus_on_cluster
from cellconsensus.distributed import write_patches as write_patches_on_cluster
from cellconsensus.images import ImageFolder
from cellconsensus.io import read_truth
from cellconsensus.store import write_patches
from cellconsensus.synthetic import write_synthetic

#: The cluster keeps cells by the support threshold: one process is timed with it too, and
#: the fixed-eps case pins eps = 10 px (the default is "auto" since 2026-12-01).
CASES = {
    "dbscan, majority": ("dbscan", {"eps": 10.0}, "majority"),
    "dbscan auto, dawid-skene": ("dbscan", {"eps": "auto"}, "dawid-skene"),
}
MODEL_WORKERS = (1, 2, 8, 32, 128)
LARGE = 100_000_000


def _noop(x):
    return x


def scheduler_costs(client, n_tasks: int = 2000) -> dict:
    """Per-task cost of the scheduler (many no-op tasks) and one round trip."""
    client.gather(client.map(_noop, range(100), pure=False))  # warm up
    start = time.perf_counter()
    client.gather(client.map(_noop, range(n_tasks), pure=False))
    per_task = (time.perf_counter() - start) / n_tasks
    trips = []
    for _ in range(30):
        start = time.perf_counter()
        client.submit(_noop, 1, pure=False).result()
        trips.append(time.perf_counter() - start)
    return {"per_task_s": per_task, "round_trip_s": statistics.median(trips)}


def task_profile(stream: list[dict]) -> dict:
    """Compute seconds per task prefix (from ``get_task_stream``) and the task count."""
    totals: dict[str, float] = {}
    for record in stream:
        prefix = str(record["key"][0] if isinstance(record["key"], tuple) else record["key"])
        prefix = prefix.rsplit("-", 1)[0] if "-" in prefix else prefix
        compute = [s for s in record["startstops"] if s["action"] == "compute"]
        totals[prefix] = totals.get(prefix, 0.0) + sum(s["stop"] - s["start"] for s in compute)
    return {"n_tasks": len(stream), "compute_s_by_prefix": totals}


def model(costs: dict, n_clicks: int, workers: int, case: dict) -> float:
    """Predicted seconds of one run on ``workers`` workers (see the module docstring)."""
    partitions = 4 * workers
    tasks = case["tasks_per_partition"] * partitions
    seconds = case["fixed_s"] + n_clicks * case["t_click_s"] / workers + tasks * costs["per_task_s"]
    # Dawid-Skene's EM runs on one group of partitions per worker: two task waves of W.
    seconds += case["iterations"] * (costs["round_trip_s"] + 2 * workers * costs["per_task_s"])
    return seconds


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--n-images", type=int, default=20_000)
    p.add_argument("--patch-images", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    if args.quick:
        args.n_images, args.patch_images, args.repeats = 400, 12, 1
    from distributed import Client, LocalCluster, get_task_stream

    truth = make_truth(args.n_images, cells_per_image=(5, 40), seed=0)
    clicks = simulate_crowd(truth, 5, seed=0)
    n_clicks = len(clicks)
    print(f"workload: {n_clicks:,} clicks on {args.n_images:,} images")
    scratch = Path(tempfile.mkdtemp(prefix="distributed-scaling-"))
    write_synthetic(scratch / "images", args.patch_images, style="fluorescence", seed=0)
    cells = read_truth(scratch / "images" / "truth.csv")
    images = ImageFolder(scratch / "images" / "images")

    runs: dict[str, dict] = {}
    for name, (strategy, params, labels) in CASES.items():
        median, times, result = timed(
            lambda s=strategy, p=params, lab=labels: find_consensus(
                clicks, s, lab, params=p, support_rule="threshold"
            ),
            args.repeats,
        )
        runs[f"consensus {name}, 1 process"] = {
            "workers": 0,
            "median_s": median,
            "times_s": times,
            "clicks_per_s": n_clicks / median,
            "iterations": getattr(result.aggregator, "n_iter_", 0),
        }
        print(f"{name:28s} single process {median:7.2f} s")
    median, times, _ = timed(
        lambda: write_patches(cells, images, scratch / "serial.zarr", 95, mode="w"), args.repeats
    )
    runs["patches, 1 process"] = {
        "workers": 0,
        "median_s": median,
        "times_s": times,
        "patches_per_s": len(cells) / median,
    }

    costs: dict = {}
    profiles: dict = {}
    for workers in (1, 2):
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            costs[workers] = scheduler_costs(client)
            for name, (strategy, params, labels) in CASES.items():

                def run(s=strategy, p=params, lab=labels, w=workers):
                    return find_consensus_on_cluster(
                        clicks,
                        s,
                        lab,
                        params=p,
                        output=scratch / "cells",
                        overwrite=True,
                        npartitions=4 * w,
                        client=client,
                    )

                median, times, result = timed(run, args.repeats)
                with get_task_stream(client) as stream:
                    run()
                profiles[(workers, name)] = task_profile(stream.data)
                runs[f"consensus {name}, {workers} worker(s)"] = {
                    "workers": workers,
                    "median_s": median,
                    "times_s": times,
                    "clicks_per_s": n_clicks / median,
                    "partitions": 4 * workers,
                    "iterations": getattr(result.aggregator, "n_iter_", 0),
                    "n_tasks": profiles[(workers, name)]["n_tasks"],
                }
                print(f"{name:28s} {workers} worker(s)   {median:7.2f} s")
            median, times, _ = timed(
                lambda w=workers: write_patches_on_cluster(
                    cells,
                    images,
                    str(scratch / f"p{w}.zarr"),
                    95,
                    mode="w",
                    client=client,
                    task_patches=512,
                ),
                args.repeats,
            )
            runs[f"patches, {workers} worker(s)"] = {
                "workers": workers,
                "median_s": median,
                "times_s": times,
                "patches_per_s": len(cells) / median,
            }
            print(f"patches {workers} worker(s) {median:7.2f} s")

    # Model inputs from the one-worker runs: compute per click inside the partition tasks,
    # everything else of the run's wall time is fixed (client, graph, files).
    base = costs[1]
    model_cases = {}
    for name in CASES:
        one = runs[f"consensus {name}, 1 worker(s)"]
        compute = sum(profiles[(1, name)]["compute_s_by_prefix"].values())
        model_cases[name] = {
            "t_click_s": compute / n_clicks,
            "tasks_per_partition": one["n_tasks"] / one["partitions"],
            "iterations": one["iterations"],
            "fixed_s": max(
                0.0,
                one["median_s"]
                - compute
                - one["n_tasks"] * base["per_task_s"]
                - one["iterations"]
                * (base["round_trip_s"] + 2 * one["partitions"] * base["per_task_s"]),
            ),
        }
    predictions, stops = [], {}
    for name, case in model_cases.items():
        for n in (n_clicks, LARGE):
            t1 = model(base, n, 1, case)
            for w in MODEL_WORKERS:
                t = model(base, n, w, case)
                predictions.append(
                    {
                        "case": name,
                        "clicks": n,
                        "workers": w,
                        "seconds": t,
                        "clicks_per_s": n / t,
                        "efficiency": t1 / (w * t),
                    }
                )
            w = 1
            while w < 100_000 and t1 / (w * model(base, n, w, case)) >= 0.5:
                w *= 2
            stops[f"{name}, {n:,} clicks"] = w
    for row in predictions:
        measured = runs.get(f"consensus {row['case']}, {row['workers']} worker(s)")
        row["measured_s"] = measured["median_s"] if measured and row["clicks"] == n_clicks else ""

    rows = [
        {"run": k, **v, "spread": f"{min(v['times_s']):.2f}-{max(v['times_s']):.2f}"}
        for k, v in runs.items()
    ]
    text = (
        f"{n_clicks:,} clicks on {args.n_images:,} images (consensus) and "
        f"{len(cells):,} cells of {args.patch_images} fluorescence images at 95 px (patches); "
        f"LocalCluster, one thread per worker process; median of {args.repeats} runs.\n\n"
        + markdown_table(
            rows,
            {
                "run": "run",
                "median_s:.2f": "seconds",
                "spread": "range (s)",
                "clicks_per_s:,.0f": "clicks/s",
                "patches_per_s:,.0f": "patches/s",
            },
        )
        + "\n\nScheduler: "
        + ", ".join(
            f"{w} worker(s) {c['per_task_s'] * 1e3:.2f} ms per task, round trip "
            f"{c['round_trip_s'] * 1e3:.2f} ms"
            for w, c in costs.items()
        )
        + ".\n\nModel (from the one-worker run):\n\n"
        + markdown_table(
            predictions,
            {
                "case": "case",
                "clicks:,": "clicks",
                "workers": "workers",
                "seconds:.2f": "predicted s",
                "measured_s:.2f": "measured s",
                "clicks_per_s:,.0f": "clicks/s",
                "efficiency:.2f": "efficiency",
            },
        )
        + "\n\nParallel efficiency falls under 50 % at: "
        + "; ".join(f"{k}: {v} workers" for k, v in stops.items())
        + "\n"
    )
    path = write_result(
        "distributed_scaling",
        {
            "n_images": args.n_images,
            "n_clicks": n_clicks,
            "n_cells_patches": len(cells),
            "seed": 0,
            "runs": runs,
            "scheduler": costs,
            "profiles": {f"{w} {n}": v for (w, n), v in profiles.items()},
            "model_inputs": model_cases,
            "predictions": predictions,
            "stops_scaling_at": stops,
        },
        text,
    )
    print(text)
    print(f"results: {path}")


if __name__ == "__main__":
    main()
