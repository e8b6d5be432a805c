"""Ensembles and calibration of the patch classifier on the LDC test split.

    python benchmarks/ensemble.py [--quick] [--size 48] [--members 5] [--epochs 12]

The LDC expert cells in a patch store split 80:10:10 by look-alike image groups
(as ``crop_size.py``); ``compact`` trained ``--members`` times (seeds 0, 1, ...;
``--epochs`` with early stopping, as the suite's crop-size run). Each run and the
ensembles of its first 3 and of all members (:func:`cellcnn.ensemble.make_ensemble`)
are evaluated on the test split at their own prediction setting (TTA, temperature
and threshold chosen on the validation split, the defaults): balanced accuracy,
ROC AUC, and the expected calibration error before and after temperature scaling.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from _common import SHARED_DATA, interval_text, markdown_table, parser, write_result

from cellcnn.ensemble import make_ensemble
from cellcnn.evaluate import evaluate
from cellcnn.train import train
from cellconsensus import read_voc
from cellconsensus.store import write_patches

KEYS = ("balanced_accuracy", "roc_auc", "ece", "ece_uncalibrated", "temperature", "tta")


def figures(run_dir: Path, name: str, extra: dict | None = None) -> dict:
    """The run's test figures, with the bootstrap intervals of its balanced accuracy and
    ROC AUC (look-alike groups drawn together) as ``"low - high"``."""
    result = evaluate(run_dir, split="test")
    intervals = {f"{k}_interval": interval_text(result[f"{k}_interval"], 4)
                 for k in ("balanced_accuracy", "roc_auc") if f"{k}_interval" in result}  # fmt: skip
    return {"model": name, **{k: result.get(k, np.nan) for k in KEYS}, **intervals,
            **(extra or {})}  # fmt: skip


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--size", type=int, default=48)
    p.add_argument("--members", type=int, default=5)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--patience", type=int, default=4)
    args = p.parse_args()
    folder = SHARED_DATA / "ldc" / "images"
    if not folder.exists():
        raise SystemExit(f"LDC data not found at {folder}")
    members, epochs = (2, 1) if args.quick else (args.members, args.epochs)
    truth = read_voc(folder)
    if args.quick:
        truth = truth[truth["image_id"].isin(sorted(truth["image_id"].unique())[:150])]
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="ensemble-") as work:
        work = Path(work)
        store = work / "ldc.zarr"
        write_patches(truth, folder, store, [args.size], groups="lookalike", mode="w", n_jobs=2)
        runs = []
        for seed in range(members):
            out = work / f"member-{seed}"
            began = time.perf_counter()
            train(store, args.size, "compact", out_dir=out, epochs=epochs,
                  patience=args.patience, seed=seed, verbose=0)  # fmt: skip
            runs.append(out)
            rows.append(figures(out, f"single, seed {seed}",
                                {"train_seconds": time.perf_counter() - began}))  # fmt: skip
            print(rows[-1], flush=True)
        for n in sorted({min(3, members), members}):
            make_ensemble(runs[:n], work / f"ensemble-{n}")
            rows.append(figures(work / f"ensemble-{n}", f"ensemble of {n}"))
            print(rows[-1], flush=True)
    singles = [r for r in rows if r["model"].startswith("single")]
    summary = [{"model": f"single (median of {len(singles)})",
                **{k: float(np.median([r[k] for r in singles])) for k in KEYS if k != "tta"}},
               *[r for r in rows if r["model"].startswith("ensemble")]]  # fmt: skip
    columns = {"model": "model", "balanced_accuracy:.4f": "balanced accuracy",
               "balanced_accuracy_interval": "its 95 % interval",
               "roc_auc:.4f": "ROC AUC", "roc_auc_interval": "its 95 % interval",
               "ece_uncalibrated:.4f": "ECE before",
               "ece:.4f": "ECE after temperature", "temperature:.2f": "temperature"}  # fmt: skip
    text = (f"LDC test split (look-alike groups kept together), compact at {args.size} px, "
            f"{epochs} epochs at most; every model at its own setting chosen on the validation "
            "split (TTA, temperature, threshold):\n\n" + markdown_table(summary, columns)
            + "\n\nEvery run:\n\n" + markdown_table(rows, columns))  # fmt: skip
    print(text)
    payload = {"size": args.size, "members": members, "epochs": epochs, "rows": rows,
               "summary": summary, "seconds": time.perf_counter() - start}  # fmt: skip
    print("wrote", write_result("ensemble", payload, text))


if __name__ == "__main__":
    main()
