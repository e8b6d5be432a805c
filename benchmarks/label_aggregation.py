"""Label aggregation: our mean, majority and Dawid-Skene against crowd-kit, on the same votes.

    python benchmarks/label_aggregation.py [--quick] [--seeds 3]

Vote tables come from simulated crowds (:func:`~cellconsensus.simulate_crowd`,
one global annotator pool, so annotators label many cells and their skills
can be learned) over the LDC expert cells and a synthetic truth table: every
click within half a cell size of a true cell is that annotator's vote on the
cell (first click only), and the true label is known. Only ``alive``/``dead``
votes are kept, so every method sees the same two classes (``unsure`` is an
answer only our aggregators understand).

1. Accuracy and time of every method, per crowd condition (5 annotators;
   label noise 5 % or 25 %; with or without 20 % spammers), medians over seeds.
   A task a method leaves undecided counts as wrong: our ``majority`` and
   ``mean`` call a tie ``unsure`` (the fraction is reported), crowd-kit's
   ``MajorityVote`` breaks ties.
2. Dawid-Skene scaling from 10^4 to 10^6 vote rows: ours against crowd-kit's
   ``DawidSkene`` (both 100 iterations at most), time and accuracy.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from _common import SHARED_DATA, markdown_table, parser, spread, timed, write_result
from scipy.spatial import cKDTree

from cellconsensus import make_truth, read_voc, simulate_crowd
from cellconsensus.labels import get_aggregator

OURS = ("mean", "majority", "dawid-skene")


def votes_from_crowd(clicks: pd.DataFrame, truth: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Each click within half a cell size of a true cell becomes a vote on that cell.

    Returns the vote table (``task`` = row of ``truth``, ``worker``, ``label``;
    alive/dead only, one vote per task and worker) and the true labels by task.
    """
    images = pd.Index(pd.unique(truth["image_id"]))
    offset = 1e6  # images side by side on one axis: no neighbour crosses an image
    t_img = images.get_indexer(truth["image_id"])
    c_img = images.get_indexer(clicks["image_id"])
    keep = c_img >= 0
    t_xy = truth[["x", "y"]].to_numpy(float) + np.c_[t_img * offset, np.zeros(len(truth))]
    c_xy = (
        clicks[["x", "y"]].to_numpy(float)[keep] + np.c_[c_img[keep] * offset, np.zeros(keep.sum())]
    )
    distance, nearest = cKDTree(t_xy).query(c_xy)
    size = truth["size"].to_numpy(float) if "size" in truth else np.full(len(truth), 30.0)
    near = distance <= 0.5 * size[nearest]
    votes = pd.DataFrame(
        {
            "task": nearest[near],
            "worker": clicks["annotator_id"].to_numpy(object)[keep][near],
            "label": clicks["label"].astype(str).to_numpy(object)[keep][near],
        }
    )
    votes = votes[votes["label"].isin(["alive", "dead"])]
    votes = votes.drop_duplicates(["task", "worker"], ignore_index=True)
    return votes, truth["label"].astype(str).to_numpy()


def methods(quick: bool) -> dict:
    """Name -> function(votes) returning a label per task (Series indexed by task)."""
    from peers import available, crowdkit_aggregate

    out = {f"ours {name}": (lambda v, n=name: get_aggregator(n).fit_predict(v)) for name in OURS}
    if available()["crowd-kit"]:
        out["crowd-kit MajorityVote"] = lambda v: crowdkit_aggregate(v, "MajorityVote")
        out["crowd-kit DawidSkene"] = lambda v: crowdkit_aggregate(v, "DawidSkene", n_iter=100)
        # Their defaults (GLAD 100 iterations; MACE 10 restarts of 50), less in --quick.
        glad = {"n_iter": 5} if quick else {}
        mace = {"n_restarts": 1, "n_iter": 10} if quick else {}
        out["crowd-kit GLAD"] = lambda v: crowdkit_aggregate(v, "GLAD", **glad)
        out["crowd-kit MACE"] = lambda v: crowdkit_aggregate(v, "MACE", **mace)
    else:
        print("crowd-kit is not installed: only ours (make bench installs peers)")
    return out


def accuracy(labels: pd.Series, truth: np.ndarray) -> float:
    labels = pd.Series(labels)
    predicted = labels.astype(str).to_numpy()
    return float((predicted == truth[labels.index.to_numpy(int)]).mean())


def accuracy_table(truths: dict, seeds: int, quick: bool) -> list[dict]:
    runs = []
    aggregators = methods(quick)
    for dataset, truth in truths.items():
        for label_noise in (0.05, 0.25):
            for spam in (False, True):
                for seed in range(seeds):
                    clicks = simulate_crowd(
                        truth,
                        5,
                        seed=seed,
                        label_noise=label_noise,
                        spammer_fraction=0.2 if spam else 0.0,
                    )
                    votes, labels = votes_from_crowd(clicks, truth)
                    for name, method in aggregators.items():
                        start = time.perf_counter()
                        predicted = method(votes)
                        seconds = time.perf_counter() - start
                        runs.append(
                            {
                                "dataset": dataset,
                                "label_noise": label_noise,
                                "spam": spam,
                                "seed": seed,
                                "method": name,
                                "n_votes": len(votes),
                                "n_tasks": int(votes["task"].nunique()),
                                "accuracy": accuracy(predicted, labels),
                                "undecided": float(
                                    (
                                        ~pd.Series(predicted).astype(str).isin(["alive", "dead"])
                                    ).mean()
                                ),
                                "seconds": seconds,
                            }
                        )
    return runs


