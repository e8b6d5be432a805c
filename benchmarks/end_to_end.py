"""End to end: which consensus strategy gives the best classifier?

    python benchmarks/end_to_end.py [--quick] [--size 48] [--epochs 12]

The question the library exists to answer. On ``../shared/data/ldc``:

1. Split the images train/val/test 80:10:10 by groups of look-alike images,
   stratified by the expert labels (as in ``crop_size.py``); the test images
   keep their *expert* cells and labels.
2. Simulate a crowd (5 annotators from a global pool, the simulator's default
   noise, seed 0) over the expert cells of every image.
3. For each strategy, find consensus cells on the train and val images
   (majority labels), crop them (the cells the crowd found, false ones
   included, labelled as the crowd said) and train ``compact`` on them; test
   on the expert cells and labels of the test images. The ceiling: the same
   training on the expert cells and labels. Soft targets (the consensus
   ``p_alive``) against hard ones for the default strategy and the corrected
   radius.

Reports test balanced accuracy and ROC AUC (threshold 0.5, and the threshold
chosen on the crowd-labelled validation split), training cells and their
label agreement with the experts.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import SHARED_DATA, markdown_table, parser, write_result

from cellcnn.evaluate import evaluate
from cellcnn.train import train
from cellconsensus import find_consensus, read_voc, simulate_crowd
from cellconsensus.metrics import score
from cellconsensus.splits import assign_splits, lookalike_groups
from cellconsensus.store import write_patches

STRATEGIES = ("dbscan", "radius", "hdbscan", "agglomerative", "kmeans", "radius-thesis")
SOFT = ("dbscan", "radius")


def image_splits(truth: pd.DataFrame, folder: Path) -> pd.Series:
    """Split of every image: look-alike groups, stratified by the expert labels."""
    groups = lookalike_groups(folder, sorted(truth["image_id"].unique()))
    split = assign_splits(truth, groups=groups, seed=0)
    return split.groupby(truth["image_id"]).first().astype(str)


COLUMNS = ["image_id", "x", "y", "label"]


def expert_cells(truth: pd.DataFrame, split: pd.Series) -> pd.DataFrame:
    """The expert cells as a training table: hard ``p_alive`` and each image's split."""
    return truth[COLUMNS].assign(
        p_alive=np.where(truth["label"] == "alive", 1.0, 0.0),
        split=truth["image_id"].map(split),
    )


def training_cells(cells: pd.DataFrame, truth: pd.DataFrame, split: pd.Series) -> pd.DataFrame:
    """Crowd cells of the train/val images plus the expert cells of the test images."""
    crowd = cells[cells["image_id"].map(split).isin(["train", "val"])]
    crowd = crowd[COLUMNS + (["p_alive"] if "p_alive" in crowd else [])]
    expert = expert_cells(truth, split)
    both = pd.concat(
        [crowd.assign(split=crowd["image_id"].map(split)), expert[expert["split"] == "test"]],
        ignore_index=True,
    )
    both["label"] = both["label"].astype(str)
    return both


def run(name, cells, truth, split, folder, work: Path, args, target="hard") -> dict:
    store = work / f"{name}.zarr"
    write_patches(
        cells.drop(columns="split"),
        folder,
        store,
        args.size,
        split=cells["split"],
        mode="w",
        n_jobs=2,
    )
    out = work / f"{name}-{target}"
    start = time.perf_counter()
    result = train(
        store,
        args.size,
        "compact",
        out_dir=out,
        epochs=args.epochs,
        patience=args.patience,
        target=target,
        seed=0,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    plain = evaluate(out, split="test", tta=False, threshold=0.5)
    tuned = evaluate(out, split="test", tta=False, threshold="val")
    trained = cells[cells["split"] == "train"]
    train_images = list(split.index[split == "train"])
    agreement = score(trained, truth, image_ids=train_images)
    row = {
        "strategy": name,
        "target": target,
        "train_cells": len(trained),
        "train_precision": agreement.precision,
        "train_recall": agreement.recall,
        "train_label_accuracy": agreement.label_accuracy,
        "balanced_accuracy": plain["balanced_accuracy"],
        "roc_auc": plain.get("roc_auc"),
        "val_threshold": tuned["threshold"],
        "val_threshold_balanced_accuracy": tuned["balanced_accuracy"],
        "epochs_run": result.run["epochs_run"],
        "train_seconds": seconds,
    }
    print(
        f"{name:>16} {target}: {len(trained)} training cells (label accuracy "
        f"{agreement.label_accuracy:.3f}); test balanced accuracy {row['balanced_accuracy']:.4f}, "
        f"ROC AUC {row['roc_auc']:.4f} ({seconds:.0f} s)",
        flush=True,
    )
    shutil.rmtree(store, ignore_errors=True)
    return row


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--size", type=int, default=48)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--patience", type=int, default=4)
    p.add_argument("--work", type=Path, help="folder for stores and models (default: temp)")
    args = p.parse_args()
    folder = SHARED_DATA / "ldc" / "images"
    if not folder.exists():
        raise SystemExit(f"LDC data not found at {folder}")
    truth = read_voc(folder)
    strategies = STRATEGIES
    if args.quick:
        keep = sorted(truth["image_id"].unique())[:40]
        truth = truth[truth["image_id"].isin(keep)].reset_index(drop=True)
        truth.attrs["image_ids"] = keep
        args.epochs, strategies = 1, ("dbscan", "radius-thesis")
    work = Path(tempfile.mkdtemp(prefix="end-to-end-", dir=args.work))
    start = time.perf_counter()
    try:
        split = image_splits(truth, folder)
        clicks = simulate_crowd(truth, 5, seed=0)
        print(f"{len(truth)} expert cells, {len(clicks)} simulated clicks; splits by image")
        rows = [run("expert labels", expert_cells(truth, split), truth, split, folder, work, args)]
        for name in strategies:
            cells = find_consensus(clicks, name).cells
            both = training_cells(cells, truth, split)
            rows.append(run(name, both, truth, split, folder, work, args))
            if name in SOFT and not args.quick:
                rows.append(run(name, both, truth, split, folder, work, args, target="soft"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = (
        f"LDC, compact CNN at {args.size} px, at most {args.epochs} epochs (early stopping "
        f"patience {args.patience}); trained on the consensus of 5 simulated annotators over "
        "the train/val images, tested on the expert labels of look-alike-free test images. "
        "Training cells: how many, and their agreement with the experts (precision, recall, "
        "label accuracy of the matched cells).\n\n"
        + markdown_table(
            rows,
            {
                "strategy": "trained on",
                "target": "targets",
                "train_cells": "training cells",
                "train_precision:.3f": "precision",
                "train_recall:.3f": "recall",
                "train_label_accuracy:.3f": "label accuracy",
                "balanced_accuracy:.4f": "test balanced accuracy",
                "roc_auc:.4f": "test ROC AUC",
                "val_threshold_balanced_accuracy:.4f": "balanced accuracy (val threshold)",
            },
        )
    )
    print(text)
    payload = {
        "seed": 0,
        "size": args.size,
        "epochs": args.epochs,
        "patience": args.patience,
        "seconds": time.perf_counter() - start,
        "rows": rows,
    }
    print("wrote", write_result("end_to_end", payload, text))


if __name__ == "__main__":
    main()
