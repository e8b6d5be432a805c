"""Consensus accuracy against ground truth, across crowd conditions: ours, the thesis, panoptes.

    python benchmarks/consensus_accuracy.py [--quick] [--seeds 2] [--datasets ldc synthetic]

Clicks are simulated (:func:`~cellconsensus.simulate_crowd`) over the expert
positions and labels of ``../shared/data/ldc`` (a fixed subset of its images)
and over a synthetic fluorescence truth table, for every crowd condition of a
grid: 3, 5 or 10 annotators per image; low/high position noise (0.1/0.3 of
the cell size); low/high label noise (5/25 % flips); with or without
spammers (20 % of the pool) and double clicks (15 %). Each condition is run
with several seeds (medians and the min-max spread are reported).

Runs per condition and seed:

- ours: ``find_consensus(clicks)`` with no parameter (``default``: ``eps``
  "auto", the annotator model of which cells are real, Dawid-Skene labels) and
  the alternatives it was chosen over (:data:`CANDIDATES`: the support
  threshold instead of the annotator model; the previous default, ``eps=10``
  with the threshold); every registered strategy with its defaults and with
  ``"auto"`` scale, majority labels
  (:func:`~cellconsensus.compare.compare_strategies`);
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

import numpy as np
import pandas as pd
from _common import SHARED_DATA, markdown_table, parser, spread, write_result
from joblib import Parallel, delayed

from cellconsensus import find_consensus, make_truth, read_voc, simulate_crowd
from cellconsensus.compare import compare_strategies
from cellconsensus.metrics import score
from cellconsensus.strategies import available_strategies

METRICS = ("precision", "recall", "f1", "label_accuracy", "localisation_error")
#: The row of the library's defaults: ``find_consensus(clicks)``, no parameter given.
DEFAULT = "default"
#: crowd-kit's Dawid-Skene labelling the default's cells (same cells, same votes).
CROWDKIT_DS = "crowd-kit DawidSkene (default's cells)"
#: Configurations measured beside the defaults, to choose the next ones (same cells scored).
CANDIDATES = {
    "default, support threshold": {"support_rule": "threshold"},
    "eps 10, support threshold (previous default)": {
        "params": {"eps": 10.0},
        "support_rule": "threshold",
    },
}
#: The default and the candidates: their rows carry calibration data.
CONFIGURATIONS = (DEFAULT, *CANDIDATES)
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


def calibration(cells: pd.DataFrame, result, truth: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``p_alive`` of the cells matched to a true alive/dead cell, and whether it is alive."""
    m = result.matches
    true = truth["label"].astype(str).to_numpy()[m["truth"].to_numpy(int)]
    decided = np.isin(true, ["alive", "dead"])
    p = cells["p_alive"].to_numpy(float)[m["cell"].to_numpy(int)]
    return p[decided], true[decided] == "alive"


def expected_calibration_error(p: np.ndarray, alive: np.ndarray, bins: int = 10) -> float:
    """Mean |observed alive share - mean p_alive| over ten equal-width bins, weighted by size."""
    index = np.minimum((p * bins).astype(int), bins - 1)
    return float(
        sum(
            (index == b).mean() * abs(alive[index == b].mean() - p[index == b].mean())
            for b in range(bins)
            if (index == b).any()
        )
    )


def default_rows(clicks: pd.DataFrame, truth: pd.DataFrame, crowdkit: bool) -> list[dict]:
    """The library with no parameter given (and the candidate defaults), and crowd-kit's
    Dawid-Skene on the default's cells."""
    rows = []
    for name in CONFIGURATIONS:
        start = time.perf_counter()
        outcome = find_consensus(clicks, **CANDIDATES.get(name, {}))
        seconds = time.perf_counter() - start
        scored = score(outcome.cells, truth)
        p, alive = calibration(outcome.cells, scored, truth)
        rows.append(
            {
                "n_cells": len(outcome.cells),
                "family": "ours",
                "tuned": False,
                "strategy": name,
                "params": repr(outcome.strategy),
                "seconds": seconds,
                "ece": expected_calibration_error(p, alive),
                "p_alive": p.round(4).tolist(),
                "alive": alive.tolist(),
                **{m: getattr(scored, m) for m in METRICS},
            }
        )
        if name == DEFAULT:
            result = outcome
    base = {"n_cells": len(result.cells), "family": "ours", "tuned": False}
    if crowdkit:
        from peers import crowdkit_aggregate

        votes = result.assignments[result.assignments["cell_id"] >= 0]
        votes = votes[votes["label"].isin(["alive", "dead"])]
        task = votes["image_id"].astype(str) + "/" + votes["cell_id"].astype(str)
        start = time.perf_counter()
        labels = crowdkit_aggregate(
            pd.DataFrame(
                {"task": task, "worker": votes["annotator_id"], "label": votes["label"].astype(str)}
            ),
            "DawidSkene",
            n_iter=100,
        )
        key = result.cells["image_id"].astype(str) + "/" + result.cells["cell_id"].astype(str)
        cells = result.cells.assign(label=key.map(labels).fillna("unsure").to_numpy())
        other = score(cells, truth)
        rows.append(
            {
                **base,
                **{m: getattr(other, m) for m in METRICS},
                "strategy": CROWDKIT_DS,
                "family": "peer",
                "params": "n_iter=100",
                "seconds": time.perf_counter() - start,
            }
        )
    return rows


