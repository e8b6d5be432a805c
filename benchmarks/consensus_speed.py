"""Speed and scaling of consensus: every strategy and the panoptes reducers, side by side.

    python benchmarks/consensus_speed.py [--quick] [--n-images 20000] [--repeats 3]

Workload: a synthetic truth of 20,000 images (5-40 cells each), 5 simulated
annotators (about 2 million clicks), and its first 1,000 and 5,000 images.
For every strategy (defaults, majority labels, one process; ``dbscan`` with
two processes too) and for panoptes-aggregation's point reducers
(``.[bench]``): median wall time of repeated runs with the spread, clicks/s,
images/s, cost growth (time per click at the largest size over the smallest)
and peak memory (traced in a separate, untimed run at the middle size, or at
the smallest where that would take more than a sixth of the budget).
Runs predicted to take longer than ``--budget`` seconds (from the previous
size) are skipped and say so. Also the real Cell Spotting export
(``../shared/data/cellspotting/runs/task_runs_1000.csv``).

Targets: the default strategy at least 1,000,000 clicks/s and at least 15
times panoptes' DBSCAN reducer (issue 2); the default configuration (scale
estimation and the label model included) at least 1,000,000 clicks/s
(issue 14).
"""

from __future__ import annotations

import time

import pandas as pd
from _common import (
    SHARED_DATA,
    markdown_table,
    parser,
    peak_memory_mib,
    spread,
    timed,
    write_result,
)

from cellconsensus import find_consensus, make_truth, simulate_crowd
from cellconsensus.io import read_cellspotting_csv
from cellconsensus.strategies import available_strategies

DEFAULT = "default"


def contenders(peers: bool) -> dict:
    """Name -> function(clicks) that runs one consensus.

    ``default`` is ``find_consensus(clicks)``: the library with no parameter given
    (scale estimation, the annotator model and the Dawid-Skene label model
    included). Every strategy by name runs with its own defaults (``dbscan``:
    ``eps="auto"``), majority labels and the support threshold: the clustering's speed.
    """
    from peers import panoptes_consensus

    def clustering(c, name, **kwargs):
        return find_consensus(c, name, labels="majority", support_rule="threshold", **kwargs)

    out = {DEFAULT: find_consensus}
    for name in available_strategies():
        out[name] = lambda c, n=name: clustering(c, n)
    out["dbscan eps=10"] = lambda c: clustering(c, "dbscan", params={"eps": 10.0})
    out["dbscan n_jobs=2"] = lambda c: clustering(c, "dbscan", n_jobs=2)
    if peers:
        out["panoptes dbscan (tool per label)"] = lambda c: panoptes_consensus(c, "dbscan")
        out["panoptes dbscan (one tool)"] = lambda c: panoptes_consensus(
            c, "dbscan", per_label=False
        )
        out["panoptes hdbscan (tool per label)"] = lambda c: panoptes_consensus(c, "hdbscan")
    return out


def subset(clicks: pd.DataFrame, images: list) -> pd.DataFrame:
    chosen = set(images)
    part = clicks[clicks["image_id"].isin(chosen)].reset_index(drop=True)
    runs = clicks.attrs["runs"]
    part.attrs["runs"] = runs[runs["image_id"].isin(chosen)].reset_index(drop=True)
    return part


