"""Consensus accuracy against ground truth, across crowd conditions: ours, the thesis, panoptes.

    python benchmarks/consensus_accuracy.py [--quick] [--seeds 3] [--datasets ldc synthetic]

Clicks are simulated (:func:`~cellconsensus.simulate_crowd`) over the expert
positions and labels of ``../shared/data/ldc`` (a fixed subset of its images)
and over a synthetic fluorescence truth table, for every crowd condition of a
grid: 3, 5 or 10 annotators per image; low/high position noise (0.1/0.3 of
the cell size); low/high label noise (5/25 % flips); with or without
spammers (20 % of the pool) and double clicks (15 %). Each condition is run
with several seeds (medians and the min-max spread are reported).

Runs per condition and seed:

- ours: every registered strategy with its defaults and with ``"auto"``
  scale, majority labels (:func:`~cellconsensus.compare.compare_strategies`);
- the thesis: ``radius-thesis`` (R = 35 px);
- panoptes-aggregation (``.[bench]``): ``point_reducer_dbscan`` with one tool
  per label (as Zooniverse projects mark classes) and with a single tool,
  ``point_reducer_hdbscan`` with one tool per label, at their defaults.

Oracle tuning: for the thesis and each panoptes reducer, the parameter set
with the best median F1 on *the same* crowds (a grid scaled to the cell size)
is reported too, marked ``tuned``. This favours them: our strategies are never
tuned on the truth they are scored against.
"""

from __future__ import annotations

import itertools
import time

import pandas as pd
from _common import SHARED_DATA, markdown_table, parser, spread, write_result
from joblib import Parallel, delayed

from cellconsensus import find_consensus, make_truth, read_voc, simulate_crowd
from cellconsensus.compare import compare_strategies
from cellconsensus.metrics import score
from cellconsensus.strategies import available_strategies

METRICS = ("precision", "recall", "f1", "label_accuracy", "localisation_error")
REFERENCE = {"n_annotators": 5, "position_noise": 0.1, "label_noise": 0.05, "spam": False}


def conditions(quick: bool) -> list[dict]:
    if quick:
        return [REFERENCE, {**REFERENCE, "n_annotators": 3, "spam": True}]
    grid = itertools.product((3, 5, 10), (0.1, 0.3), (0.05, 0.25), (False, True))
    return [
        {"n_annotators": a, "position_noise": p, "label_noise": q, "spam": s} for a, p, q, s in grid
    ]


def crowd(truth: pd.DataFrame, condition: dict, seed: int) -> pd.DataFrame:
    return simulate_crowd(
        truth,
        condition["n_annotators"],
        seed=seed,
        position_noise=condition["position_noise"],
        label_noise=condition["label_noise"],
        spammer_fraction=0.2 if condition["spam"] else 0.0,
        double_click_rate=0.15 if condition["spam"] else 0.0,
    )