def evaluate(dataset: str, truth, condition: dict, seed: int, peers: bool, grid: dict) -> list:
    """Every run on one simulated crowd."""
    clicks = crowd(truth, condition, seed)
    from peers import available

    rows = default_rows(clicks, truth, available()["crowd-kit"])
    table = compare_strategies(
        clicks,
        [s for s in available_strategies() if s != "radius-thesis"],
        truth=truth,
        labels="majority",
        auto_scale=True,
    )
    rows += [
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
            if strategy in CONFIGURATIONS:  # calibration over every seed's cells together
                p = np.concatenate([np.asarray(v, float) for v in runs["p_alive"]])
                alive = np.concatenate([np.asarray(v, bool) for v in runs["alive"]])
                row["ece"] = expected_calibration_error(p, alive)
            out.append(row)
    return out


def reliability_bins(rows: list[dict], bins: int = 10) -> dict[str, list[dict]]:
    """The default's ``p_alive`` against the observed alive share, per dataset, in ten bins
    over every condition and seed (the reliability diagram)."""
    out: dict[str, list[dict]] = {}
    for dataset in sorted({r["dataset"] for r in rows}):
        runs = [r for r in rows if r["dataset"] == dataset and r["strategy"] == DEFAULT]
        p = np.concatenate([np.asarray(r["p_alive"], float) for r in runs])
        alive = np.concatenate([np.asarray(r["alive"], bool) for r in runs])
        index = np.minimum((p * bins).astype(int), bins - 1)
        out[dataset] = [
            {
                "p_alive": float(p[index == b].mean()),
                "observed": float(alive[index == b].mean()),
                "n": int((index == b).sum()),
            }
            for b in range(bins)
            if (index == b).any()
        ]
        out[dataset].append({"ece": expected_calibration_error(p, alive), "n_cells": len(p)})
    return out


def defaults_against_peers(summary: list[dict]) -> list[dict]:
    """Per condition: the default's F1 and label accuracy against the best oracle-tuned
    panoptes reducer and crowd-kit's Dawid-Skene on the same cells."""
    frame = pd.DataFrame(summary)
    keys = ["dataset", "n_annotators", "position_noise", "label_noise", "spam"]
    out = []
    for key, rows in frame.groupby(keys, sort=True):
        by = rows.set_index("strategy")
        if DEFAULT not in by.index:
            continue
        tuned = by[by.index.str.startswith("panoptes dbscan") & by.index.str.endswith("(tuned)")]
        row = dict(zip(keys, key, strict=True))
        row.update(
            default_f1=by.loc[DEFAULT, "f1"],
            peer_f1=tuned["f1"].max() if len(tuned) else float("nan"),
            peer=tuned["f1"].idxmax() if len(tuned) else "",
            default_label_accuracy=by.loc[DEFAULT, "label_accuracy"],
            crowdkit_label_accuracy=(
                by.loc[CROWDKIT_DS, "label_accuracy"] if CROWDKIT_DS in by.index else float("nan")
            ),
            majority_label_accuracy=by.loc["dbscan", "label_accuracy"]
            if "dbscan" in by.index
            else float("nan"),
            ece=by.loc[DEFAULT].get("ece", float("nan")),
        )
        row["f1_margin"] = row["default_f1"] - row["peer_f1"]
        row["label_margin"] = row["default_label_accuracy"] - row["crowdkit_label_accuracy"]
        for name in CANDIDATES:
            if name in by.index:
                row[f"{name} f1_margin"] = by.loc[name, "f1"] - row["peer_f1"]
                row[f"{name} label_margin"] = (
                    by.loc[name, "label_accuracy"] - row["crowdkit_label_accuracy"]
                )
        out.append(row)
    return out


def configurations(summary: list[dict]) -> list[dict]:
    """The default and each candidate over every condition: mean F1 and label accuracy,
    worst margins to the tuned panoptes reducer and to crowd-kit, largest ECE."""
    frame = pd.DataFrame(summary)
    versus = pd.DataFrame(defaults_against_peers(summary))
    out = []
    for name in CONFIGURATIONS:
        rows = frame[frame["strategy"] == name]
        if rows.empty or versus.empty:
            continue
        prefix = "" if name == DEFAULT else f"{name} "
        out.append(
            {
                "configuration": name,
                "f1": rows["f1"].mean(),
                "worst_f1_margin": versus[f"{prefix}f1_margin"].min(),
                "label_accuracy": rows["label_accuracy"].mean(),
                "worst_label_margin": versus[f"{prefix}label_margin"].min(),
                "ece": rows["ece"].max(),
            }
        )
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
    versus = defaults_against_peers(summary)
    if versus:
        worst_f1 = min(versus, key=lambda r: r["f1_margin"])
        worst_label = min(versus, key=lambda r: r["label_margin"])
        for r in versus:
            r["crowd"] = (
                f"{r['dataset']}, {r['n_annotators']} ann., noise {r['position_noise']}/"
                f"{r['label_noise']}{', spam' if r['spam'] else ''}"
            )
        parts.append(
            "**Defaults against the tuned peers**: `find_consensus(clicks)` with no parameter "
            "given, per crowd condition (medians over seeds), against the best panoptes DBSCAN "
            "reducer tuned on the very crowds it is scored on, and against crowd-kit's "
            "`DawidSkene` labelling the default's own cells (same cells, same votes); "
            "majority = our `dbscan` with majority labels; ECE = expected calibration error "
            "of `p_alive` (ten bins, every seed's matched cells):\n\n"
            + markdown_table(
                versus,
                {
                    "crowd": "crowd",
                    "default_f1:.3f": "default F1",
                    "peer_f1:.3f": "panoptes tuned F1",
                    "f1_margin:+.3f": "margin",
                    "default_label_accuracy:.3f": "default label acc.",
                    "crowdkit_label_accuracy:.3f": "crowd-kit DS label acc.",
                    "majority_label_accuracy:.3f": "majority label acc.",
                    "label_margin:+.3f": "margin ",
                    "ece:.3f": "ECE",
                },
            )
            + f"\n\nWorst F1 margin: {worst_f1['f1_margin']:+.3f} ({worst_f1['crowd']}); "
            f"worst label-accuracy margin: {worst_label['label_margin']:+.3f} "
            f"({worst_label['crowd']}); largest ECE: {max(r['ece'] for r in versus):.3f}."
        )
        parts.append(
            "**The default and its alternatives**, over every condition: mean F1 and label "
            "accuracy, worst margins to the tuned panoptes reducer and to crowd-kit's "
            "`DawidSkene`, largest ECE:\n\n"
            + markdown_table(
                configurations(summary),
                {
                    "configuration": "configuration",
                    "f1:.3f": "mean F1",
                    "worst_f1_margin:+.3f": "worst F1 margin",
                    "label_accuracy:.3f": "mean label acc.",
                    "worst_label_margin:+.3f": "worst label margin",
                    "ece:.3f": "largest ECE",
                },
            )
        )
    return "\n\n".join(parts)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--seeds", type=int, default=2)
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
    reliability = reliability_bins(rows)
    for row in rows:  # the per-cell calibration data is in the summary's ECE
        row.pop("p_alive", None)
        row.pop("alive", None)
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
    payload["defaults_against_peers"] = defaults_against_peers(summary)
    payload["configurations"] = configurations(summary)
    payload["reliability"] = reliability
    print("wrote", write_result("consensus_accuracy", payload, text))
    best = {r["strategy"]: r["f1"] for r in summary if r["n_annotators"] == 5}
    if best:
        print(f"median F1 at 5 annotators, best strategy: {max(best, key=best.get)}")


if __name__ == "__main__":
    main()