def measure(name, fn, clicks, n_images, repeats) -> dict:
    median, times, _ = timed(lambda: fn(clicks), repeats)
    return {
        "strategy": name,
        "n_images": n_images,
        "n_clicks": len(clicks),
        "median_s": median,
        **{f"{k}_s": v for k, v in spread(times).items() if k in ("min", "max")},
        "times_s": times,
        "clicks_per_s": len(clicks) / median,
        "images_per_s": n_images / median,
    }


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--n-images", type=int, default=20000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--budget", type=float, default=120.0, help="seconds a single run may take")
    args = p.parse_args()
    from peers import available

    peers = available()["panoptes-aggregation"]
    if not peers:
        print("panoptes-aggregation is not installed: peers skipped (make bench installs them)")
    n_images = 200 if args.quick else args.n_images
    sizes = [50, 200] if args.quick else [1000, 5000, n_images]
    repeats = 1 if args.quick else args.repeats
    budget = 10.0 if args.quick else args.budget
    truth = make_truth(n_images, cells_per_image=(5, 40), seed=0)
    clicks = simulate_crowd(truth, 5, seed=0)
    print(f"workload: {n_images} images, {len(truth)} cells, {len(clicks):,} clicks (5 annotators)")
    images = sorted(truth["image_id"].unique())
    workloads = {n: subset(clicks, images[:n]) for n in sizes}
    find_consensus(workloads[sizes[0]], n_jobs=2)  # start the worker processes once
    rows, skipped = [], []
    start = time.perf_counter()
    per_click_of = {}
    for name, fn in contenders(peers).items():
        per_click = None
        for n in sizes:
            part = workloads[n]
            if per_click is not None and per_click * len(part) > budget:
                skipped.append(
                    {"strategy": name, "n_images": n, "predicted_s": per_click * len(part)}
                )
                print(f"{name}: {n} images skipped (predicted {per_click * len(part):.0f} s a run)")
                continue
            row = measure(name, fn, part, n, repeats)
            per_click = row["median_s"] / len(part)
            rows.append(row)
            print(
                f"{name:>34} {n:>6} images: {row['median_s']:8.3f} s "
                f"({row['min_s']:.3f}-{row['max_s']:.3f}), {row['clicks_per_s']:>12,.0f} clicks/s"
            )
        per_click_of[name] = per_click
        # Peak memory, traced (slow): at the middle size where a run takes a few seconds.
        middle = sizes[len(sizes) // 2]
        at = middle if per_click * len(workloads[middle]) < budget / 6 else sizes[0]
        memory = peak_memory_mib(lambda f=fn, w=workloads[at]: f(w))
        for row in rows:
            if row["strategy"] == name and row["n_images"] == at:
                row["peak_memory_mib"] = memory

    summary = []
    for name, group in pd.DataFrame(rows).groupby("strategy", sort=False):
        group = group.sort_values("n_images")
        small, large = group.iloc[0], group.iloc[-1]
        summary.append(
            {
                "strategy": name,
                "largest": int(large["n_images"]),
                "clicks_per_s": large["clicks_per_s"],
                "images_per_s": large["images_per_s"],
                "median_s": large["median_s"],
                "spread": f"{large['min_s']:.3f}-{large['max_s']:.3f}",
                "growth": (large["median_s"] / large["n_clicks"])
                / (small["median_s"] / small["n_clicks"]),
                "peak_memory_mib": group["peak_memory_mib"].dropna().max(),
                "memory_at": int(group.loc[group["peak_memory_mib"].notna(), "n_images"].max()),
            }
        )
    # Speed-up over panoptes' DBSCAN reducer at the largest size both ran (same clicks).
    median = {(r["strategy"], r["n_images"]): r["median_s"] for r in rows}
    peer = "panoptes dbscan (tool per label)"
    for r in summary:
        common = [n for n in sizes if (peer, n) in median and (r["strategy"], n) in median]
        r["ratio_at"] = common[-1] if common else None
        r["ratio"] = (
            median[(peer, common[-1])] / median[(r["strategy"], common[-1])] if common else None
        )
    reference = {
        n: median[(peer, n)] / median[(DEFAULT, n)]
        for n in sizes
        if (peer, n) in median and (DEFAULT, n) in median
    }

    real = SHARED_DATA / "cellspotting" / "runs" / "task_runs_1000.csv"
    cellspotting = []
    if real.exists():
        real_clicks = read_cellspotting_csv(real)
        n_real = real_clicks["image_id"].nunique()
        print(f"Cell Spotting export: {len(real_clicks):,} clicks on {n_real} images")
        for name, fn in contenders(peers).items():
            predicted = per_click_of[name] * len(real_clicks)
            if predicted > budget:
                print(f"{name}: skipped on the Cell Spotting export (predicted {predicted:.1f} s)")
                continue
            row = measure(name, fn, real_clicks, n_real, repeats)
            cellspotting.append(row)
            print(f"{name:>34}: {row['median_s']:.3f} s, {row['clicks_per_s']:,.0f} clicks/s")

    text = (
        f"Synthetic workload: {len(clicks):,} clicks on {n_images:,} images (5 annotators, "
        f"5-40 cells per image), one process unless said; median of {repeats} run(s) at the "
        "largest size each could finish; growth = time per click at that size over time per "
        "click at 1,000 images; speed-up = panoptes DBSCAN (tool per label) time over this "
        "strategy's on the same clicks, at the largest size both ran (images in 'at').\n\n"
        + markdown_table(
            sorted(summary, key=lambda r: -r["clicks_per_s"]),
            {
                "strategy": "strategy",
                "largest": "images",
                "clicks_per_s:,.0f": "clicks/s",
                "images_per_s:,.0f": "images/s",
                "spread": "time range (s)",
                "growth:.2f": "growth",
                "peak_memory_mib:.0f": "peak memory (MiB)",
                "memory_at:,": "memory at (images)",
                "ratio:.1f": "speed-up vs panoptes",
                "ratio_at:,": "at (images)",
            },
        )
    )
    if skipped:
        text += "\n\nSkipped (predicted too slow): " + ", ".join(
            f"{s['strategy']} at {s['n_images']:,} images ({s['predicted_s']:.0f} s)"
            for s in skipped
        )
    if cellspotting:
        text += (
            f"\n\nReal Cell Spotting export ({cellspotting[0]['n_clicks']:,} clicks, "
            f"{cellspotting[0]['n_images']} images):\n\n"
            + markdown_table(
                sorted(cellspotting, key=lambda r: -r["clicks_per_s"]),
                {
                    "strategy": "strategy",
                    "median_s:.4f": "time (s)",
                    "clicks_per_s:,.0f": "clicks/s",
                },
            )
        )
    print(text)
    payload = {
        "seed": 0,
        "n_clicks": len(clicks),
        "runs": rows,
        "summary": summary,
        "skipped": skipped,
        "panoptes_over_ours": reference,
        "cellspotting": cellspotting,
        "seconds": time.perf_counter() - start,
    }
    print("wrote", write_result("consensus_speed", payload, text))


if __name__ == "__main__":
    main()