def peer_grid(cell_size: float, n_annotators: int, quick: bool) -> dict[str, list[dict]]:
    """Parameter grids of the thesis and the peers, scaled to the median cell size."""
    eps = [round(f * cell_size, 1) for f in ((0.2, 0.4) if quick else (0.1, 0.2, 0.3, 0.4, 0.6))]
    samples = sorted({2, 3, max(2, n_annotators // 2)} if not quick else {2, 3})
    dbscan = [{"eps": e, "min_samples": m} for e in eps for m in samples]
    return {
        "radius-thesis": [
            {"radius": round(f * cell_size, 1)} for f in (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
        ],
        "panoptes dbscan (tool per label)": dbscan,
        "panoptes dbscan (one tool)": dbscan,
        "panoptes hdbscan (tool per label)": [
            {"min_cluster_size": c, "min_samples": m} for c in (2, 3, 5) for m in (1, 2)
        ],
    }


def run_peer(name: str, clicks: pd.DataFrame, truth: pd.DataFrame, params: dict) -> dict:
    """One run of the thesis' rule or a panoptes reducer, scored."""
    from peers import panoptes_consensus

    start = time.perf_counter()
    if name == "radius-thesis":
        cells = find_consensus(clicks, "radius-thesis", params=params).cells
    else:
        reducer = "hdbscan" if "hdbscan" in name else "dbscan"
        cells = panoptes_consensus(clicks, reducer, per_label="per label" in name, **params)
    seconds = time.perf_counter() - start
    result = score(cells, truth)
    return {
        "strategy": name,
        "params": repr(params),
        "n_cells": len(cells),
        "seconds": seconds,
        **{m: getattr(result, m) for m in METRICS},
    }


def evaluate(dataset: str, truth, condition: dict, seed: int, peers: bool, grid: dict) -> list:
    """Every run on one simulated crowd."""
    clicks = crowd(truth, condition, seed)
    table = compare_strategies(
        clicks,
        [s for s in available_strategies() if s != "radius-thesis"],
        truth=truth,
        auto_scale=True,
    )
    rows = [
        {**r, "family": "ours", "tuned": False}
        for r in table[["strategy", "params", "n_cells", "seconds", *METRICS]].to_dict("records")
    ]
    names = ["radius-thesis"] + ([n for n in grid if n != "radius-thesis"] if peers else [])
    for name in names:
        family = "thesis" if name == "radius-thesis" else "peer"
        defaults = {"radius": 35.0} if name == "radius-thesis" else {}
        rows.append({**run_peer(name, clicks, truth, defaults), "family": family, "tuned": False})
        for params in grid[name]:
            rows.append(
                {**run_peer(name, clicks, truth, params), "family": family, "tuned": "candidate"}
            )
    for row in rows:
        row.update(dataset=dataset, seed=seed, n_clicks=len(clicks), **condition)
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Median and spread over seeds; for the tuned runs, the grid point with the best
    median F1 per condition."""
    frame = pd.DataFrame(rows)
    keys = ["dataset", "n_annotators", "position_noise", "label_noise", "spam"]
    out = []
    for key, group in frame.groupby(keys, sort=True):
        condition = dict(zip(keys, key, strict=True))
        for (strategy, tuned), runs in group.groupby(["strategy", "tuned"], sort=False):
            if tuned == "candidate":
                medians = runs.groupby("params")["f1"].median()
                runs = runs[runs["params"] == medians.idxmax()]
                strategy = f"{strategy} (tuned)"
            row = {**condition, "strategy": strategy, "family": runs["family"].iloc[0]}
            row["params"] = runs["params"].iloc[0]
            for m in (*METRICS, "seconds", "n_cells"):
                s = spread(runs[m].astype(float))
                row[m], row[f"{m}_min"], row[f"{m}_max"] = s["median"], s["min"], s["max"]
            row["n_seeds"] = len(runs)
            out.append(row)
    return out


def markdown(summary: list[dict]) -> str:
    frame = pd.DataFrame(summary)
    parts = []
    for dataset, rows in frame.groupby("dataset"):
        ref = rows
        for k, v in REFERENCE.items():
            ref = ref[ref[k] == v]
        ref = ref.sort_values("f1", ascending=False).to_dict("records")
        for r in ref:
            r["f1_range"] = f"{r['f1_min']:.3f}-{r['f1_max']:.3f}"
        parts.append(
            f"**{dataset}**, reference crowd (5 annotators, position noise 0.1, "
            "label noise 5 %, no spammers); medians over seeds:\n\n"
            + markdown_table(
                ref,
                {
                    "strategy": "strategy",
                    "precision:.3f": "precision",
                    "recall:.3f": "recall",
                    "f1:.3f": "F1",
                    "f1_range": "F1 range",
                    "label_accuracy:.3f": "label accuracy",
                    "localisation_error:.2f": "localisation error (px)",
                    "params": "parameters",
                },
            )
        )
        wide = rows.pivot_table(
            index="strategy", columns="n_annotators", values="f1", aggfunc="median"
        )
        hard = rows[(rows["position_noise"] == 0.3) & (rows["label_noise"] == 0.25)]
        wide["hard"] = hard.groupby("strategy")["f1"].median()
        wide = wide.sort_values(wide.columns[1], ascending=False)
        table = [{"strategy": s, **{str(c): v for c, v in r.items()}} for s, r in wide.iterrows()]
        columns = {"strategy": "strategy"}
        columns.update({f"{c}:.3f": f"{c} annotators" for c in wide.columns if c != "hard"})
        columns["hard:.3f"] = "high noise"
        parts.append(
            f"**{dataset}**, F1 median over every condition with that many annotators "
            "(and over the high-noise conditions):\n\n" + markdown_table(table, columns)
        )
    return "\n\n".join(parts)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--datasets", nargs="+", default=["ldc", "synthetic"])
    p.add_argument("--ldc-images", type=int, default=400, help="LDC images used (a fixed subset)")
    p.add_argument("--n-jobs", type=int, default=2)
    args = p.parse_args()
    from peers import available

    peers = available()["panoptes-aggregation"]
    if not peers:
        print("panoptes-aggregation is not installed: peers skipped (make bench installs them)")
    seeds = 1 if args.quick else args.seeds
    truths = {}
    if "ldc" in args.datasets:
        folder = SHARED_DATA / "ldc" / "images"
        if folder.exists():
            files = sorted(folder.glob("*.xml"))[: 30 if args.quick else args.ldc_images]
            truths["ldc"] = read_voc(files)
        else:
            print(f"LDC data not found at {folder}: skipped")
    if "synthetic" in args.datasets:
        truths["synthetic"] = make_truth(10 if args.quick else 150, seed=0)
    tasks = []
    for dataset, truth in truths.items():
        size = float(truth["size"].median())
        for condition in conditions(args.quick):
            grid = peer_grid(size, condition["n_annotators"], args.quick)
            for seed in range(seeds):
                tasks.append((dataset, truth, condition, seed, peers, grid))
    print(f"{len(tasks)} crowds ({', '.join(truths)}), {seeds} seed(s) each")
    start = time.perf_counter()
    results = Parallel(n_jobs=args.n_jobs, verbose=5 if not args.quick else 0)(
        delayed(evaluate)(*task) for task in tasks
    )
    rows = [row for part in results for row in part]
    summary = summarise(rows)
    text = markdown(summary)
    print(text)
    payload = {
        "seeds": list(range(seeds)),
        "datasets": {
            k: {"n_images": int(v["image_id"].nunique()), "n_cells": len(v)}
            for k, v in truths.items()
        },
        "peers": peers,
        "seconds": time.perf_counter() - start,
        "summary": summary,
        "runs": rows,
    }
    print("wrote", write_result("consensus_accuracy", payload, text))
    best = {r["strategy"]: r["f1"] for r in summary if r["n_annotators"] == 5}
    if best:
        print(f"median F1 at 5 annotators, best strategy: {max(best, key=best.get)}")


if __name__ == "__main__":
    main()
