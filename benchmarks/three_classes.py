"""Three classes beside two: the consensus grid on synthetic cells, ours against crowd-kit.

    python benchmarks/three_classes.py [--quick] [--seeds 2] [--images 400]

Synthetic brightfield truth (:func:`~cellconsensus.synthetic.make_images`) with two
classes (35 % dead, the rest alive) and with three (35 % dead, 30 % ``mitotic``: a
dividing cell, drawn as two daughters side by side), the same images otherwise.

Crowds of 3, 5 or 10 annotators per image
   (:func:`~cellconsensus.simulate_crowd`; errors spread over the other classes),
   label noise 5 % or 25 %, with or without 20 % spammers, several seeds.
   ``find_consensus(clicks)`` with no parameter (Dawid-Skene over the K classes)
   and with majority labels; crowd-kit's ``MajorityVote``, ``DawidSkene`` and
   ``GLAD`` on the votes of the default's cells (the same cells, the same votes;
   where crowd-kit is installed). Detection F1, label accuracy and balanced label
   accuracy (mean recall over the true classes) against the truth.

The classifier on the same images: ``three_classes_cnn.py``.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pandas as pd
from _common import markdown_table, parser, spread, write_result

from cellconsensus import find_consensus, simulate_crowd
from cellconsensus.metrics import score
from cellconsensus.synthetic import make_images

FRACTIONS = {2: 0.0, 3: 0.3}


def conditions(quick: bool) -> list[dict]:
    if quick:
        return [{"n_annotators": 5, "label_noise": 0.05, "spammer_fraction": 0.0}]
    grid = itertools.product((3, 5, 10), (0.05, 0.25), (0.0, 0.2))
    return [{"n_annotators": a, "label_noise": n, "spammer_fraction": s} for a, n, s in grid]


def crowdkit_labels(result, method: str, classes: tuple[str, ...]) -> pd.DataFrame:
    """The default's cells relabelled by a crowd-kit aggregator on their votes."""
    from peers import crowdkit_aggregate

    votes = result.assignments[result.assignments["cell_id"] >= 0]
    votes = votes[votes["label"].astype(str).isin(classes)]
    task = votes["image_id"].astype(str) + "/" + votes["cell_id"].astype(str)
    frame = pd.DataFrame({"task": task, "worker": votes["annotator_id"].astype(str),
                          "label": votes["label"].astype(str)})  # fmt: skip
    labels = crowdkit_aggregate(
        frame, method, **({"n_iter": 100} if method != "MajorityVote" else {})
    )
    key = result.cells["image_id"].astype(str) + "/" + result.cells["cell_id"].astype(str)
    return result.cells.assign(label=key.map(labels).fillna("unsure").to_numpy())


def consensus_grid(truths: dict, seeds: int, quick: bool) -> list[dict]:
    from peers import available

    peers = ("MajorityVote", "DawidSkene", "GLAD") if available()["crowd-kit"] else ()
    rows = []
    for (k, truth), condition, seed in itertools.product(
        truths.items(), conditions(quick), range(seeds)
    ):
        clicks = simulate_crowd(truth, seed=seed, **condition)
        classes = tuple(truth.attrs["classes"].classes) if k == 3 else ("alive", "dead")
        default = find_consensus(clicks)
        outcomes = {"ours default (Dawid-Skene)": default.cells,
                    "ours majority": find_consensus(clicks, labels="majority").cells}  # fmt: skip
        for method in peers:
            outcomes[f"crowd-kit {method}"] = crowdkit_labels(default, method, classes)
        for name, cells in outcomes.items():
            s = score(cells, truth)
            rows.append({"classes": k, **condition, "seed": seed, "method": name, "f1": s.f1,
                         "label_accuracy": s.label_accuracy,
                         "balanced_label_accuracy": s.balanced_label_accuracy})  # fmt: skip
        print(f"  K={k} {condition} seed {seed}: default F1 {rows[-len(outcomes)]['f1']:.3f}, "
              f"label accuracy {rows[-len(outcomes)]['label_accuracy']:.3f}", flush=True)  # fmt: skip
    return rows


def summarise_grid(rows: list[dict]) -> list[dict]:
    keys = ["classes", "n_annotators", "label_noise", "spammer_fraction", "method"]
    out = []
    for key, group in pd.DataFrame(rows).groupby(keys, sort=False):
        out.append({**dict(zip(keys, key, strict=True)),
                    **{m: spread(group[m])["median"]
                       for m in ("f1", "label_accuracy", "balanced_label_accuracy")},
                    "n_seeds": len(group)})  # fmt: skip
    return out


def markdown(grid: list[dict]) -> str:
    """Label accuracy: a table per K (crowds by method); detection F1: the default's cells
    (every method labels the same cells), K = 2 beside K = 3."""
    frame = pd.DataFrame(grid)
    if not len(frame):
        return ""
    frame = frame.astype({"classes": int, "n_annotators": int})
    frame["crowd"] = (frame["n_annotators"].astype(str) + " annotators, noise "
                      + (frame["label_noise"] * 100).round().astype(int).astype(str) + " %"
                      + np.where(frame["spammer_fraction"] > 0, ", 20 % spammers", ""))  # fmt: skip
    parts = []
    for k, part in frame.groupby("classes", sort=True):
        wide = part.pivot_table(index="crowd", columns="method", values="label_accuracy",
                                sort=False)  # fmt: skip
        rows = [{"crowd": crowd, **r.to_dict()} for crowd, r in wide.iterrows()]
        columns = {"crowd": "crowd", **{f"{m}:.3f": m for m in wide.columns}}
        parts.append(f"**K = {k}**: label accuracy of the matched cells (median over seeds)"
                     "\n\n" + markdown_table(rows, columns))  # fmt: skip
    ours = frame[frame["method"] == frame["method"].iloc[0]]
    wide = ours.pivot_table(index="crowd", columns="classes", values="f1", sort=False)
    rows = [{"crowd": crowd, **{f"k{k}": v for k, v in r.items()}} for crowd, r in wide.iterrows()]
    columns = {"crowd": "crowd", **{f"k{k}:.3f": f"F1, K = {k}" for k in wide.columns}}
    parts.append("Detection F1 of the default's cells (every method above labels the same "
                 "cells; median over seeds)\n\n" + markdown_table(rows, columns))  # fmt: skip
    return "\n\n".join(parts)


def synthetic_sets(n_images: int) -> dict:
    """K -> the synthetic brightfield images and truth of two and of three classes
    (the same seed: the same images but for the dividing cells)."""
    return {k: make_images(n_images, style="brightfield", mitotic_fraction=f, seed=0)
            for k, f in FRACTIONS.items()}  # fmt: skip


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--images", type=int, default=400)
    args = p.parse_args()
    seeds, n_images = (1, 60) if args.quick else (args.seeds, args.images)
    start = time.perf_counter()
    data = synthetic_sets(n_images)
    print("consensus grid:")
    grid = summarise_grid(consensus_grid({k: d.truth for k, d in data.items()}, seeds, args.quick))
    text = markdown(grid)
    print(text)
    payload = {"seeds": list(range(seeds)), "n_images": n_images,
               "cells": {k: len(d.truth) for k, d in data.items()},
               "seconds": time.perf_counter() - start, "consensus": grid}  # fmt: skip
    print("wrote", write_result("three_classes", payload, text))


if __name__ == "__main__":
    main()