def scaling(rows: list[int], repeats: int) -> list[dict]:
    """Dawid-Skene time and accuracy from 10^4 to 10^6 vote rows."""
    from peers import available, crowdkit_aggregate

    # Votes per image measured on a pilot crowd, then enough images for the largest size.
    def crowd_votes(n_images: int):
        truth = make_truth(n_images, seed=1)
        return votes_from_crowd(simulate_crowd(truth, 5, seed=1, spammer_fraction=0.1), truth)

    per_image = len(crowd_votes(200)[0]) / 200
    votes, labels = crowd_votes(int(1.1 * max(rows) / per_image) + 10)
    contenders = {"ours dawid-skene": lambda v: get_aggregator("dawid-skene").fit_predict(v)}
    if available()["crowd-kit"]:
        contenders["crowd-kit DawidSkene"] = lambda v: crowdkit_aggregate(
            v, "DawidSkene", n_iter=100
        )
    out = []
    tasks = votes["task"].to_numpy()
    for n in rows:
        # Whole tasks, so every task keeps all its votes.
        last = tasks[min(n, len(tasks)) - 1]
        part = votes[tasks <= last]
        for name, method in contenders.items():
            median, times, predicted = timed(lambda m=method, p=part: m(p), repeats)
            out.append(
                {
                    "rows": len(part),
                    "method": name,
                    "median_s": median,
                    "times_s": times,
                    "rows_per_s": len(part) / median,
                    "accuracy": accuracy(predicted, labels),
                }
            )
            print(
                f"  {len(part):>9,} rows {name:>22}: {median:.3f} s, accuracy {out[-1]['accuracy']:.4f}"
            )
    return out


def summarise(
    runs: list[dict], keys: tuple[str, ...] = ("dataset", "label_noise", "spam", "method")
) -> list[dict]:
    """Accuracy (median, min, max over seeds) and median time per group of ``keys``."""
    frame = pd.DataFrame(runs)
    out = []
    for key, group in frame.groupby(list(keys), sort=False):
        acc, sec = spread(group["accuracy"]), spread(group["seconds"])
        row = {
            **dict(zip(keys, key, strict=True)),
            "accuracy": acc["median"],
            "accuracy_min": acc["min"],
            "accuracy_max": acc["max"],
            "seconds": sec["median"],
            "n_votes": int(group["n_votes"].median()),
            "n_seeds": acc["n"],
        }
        if "undecided" in group:
            row["undecided"] = float(group["undecided"].median())
        out.append(row)
    return out


def markdown(summary: list[dict], scale: list[dict]) -> str:
    frame = pd.DataFrame(summary)
    frame["condition"] = (
        "label noise "
        + (frame["label_noise"] * 100).round().astype(int).astype(str)
        + " %"
        + np.where(frame["spam"], ", spammers", "")
    )
    parts = []
    for dataset, rows in frame.groupby("dataset", sort=False):
        wide = rows.pivot_table(index="method", columns="condition", values="accuracy")
        secs = rows.groupby("method")["seconds"].median()
        undecided = rows.groupby("method")["undecided"].max()
        table = [
            {"method": m, **dict(r.items()), "seconds": secs[m], "undecided": undecided[m]}
            for m, r in wide.iterrows()
        ]
        columns = {"method": "method"}
        columns.update({f"{c}:.4f": c for c in wide.columns})
        columns["seconds:.3f"] = "median time (s)"
        columns["undecided:.3f"] = "undecided (ties), at most"
        parts.append(
            f"**{dataset}** ({int(rows['n_votes'].median()):,} votes, 5 annotators per image): "
            "accuracy, median over seeds\n\n" + markdown_table(table, columns)
        )
    if scale:
        s = pd.DataFrame(scale)
        wide = s.pivot_table(index="rows", columns="method", values="median_s")
        table = []
        for rows, r in wide.iterrows():
            row = {"rows": f"{rows:,}", **dict(r.items())}
            if "crowd-kit DawidSkene" in r:
                row["ratio"] = r["crowd-kit DawidSkene"] / r["ours dawid-skene"]
            table.append(row)
        columns = {"rows": "vote rows"}
        columns.update({f"{c}:.3f": f"{c} (s)" for c in wide.columns})
        if "crowd-kit DawidSkene" in wide:
            columns["ratio:.1f"] = "speed-up"
        parts.append("Dawid-Skene scaling (median time):\n\n" + markdown_table(table, columns))
    return "\n\n".join(parts)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    seeds = 1 if args.quick else args.seeds
    truths = {}
    folder = SHARED_DATA / "ldc" / "images"
    if folder.exists():
        truths["ldc"] = read_voc(sorted(folder.glob("*.xml"))[: 40 if args.quick else None])
    truths["synthetic"] = make_truth(20 if args.quick else 400, seed=0)
    start = time.perf_counter()
    runs = accuracy_table(truths, seeds, args.quick)
    summary = summarise(runs)
    print("Dawid-Skene scaling:")
    sizes = [10_000] if args.quick else [10_000, 100_000, 1_000_000]
    scale = scaling(sizes, 1 if args.quick else args.repeats)
    text = markdown(summary, scale)
    print(text)
    payload = {
        "seeds": list(range(seeds)),
        "seconds": time.perf_counter() - start,
        "summary": summary,
        "scaling": scale,
        "runs": runs,
    }
    print("wrote", write_result("label_aggregation", payload, text))


if __name__ == "__main__":
    main()
