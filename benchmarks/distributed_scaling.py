"""Scaling out: consensus and patch building on a Dask LocalCluster, and a model beyond.

    python benchmarks/distributed_scaling.py [--n-images 20000] [--patch-images 200] [--quick]

Measures, on this machine, ``find_consensus(..., client=)`` and
``write_patches(..., client=)`` on ``local_cluster`` of 1 and 2 worker processes
(one thread each) against one process, for two configurations: DBSCAN at a fixed
``eps`` with majority labels and the support threshold (nothing learnt across
images), and the library's defaults (``eps="auto"``, the annotator model,
Dawid-Skene: three stages learnt across images). The clicks come in two ways: a
pandas table in the client's memory (split on the client, no shuffle) and
Parquet files the workers read and shuffle by image (the way for data larger
than one machine). At 2 workers the partitions per worker are also varied (1, 2,
4; the default is :data:`~cellconsensus.distributed.partition.PARTITIONS_PER_WORKER`).

The costs a model of larger clusters needs are measured too: compute seconds per
click inside the tasks (from Dask's task stream), the scheduler's cost per task,
split into a serial part and a part each worker pays (no-op tasks on 1 and 2
workers), a client-worker round trip, and the EM iterations. The model, for
Parquet input on ``W`` workers,

    T(W) = fixed + N t_click / W + tasks(N, W) s_serial + rounds (rtt + W s_serial + s_worker)
    tasks(N, W) = per_file F(N) + per_partition P(N, W)

(``per_partition`` from one-worker runs with 2 and 4 partitions, ``per_file`` the
rest of the one-worker run's tasks outside the EM iterations, per input file; ``P``
chosen by :func:`~cellconsensus.distributed.choose_npartitions`; each EM
round runs one task per group, one group per worker) gives the expected
throughput at 8 to 128 workers for the measured workload and for 100 million
clicks, and the worker count where parallel efficiency falls under 50 %.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from _common import markdown_table, parser, timed, write_result

from cellconsensus import find_consensus, make_truth, simulate_crowd
from cellconsensus.distributed import choose_npartitions, local_cluster
from cellconsensus.distributed import partition as partition_module
from cellconsensus.distributed.partition import PARTITIONS_PER_WORKER
from cellconsensus.images import ImageFolder
from cellconsensus.io import read_truth
from cellconsensus.store import write_patches
from cellconsensus.synthetic import write_synthetic

CASES = {
    "dbscan eps 10, majority, threshold": {
        "strategy": "dbscan",
        "labels": "majority",
        "params": {"eps": 10.0},
        "support_rule": "threshold",
    },
    "eps auto, dawid-skene, threshold": {"support_rule": "threshold"},
    "defaults (eps auto, annotator model, dawid-skene)": {},
}


def cases(args) -> dict:
    """The cases to run: all, or (``--quick``) the first and the defaults."""
    return {k: v for k, v in CASES.items() if not args.quick or k != QUICK_SKIPS}


#: The case ``--quick`` leaves out (the smoke test checks the others).
QUICK_SKIPS = "eps auto, dawid-skene, threshold"
#: Clicks per input Parquet file (a file per about a million rows, as exports come).
FILE_CLICKS = 1_000_000
MODEL_WORKERS = (1, 2, 8, 32, 64, 128)
LARGE = 100_000_000
#: Task-name prefixes of an EM round (Dawid-Skene's and the annotator model's): one task per
#: group and round.
ITERATION_TASKS = ("_statistics", "_model_statistics")


def _noop(x):
    return x


def scheduler_costs(client, n_tasks: int = 2000) -> dict:
    """Time per task of many no-op tasks, and one round trip."""
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
    """Compute seconds per task prefix (from ``get_task_stream``), tasks, EM iterations."""
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    for record in stream:
        prefix = str(record["key"][0] if isinstance(record["key"], tuple) else record["key"])
        prefix = prefix.rsplit("-", 1)[0] if "-" in prefix else prefix
        prefix = prefix.split("-")[0] or prefix
        compute = [s for s in record["startstops"] if s["action"] == "compute"]
        totals[prefix] = totals.get(prefix, 0.0) + sum(s["stop"] - s["start"] for s in compute)
        counts[prefix] = counts.get(prefix, 0) + 1
    return {
        "n_tasks": len(stream),
        "iterations": sum(counts.get(p, 0) for p in ITERATION_TASKS),
        "compute_s_by_prefix": totals,
        "tasks_by_prefix": counts,
    }


def model(costs: dict, n_clicks: int, workers: int, case: dict) -> float:
    """Predicted seconds of one run on ``workers`` workers (see the module docstring)."""
    files = -(-n_clicks // FILE_CLICKS)
    parts = choose_npartitions(n_clicks, workers)
    tasks = case["tasks_per_file"] * files + case["tasks_per_partition"] * parts
    seconds = case["fixed_s"] + n_clicks * case["t_click_s"] / workers + tasks * costs["serial_s"]
    per_iteration = costs["round_trip_s"] + workers * costs["serial_s"] + costs["worker_s"]
    return seconds + case["iterations"] * per_iteration


def _cluster_runs(clicks, sources: dict, scratch: Path, workers: int, args, runs: dict) -> dict:
    """Time every case and input on ``workers`` workers; profile the one-worker runs."""
    from distributed import Client, get_task_stream

    profiles = {}
    with local_cluster(workers) as cluster, Client(cluster) as client:
        costs = scheduler_costs(client)
        for name, options in cases(args).items():
            for source in ("pandas", "parquet"):
                data = sources[source]
                sweep = (
                    (1, 2, 4) if workers == 2 and source == "pandas" else (PARTITIONS_PER_WORKER,)
                )
                for per_worker in sweep:

                    def run(o=options, d=data, p=per_worker, s=source):
                        return find_consensus(
                            d,
                            **o,
                            runs=None if s == "pandas" else sources["runs"],
                            client=client,
                            output=scratch / "cells",
                            overwrite=True,
                            npartitions=None if p == PARTITIONS_PER_WORKER else p * workers,
                        )

                    median, times, result = timed(run, args.repeats)
                    key = f"consensus {name}, {source}, {workers} worker(s)"
                    if per_worker != PARTITIONS_PER_WORKER:
                        key += f", {per_worker} partitions per worker"
                    runs[key] = {
                        "workers": workers,
                        "median_s": median,
                        "times_s": times,
                        "clicks_per_s": len(clicks) / median,
                        "partitions": result.n_partitions,
                    }
                    print(f"{key:90s} {median:7.2f} s", flush=True)
                    if workers == 1 and source == "parquet":  # the model's inputs
                        with get_task_stream(client) as stream:
                            run()
                        profiles[(name, source)] = task_profile(stream.data)
                        # Twice the partitions: the tasks per partition, apart from the rest.
                        with get_task_stream(client) as stream:
                            run(p=2 * PARTITIONS_PER_WORKER)
                        profiles[(name, source, "2x")] = task_profile(stream.data)
        median, times, _ = timed(
            lambda: write_patches(
                args.cells,
                args.images,
                str(scratch / f"p{workers}.zarr"),
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
            "patches_per_s": len(args.cells) / median,
        }
        print(f"patches {workers} worker(s) {median:7.2f} s", flush=True)
    return {"costs": costs, "profiles": profiles}


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--n-images", type=int, default=20_000)
    p.add_argument("--patch-images", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    if args.quick:
        args.n_images, args.patch_images, args.repeats = 400, 12, 1

    truth = make_truth(args.n_images, cells_per_image=(5, 40), seed=0)
    clicks = simulate_crowd(truth, 5, seed=0)
    n_clicks = len(clicks)
    print(f"workload: {n_clicks:,} clicks on {args.n_images:,} images")
    scratch = Path(tempfile.mkdtemp(prefix="distributed-scaling-"))
    plain = clicks.copy()
    plain.attrs = {}
    n_files = -(-n_clicks // FILE_CLICKS)
    files = []
    for k in range(n_files):
        files.append(str(scratch / f"clicks-{k}.parquet"))
        plain.iloc[k * FILE_CLICKS : (k + 1) * FILE_CLICKS].to_parquet(files[-1])
    clicks.attrs["runs"].to_parquet(scratch / "runs.parquet")
    sources = {"pandas": clicks, "parquet": files}
    write_synthetic(scratch / "images", args.patch_images, style="fluorescence", seed=0)
    args.cells = read_truth(scratch / "images" / "truth.csv")
    args.images = ImageFolder(scratch / "images" / "images")

    runs: dict[str, dict] = {}
    for name, options in cases(args).items():
        median, times, _ = timed(lambda o=options: find_consensus(clicks, **o), args.repeats)
        runs[f"consensus {name}, 1 process"] = {
            "workers": 0,
            "median_s": median,
            "times_s": times,
            "clicks_per_s": n_clicks / median,
        }
        print(f"{name:60s} one process {median:7.2f} s", flush=True)
    median, times, _ = timed(
        lambda: write_patches(args.cells, args.images, scratch / "serial.zarr", 95, mode="w"),
        args.repeats,
    )
    runs["patches, 1 process"] = {
        "workers": 0,
        "median_s": median,
        "times_s": times,
        "patches_per_s": len(args.cells) / median,
    }
    split_s, _, _ = timed(
        lambda: partition_module.split_frame(clicks, clicks.attrs["runs"], 2), args.repeats
    )
    sources["runs"] = str(scratch / "runs.parquet")
    measured = {w: _cluster_runs(clicks, sources, scratch, w, args, runs) for w in (1, 2)}
    del sources["runs"]

    # The scheduler's cost per task: 1 / throughput = serial + worker / W (no-op tasks).
    one, two = measured[1]["costs"], measured[2]["costs"]
    worker_s = max(0.0, 2 * (one["per_task_s"] - two["per_task_s"]))
    costs = {
        "serial_s": one["per_task_s"] - worker_s,
        "worker_s": worker_s,
        "round_trip_s": one["round_trip_s"],
    }
    model_cases = {}
    for name in cases(args):
        base = runs[f"consensus {name}, parquet, 1 worker(s)"]
        profile = measured[1]["profiles"][(name, "parquet")]
        doubled = measured[1]["profiles"][(name, "parquet", "2x")]
        compute = sum(profile["compute_s_by_prefix"].values())
        iterations = profile["iterations"]  # one group per worker: one task per round
        static = profile["n_tasks"] - iterations
        added = 2 * PARTITIONS_PER_WORKER - base["partitions"]  # partitions of the second run
        per_partition = max(
            0.0, (doubled["n_tasks"] - doubled["iterations"] - static) / max(added, 1)
        )
        case = {
            "t_click_s": compute / n_clicks,
            "tasks_per_partition": per_partition,
            "tasks_per_file": max(0.0, static - per_partition * base["partitions"]) / n_files,
            "iterations": iterations,
        }
        case["fixed_s"] = max(
            0.0,
            base["median_s"]
            - compute
            - static * costs["serial_s"]
            - iterations * (costs["round_trip_s"] + costs["serial_s"] + costs["worker_s"]),
        )
        model_cases[name] = case
    predictions, stops = [], {}
    for name, case in model_cases.items():
        for n in (n_clicks, LARGE):
            t1 = model(costs, n, 1, case)
            for w in MODEL_WORKERS:
                t = model(costs, n, w, case)
                measured_run = runs.get(f"consensus {name}, parquet, {w} worker(s)")
                predictions.append(
                    {
                        "case": name,
                        "clicks": n,
                        "workers": w,
                        "seconds": t,
                        "measured_s": measured_run["median_s"]
                        if measured_run and n == n_clicks
                        else "",
                        "clicks_per_s": n / t,
                        "efficiency": t1 / (w * t),
                    }
                )
            w = 1
            while w < 100_000 and t1 / (w * model(costs, n, w, case)) >= 0.5:
                w *= 2
            stops[f"{name}, {n:,} clicks"] = w

    rows = [
        {"run": k, **v, "spread": f"{min(v['times_s']):.2f}-{max(v['times_s']):.2f}"}
        for k, v in runs.items()
    ]
    ratios = {
        name: runs[f"consensus {name}, pandas, 1 worker(s)"]["median_s"]
        / runs[f"consensus {name}, 1 process"]["median_s"]
        for name in cases(args)
    }
    text = (
        f"{n_clicks:,} clicks on {args.n_images:,} images (consensus; in memory, or "
        f"{n_files} Parquet file(s) the workers read) and {len(args.cells):,} cells of "
        f"{args.patch_images} fluorescence images at 95 px (patches); local_cluster, one "
        f"thread per worker process; median of {args.repeats} runs.\n\n"
        + markdown_table(
            rows,
            {
                "run": "run",
                "partitions": "partitions",
                "median_s:.2f": "seconds",
                "spread": "range (s)",
                "clicks_per_s:,.0f": "clicks/s",
                "patches_per_s:,.0f": "patches/s",
            },
        )
        + "\n\nOne worker against one process (in-memory clicks): "
        + "; ".join(f"{k}: {v:.2f}x" for k, v in ratios.items())
        + f". Splitting the table on the client: {split_s:.2f} s.\n\n"
        + f"Scheduler: {costs['serial_s'] * 1e3:.2f} ms per task serial, "
        + f"{costs['worker_s'] * 1e3:.2f} ms per task on its worker, round trip "
        + f"{costs['round_trip_s'] * 1e3:.2f} ms (no-op tasks on 1 and 2 workers).\n\n"
        + "Model (from the one-worker runs on Parquet input):\n\n"
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
            "n_files": n_files,
            "n_cells_patches": len(args.cells),
            "seed": 0,
            "runs": runs,
            "one_worker_over_one_process": ratios,
            "client_split_s": split_s,
            "scheduler": {str(w): m["costs"] for w, m in measured.items()},
            "costs": costs,
            "profiles": {" / ".join(k): v for k, v in measured[1]["profiles"].items()},
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
