"""Label models at K = 3 classes beside K = 2: ours against crowd-kit, on the same votes.

    python benchmarks/label_classes.py [--quick] [--seeds 3] [--tasks 2000]

Vote tables from :func:`cellconsensus.simulate_votes` (Dawid and Skene's generative
model: 5 distinct annotators per task from a pool of 50, each honest annotator with
an error rate drawn around the label noise and errors spread over the other classes,
spammers answering at random). The same votes go to our ``mean``, ``majority`` and
``dawid-skene`` (with the classes given) and to crowd-kit's ``MajorityVote``,
``DawidSkene`` and ``GLAD``. Accuracy against the true classes (a task left
``unsure`` counts as wrong), medians over seeds; crowd-kit runs where it is installed
(``make bench`` puts it in ``.venv-bench``).

Then the speed of Dawid-Skene at K = 3 from 10^4 to 10^6 votes (pool of 500
annotators, noise 20 %): ours against crowd-kit's ``DawidSkene`` (at most 100
iterations each), time and accuracy.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from _common import markdown_table, parser, write_result
from label_aggregation import summarise

from cellconsensus import simulate_votes
from cellconsensus.labels import get_aggregator

OURS = ("mean", "majority", "dawid-skene")
CLASSES = {2: ("alive", "dead"), 3: ("alive", "dead", "mitotic")}
CONDITIONS = [(0.1, 0.0), (0.3, 0.0), (0.1, 0.2), (0.3, 0.2)]


def methods(quick: bool, classes: tuple[str, ...]) -> dict:
    """Name -> function(votes) returning a label per task."""
    from peers import available, crowdkit_aggregate

    out = {
        f"ours {name}": (lambda v, n=name: get_aggregator(n, classes=list(classes)).fit_predict(v))
        for name in OURS
    }
    if available()["crowd-kit"]:
        out["crowd-kit MajorityVote"] = lambda v: crowdkit_aggregate(v, "MajorityVote")
        out["crowd-kit DawidSkene"] = lambda v: crowdkit_aggregate(v, "DawidSkene", n_iter=100)
        glad = {"n_iter": 5} if quick else {}
        out["crowd-kit GLAD"] = lambda v: crowdkit_aggregate(v, "GLAD", **glad)
    return out


def run(n_tasks: int, seeds: int, quick: bool) -> list[dict]:
    rows = []
    for k, classes in CLASSES.items():
        aggregators = methods(quick, classes)
        for noise, spam in CONDITIONS:
            for seed in range(seeds):
                votes, truth = simulate_votes(n_tasks, classes, label_noise=noise,
                                              spammer_fraction=spam, seed=seed)  # fmt: skip
                for name, method in aggregators.items():
                    start = time.perf_counter()
                    labels = pd.Series(method(votes)).astype(str)
                    seconds = time.perf_counter() - start
                    right = labels.to_numpy() == truth.loc[labels.index].to_numpy()
                    rows.append({"classes": k, "label_noise": noise, "spam": spam, "seed": seed,
                                 "method": name, "accuracy": float(right.mean()),
                                 "seconds": seconds, "n_votes": len(votes)})  # fmt: skip
    return rows


def scaling(sizes: list[int]) -> list[dict]:
    """Dawid-Skene at K = 3: time and accuracy from 10^4 to 10^6 vote rows."""
    from peers import available, crowdkit_aggregate

    classes = CLASSES[3]
    models = {"ours dawid-skene": lambda v: get_aggregator("dawid-skene", classes=list(classes))
              .fit_predict(v)}  # fmt: skip
    if available()["crowd-kit"]:
        models["crowd-kit DawidSkene"] = lambda v: crowdkit_aggregate(v, "DawidSkene", n_iter=100)
    out = []
    for rows in sizes:
        votes, truth = simulate_votes(rows // 5, classes, pool_size=500, label_noise=0.2, seed=0)
        for name, method in models.items():
            start = time.perf_counter()
            labels = pd.Series(method(votes)).astype(str)
            seconds = time.perf_counter() - start
            accuracy = float((labels.to_numpy() == truth.loc[labels.index].to_numpy()).mean())
            out.append({"rows": len(votes), "method": name, "seconds": seconds,
                        "accuracy": accuracy})  # fmt: skip
            print(f"  {len(votes):>9,} rows {name:>22}: {seconds:.2f} s, accuracy {accuracy:.4f}")
    return out


def markdown(summary: list[dict], n_tasks: int, scale: list[dict]) -> str:
    frame = pd.DataFrame(summary)
    frame["condition"] = (
        "noise " + (frame["label_noise"] * 100).round().astype(int).astype(str) + " %"
        + np.where(frame["spam"] > 0, ", 20 % spammers", "")
    )  # fmt: skip
    parts = []
    for k, part in frame.groupby("classes", sort=True):
        wide = part.pivot_table(index="method", columns="condition", values="accuracy")
        secs = part.groupby("method")["seconds"].median()
        table = [{"method": m, **dict(r.items()), "seconds": secs[m]} for m, r in wide.iterrows()]
        columns = {"method": "method"}
        columns.update({f"{c}:.4f": c for c in wide.columns})
        columns["seconds:.3f"] = "median time (s)"
        parts.append(f"**K = {k}** ({', '.join(CLASSES[k])}; {n_tasks:,} tasks, 5 votes each): "
                     "accuracy, median over seeds\n\n" + markdown_table(table, columns))  # fmt: skip
    if scale:
        wide = pd.DataFrame(scale).pivot_table(index="rows", columns="method",
                                               values=["seconds", "accuracy"])  # fmt: skip
        table = []
        for rows, r in wide.iterrows():
            row = {"rows": f"{rows:,}"}
            for method in wide["seconds"].columns:
                row[f"{method} s"] = r[("seconds", method)]
                row[f"{method} acc"] = r[("accuracy", method)]
            table.append(row)
        columns = {"rows": "vote rows"}
        for method in wide["seconds"].columns:
            columns[f"{method} s:.2f"] = f"{method} (s)"
            columns[f"{method} acc:.4f"] = f"{method} accuracy"
        parts.append("Dawid-Skene at K = 3, time and accuracy (noise 20 %, 500 annotators):\n\n"
                     + markdown_table(table, columns))  # fmt: skip
    return "\n\n".join(parts)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--tasks", type=int, default=2000)
    args = p.parse_args()
    seeds, n_tasks = (1, 300) if args.quick else (args.seeds, args.tasks)
    start = time.perf_counter()
    rows = run(n_tasks, seeds, args.quick)
    summary = summarise(rows, ("classes", "label_noise", "spam", "method"))
    print("Dawid-Skene at K = 3, scaling:")
    scale = scaling([10_000] if args.quick else [10_000, 100_000, 1_000_000])
    text = markdown(summary, n_tasks, scale)
    print(text)
    payload = {"seeds": list(range(seeds)), "n_tasks": n_tasks,
               "seconds": time.perf_counter() - start, "summary": summary, "scaling": scale,
               "runs": rows}  # fmt: skip
    print("wrote", write_result("label_classes", payload, text))


if __name__ == "__main__":
    main()
