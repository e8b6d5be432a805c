"""Three classes beside two: the CNN on synthetic cells labelled by a crowd.

    python benchmarks/three_classes_cnn.py [--quick] [--seeds 2] [--images 400] [--epochs 20]

The images of ``three_classes.py`` (synthetic brightfield; two classes: 35 % dead,
the rest alive; three: 35 % dead, 30 % ``mitotic``, dividing cells drawn as two
daughters side by side). Images split 80:10:10 (stratified by the true labels); a
5-annotator crowd (the simulator's defaults); the default consensus cells of the
train and val images, the expert cells of the test images; 32 px patches;
``compact`` trained with hard and with soft targets (the crowd's class
probabilities): a softmax over three classes, a sigmoid for two. Test balanced
accuracy (mean recall over the classes), recall per class, one-vs-rest ROC AUC
(macro) and the confusion matrix, medians over seeds.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import markdown_table, parser, spread, write_result
from three_classes import synthetic_sets

from cellcnn.evaluate import evaluate
from cellcnn.train import train
from cellconsensus import find_consensus, simulate_crowd
from cellconsensus.splits import assign_splits
from cellconsensus.store import write_patches

SIZE = 32


def classifier_cells(truth: pd.DataFrame, k: int, seed: int) -> pd.DataFrame:
    """Crowd consensus cells of the train and val images, expert cells of the test images,
    with a ``split`` column and the class probabilities (one-hot for the experts)."""
    image_split = assign_splits(truth, seed=seed).groupby(truth["image_id"]).first().astype(str)
    cells = find_consensus(simulate_crowd(truth, 5, seed=seed)).cells
    probabilities = [c for c in cells.columns if c.startswith("p_") and c != "p_real"]
    crowd = cells[cells["image_id"].map(image_split).isin(["train", "val"])]
    crowd = crowd[["image_id", "x", "y", "label", *probabilities]]
    expert = truth[truth["image_id"].map(image_split) == "test"][["image_id", "x", "y", "label"]]
    for column in probabilities:
        expert[column] = (expert["label"].astype(str) == column[2:]).astype(float)
    both = pd.concat([crowd, expert], ignore_index=True)
    both["label"] = both["label"].astype(str)
    both["split"] = both["image_id"].map(image_split)
    return both


def classifier(data: dict, seeds: int, epochs: int, work: Path) -> list[dict]:
    rows = []
    for (k, images), seed in itertools.product(data.items(), range(seeds)):
        cells = classifier_cells(images.truth, k, seed)
        store = work / f"k{k}-{seed}.zarr"
        write_patches(cells.drop(columns="split"), images.images, store, SIZE,
                      split=cells["split"], mode="w")  # fmt: skip
        for target in ("hard", "soft"):
            out = work / f"k{k}-{seed}-{target}"
            start = time.perf_counter()
            result = train(store, SIZE, "compact", out_dir=out, epochs=epochs, patience=6,
                           target=target, seed=seed, verbose=0)  # fmt: skip
            seconds = time.perf_counter() - start
            m = evaluate(out, split="test", tta=False, threshold=0.5)  # as measured: plain
            row = {"classes": k, "seed": seed, "target": target, "n_test": m["n"],
                   "n_train": result.run["n_train"], "balanced_accuracy": m["balanced_accuracy"],
                   "accuracy": m["accuracy"], "roc_auc": m.get("roc_auc"),
                   **{key: m[key] for key in (f"{figure}_{c}" for figure in ("recall", "roc_auc")
                                              for c in m["classes"]) if key in m},
                   "confusion": m["confusion"], "epochs_run": result.run["epochs_run"],
                   "train_seconds": seconds}  # fmt: skip
            rows.append(row)
            print(f"  K={k} seed {seed} {target}: balanced accuracy "
                  f"{row['balanced_accuracy']:.4f}, ROC AUC {row['roc_auc']:.4f} "
                  f"({seconds:.0f} s)", flush=True)  # fmt: skip
        shutil.rmtree(store, ignore_errors=True)
    return rows


def summarise_classifier(rows: list[dict]) -> list[dict]:
    out = []
    for (k, target), group in pd.DataFrame(rows).groupby(["classes", "target"], sort=True):
        numbers = [c for c in group.columns if c.startswith(("recall_", "roc_auc"))
                   or c in ("balanced_accuracy", "accuracy", "train_seconds")]  # fmt: skip
        summary = {"classes": k, "target": target, "n_seeds": len(group),
                   "n_test": int(group["n_test"].median()),
                   "n_train": int(group["n_train"].median())}  # fmt: skip
        for c in numbers:
            values = group[c].dropna()
            if len(values):
                s = spread(values)
                summary[c], summary[f"{c}_min"], summary[f"{c}_max"] = (
                    s["median"],
                    s["min"],
                    s["max"],
                )
        summary["confusion"] = np.sum(group["confusion"].tolist(), axis=0).tolist()
        out.append(summary)
    return out


def markdown(cnn: list[dict], classes: tuple[str, ...]) -> str:
    columns = {"classes": "K", "target": "targets", "n_train": "training cells",
               "n_test": "test cells", "balanced_accuracy:.4f": "balanced accuracy",
               "balanced_accuracy_min:.4f": "min", "balanced_accuracy_max:.4f": "max",
               "roc_auc:.4f": "ROC AUC (one-vs-rest, macro)"}  # fmt: skip
    columns.update({f"recall_{name}:.4f": f"recall {name}" for name in classes})
    parts = ["Classifier on the expert cells of the test images (compact, 32 px; median over "
             f"seeds; classes: {', '.join(classes)}):\n\n" + markdown_table(cnn, columns)]  # fmt: skip
    for r in cnn:
        if r["classes"] == len(classes) and r["target"] == "hard":
            table = [{"true": name, **dict(zip(classes, map(int, line), strict=True))}
                     for name, line in zip(classes, r["confusion"], strict=True)]  # fmt: skip
            parts.append("Confusion of the three-class model (hard targets, all seeds; rows "
                         "true, columns predicted):\n\n"
                         + markdown_table(table, {"true": "true", **{c: c for c in classes}}))  # fmt: skip
    return "\n\n".join(parts)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--images", type=int, default=400)
    p.add_argument("--epochs", type=int, default=20)
    args = p.parse_args()
    seeds, n_images, epochs = (1, 40, 1) if args.quick else (args.seeds, args.images, args.epochs)
    start = time.perf_counter()
    data = synthetic_sets(n_images)
    with tempfile.TemporaryDirectory(prefix="three_classes-") as work:
        runs = classifier(data, seeds, epochs, Path(work))
    summary = summarise_classifier(runs)
    text = markdown(summary, tuple(data[3].truth.attrs["classes"].classes))
    print(text)
    payload = {"seeds": list(range(seeds)), "n_images": n_images, "epochs": epochs,
               "size": SIZE, "cells": {k: len(d.truth) for k, d in data.items()},
               "seconds": time.perf_counter() - start, "summary": summary, "runs": runs}  # fmt: skip
    print("wrote", write_result("three_classes_cnn", payload, text))


if __name__ == "__main__":
    main()
