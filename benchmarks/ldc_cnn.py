"""The number that matters: a CNN on the real LDC cells, split by look-alike groups.

    python benchmarks/ldc_cnn.py [--sizes 32 48 64] [--models compact thesis_vgg] [--epochs 40]

Builds a patch store from the expert boxes of ``../shared/data/ldc`` (train/val/test
80:10:10, stratified, every group of look-alike images in one split), trains each
model at each crop size (a study like the thesis' Table 3.1) and evaluates on
the test split. Target (issue 5): balanced accuracy >= 0.975 and ROC AUC >=
0.997. Also reports logistic regression on the same pixels as a baseline.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _common import SHARED_DATA, markdown_table, write_result
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cellcnn.evaluate import evaluate
from cellcnn.store import PatchStore
from cellcnn.train import train
from cellconsensus.io import read_voc
from cellconsensus.store import write_patches


def logistic_baseline(store: Path, size: int) -> dict:
    source = PatchStore(store, size)
    x = source.read(0, len(source)).reshape(len(source), -1).astype(np.float32) / 255
    label, split = source.coords["label"], source.coords["split"]
    y = (label == "alive").astype(int)
    train_rows, test_rows = split == "train", split == "test"
    model = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced")
    )
    model.fit(x[train_rows], y[train_rows])
    p = model.predict_proba(x[test_rows])[:, 1]
    return {
        "balanced_accuracy": float(balanced_accuracy_score(y[test_rows], p > 0.5)),
        "roc_auc": float(roc_auc_score(y[test_rows], p)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 48, 64])
    parser.add_argument("--models", nargs="+", default=["compact", "thesis_vgg"])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--patience", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-images", type=int, help="use only the first N images (smoke test)")
    parser.add_argument("--work", type=Path, default=Path("results") / "ldc_cnn")
    args = parser.parse_args()
    folder = SHARED_DATA / "ldc" / "images"
    if not folder.exists():
        raise SystemExit(f"LDC data not found at {folder}")
    truth = read_voc(folder)
    if args.max_images:
        truth = truth[truth["image_id"].isin(sorted(truth["image_id"].unique())[: args.max_images])]
    args.work.mkdir(parents=True, exist_ok=True)
    store = args.work / "ldc.zarr"
    report = write_patches(truth, folder, store, args.sizes, groups="lookalike", mode="w", n_jobs=2)
    print(report)
    rows = []
    for size in args.sizes:
        baseline = logistic_baseline(store, size)
        rows.append({"model": "logistic regression", "size": size, **baseline})
        print(f"{size} px logistic regression: {baseline}")
        for model in args.models:
            out = args.work / f"{model}-{size}"
            start = time.perf_counter()
            result = train(
                store,
                size,
                model,
                out_dir=out,
                epochs=args.epochs,
                patience=args.patience,
                batch_size=args.batch_size,
                verbose=2,
            )
            metrics = evaluate(out, split="test")
            with_tta = evaluate(out, split="test", tta=True)
            tuned = evaluate(out, split="test", tta=True, threshold="val")
            row = {
                "model": model,
                "size": size,
                "balanced_accuracy": metrics["balanced_accuracy"],
                "roc_auc": metrics["roc_auc"],
                "pr_auc": metrics["pr_auc"],
                "accuracy": metrics["accuracy"],
                "ece": metrics["ece"],
                "f1_alive": metrics["f1_alive"],
                "f1_dead": metrics["f1_dead"],
                "n_test": metrics["n"],
                "tta_balanced_accuracy": with_tta["balanced_accuracy"],
                "tta_roc_auc": with_tta["roc_auc"],
                "tta_val_threshold": tuned["threshold"],
                "tta_val_threshold_balanced_accuracy": tuned["balanced_accuracy"],
                "best_val_auc": result.best_val_auc,
                "epochs_run": result.run["epochs_run"],
                "train_seconds": time.perf_counter() - start,
                "parameters": result.run["parameters"],
            }
            rows.append(row)
            print(
                f"{size} px {model}: balanced accuracy {row['balanced_accuracy']:.4f}, "
                f"ROC AUC {row['roc_auc']:.4f}; with test-time augmentation "
                f"{row['tta_balanced_accuracy']:.4f} / {row['tta_roc_auc']:.4f} "
                f"({row['epochs_run']} epochs, {row['train_seconds']:.0f} s)"
            )
    text = (
        f"LDC expert cells, split by look-alike image groups (test: {rows[-1].get('n_test', '?')} "
        f"cells); at most {args.epochs} epochs, early stopping patience {args.patience}; "
        "TTA = mean over the 8 symmetries, threshold chosen on the validation split.\n\n"
        + markdown_table(
            rows,
            {
                "model": "model",
                "size": "crop (px)",
                "balanced_accuracy:.4f": "balanced accuracy",
                "roc_auc:.4f": "ROC AUC",
                "tta_val_threshold_balanced_accuracy:.4f": "balanced accuracy (TTA, val threshold)",
                "tta_roc_auc:.4f": "ROC AUC (TTA)",
                "epochs_run": "epochs",
                "train_seconds:.0f": "training (s)",
            },
        )
    )
    print(text)
    payload = {"rows": rows, "epochs": args.epochs, "patience": args.patience, "seed": 0}
    print(f"results: {write_result('ldc_cnn', payload, text)}")


if __name__ == "__main__":
    main()
