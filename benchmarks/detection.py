"""Cells from pixels alone: the point detector against a tuned LoG detector and crowds.

    python benchmarks/detection.py [--quick] [--seeds 2] [--epochs 30] [--datasets ldc synthetic]

``ldc``: every image of ``../shared/data/ldc`` with expert boxes, split 80:10:10
with every group of look-alike images in one split (as ``end_to_end.py``);
``synthetic``: 300 synthetic fluorescence images (built in), split by image.
:func:`cellcnn.detect.train_detector` learns from the expert cells of the
training images (its defaults; the peak threshold chosen on the validation
images) and :func:`cellcnn.detect.detect` finds the cells of the test images,
scored by Hungarian matching within half a cell
(:func:`cellconsensus.metrics.score`): precision, recall, F1, localisation
error, label accuracy (the detector's class maps; balanced over the classes), and a
95 % interval of the F1 (bootstrap over the test images, look-alike groups drawn
together: :func:`cellconsensus.metrics.detection_intervals`).
The same cells labelled instead by a patch classifier trained on the same training
and validation cells (``compact`` at 48 px, :data:`CLASSIFIER_EPOCHS` epochs with
early stopping, at its validation-chosen setting; ``detect(classifier=)``, which
``cellcnn predict RUN --detector DET`` does) give a second label accuracy.

Beside it, on the same test images:

- scikit-image's Laplacian-of-Gaussian blob detector (``skimage.feature.blob_log``),
  its smallest and largest scale, threshold and polarity (bright or dark cells)
  tuned on the validation images for the best F1 (it gives no labels);
- simulated crowds of 1, 2, 3, 5 and 10 volunteers (the simulator's defaults)
  through the library's default consensus: the crowd size whose F1 (and label
  accuracy) the detector equals, interpolated.

Also: training time (2 CPU cores here) and CPU inference speed, images per second
at the data set's size and at 1024 x 1024 pixels. Medians over seeds.
"""

from __future__ import annotations

import itertools
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import (
    RESULTS,
    SHARED_DATA,
    interval_text,
    markdown_table,
    parser,
    spread,
    write_result,
)
from end_to_end import expert_cells, image_splits
from skimage.feature import blob_log

from cellcnn.detect import detect, evaluate_detector, train_detector
from cellcnn.train import train
from cellconsensus import find_consensus, read_voc, simulate_crowd
from cellconsensus.images import as_image_source
from cellconsensus.metrics import detection_intervals, score
from cellconsensus.splits import lookalike_groups
from cellconsensus.store import write_patches
from cellconsensus.synthetic.render import make_images

CROWDS = (1, 2, 3, 5, 10)
#: The LoG detector's grid: scales as multiples of the data's median cell radius over
#: sqrt(2) (a blob's LoG peaks there), thresholds, and the cells' polarity.
LOG_GRID = {"min_sigma": (0.5, 0.75), "max_sigma": (1.0, 1.5, 2.0),
            "threshold": (0.01, 0.02, 0.05, 0.1, 0.2), "dark": (False, True)}  # fmt: skip
#: Validation images the LoG grid is tried on (at most).
LOG_TUNING_IMAGES = 100
#: The patch classifier that labels the detections: size, model, epochs (as ensemble.py).
CLASSIFIER_SIZE, CLASSIFIER_EPOCHS = 48, 12


def classifier_labels(truth, source, split, detector: Path, work: Path, seed: int,
                      epochs: int) -> dict:  # fmt: skip
    """Train the patch classifier on the detector's training and validation cells and
    score the detector's test cells labelled by it."""
    store = work / "patches.zarr"
    write_patches(expert_cells(truth, split), source, store, [CLASSIFIER_SIZE], mode="w")
    start = time.perf_counter()
    train(store, CLASSIFIER_SIZE, "compact", out_dir=work / "classifier", epochs=epochs,
          patience=4, seed=seed, verbose=0)  # fmt: skip
    seconds = time.perf_counter() - start
    figures, _ = evaluate_detector(detector, truth, source, classifier=work / "classifier")
    return {"train_seconds": seconds, **figures.to_dict()}


def datasets(names: list[str], n_synthetic: int) -> dict:
    """``name -> (truth, images, split per image)``."""
    out = {}
    if "ldc" in names:
        folder = SHARED_DATA / "ldc" / "images"
        if folder.exists():
            truth = read_voc(sorted(folder.glob("*.xml")))
            out["ldc"] = (truth, folder, image_splits(truth, folder))
        else:
            print(f"skipping ldc: {folder} not found")
    if "synthetic" in names:
        data = make_images(n_synthetic, style="fluorescence", seed=0)
        ids = sorted(data.images)
        rng = np.random.default_rng(0)
        split = pd.Series(rng.choice(["train", "val", "test"], len(ids), p=[0.8, 0.1, 0.1]),
                          index=ids)  # fmt: skip
        out["synthetic"] = (data.truth, data.images, split)
    return out


def log_cells(image: np.ndarray, params: dict) -> pd.DataFrame:
    """Blobs of scikit-image's LoG detector as cells (x, y)."""
    grey = image[..., 0].astype(float) / 255.0
    blobs = blob_log(1.0 - grey if params["dark"] else grey, min_sigma=params["min_sigma"],
                     max_sigma=params["max_sigma"], num_sigma=5, threshold=params["threshold"])  # fmt: skip
    return pd.DataFrame({"x": blobs[:, 1] + 0.5, "y": blobs[:, 0] + 0.5, "label": "alive"})


def log_baseline(truth, source, split, tuning_images: int = 0) -> dict:
    """LoG tuned on (at most :data:`LOG_TUNING_IMAGES`) validation images, scored on the
    test images."""
    val, test = (list(split.index[split == s]) for s in ("val", "test"))
    val = val[: tuning_images or LOG_TUNING_IMAGES]
    pixels = {i: source.load(i, channels=1)[0] for i in val + test}
    scale = float(truth["size"].median()) / (2 * np.sqrt(2)) if "size" in truth else 7.0

    def f1(params, ids):
        found = pd.concat([log_cells(pixels[i], params).assign(image_id=i) for i in ids])
        return score(found, truth[truth["image_id"].isin(ids)], image_ids=ids)

    grid = [dict(zip(LOG_GRID, v, strict=True)) for v in itertools.product(*LOG_GRID.values())]
    grid = [g | {"min_sigma": g["min_sigma"] * scale, "max_sigma": g["max_sigma"] * scale}
            for g in grid]  # fmt: skip
    best = max(grid, key=lambda g: np.nan_to_num(f1(g, val).f1, nan=-1))
    return {"params": best, **f1(best, test).to_dict()}


def crowds(truth, split, seed: int) -> list[dict]:
    """The default consensus of simulated crowds on the test images."""
    test = list(split.index[split == "test"])
    part = truth[truth["image_id"].isin(test)].copy()
    part.attrs["image_ids"] = test
    rows = []
    for n in CROWDS:
        cells = find_consensus(simulate_crowd(part, n, seed=seed)).cells
        rows.append({"annotators": n, **score(cells, part, image_ids=test).to_dict()})
    return rows


def worth(value: float, rows: list[dict], key: str) -> float:
    """The crowd size (interpolated) whose ``key`` equals ``value``: 0 below a lone
    volunteer's, ``inf`` above the largest crowd's."""
    sizes = np.array([r["annotators"] for r in rows], float)
    values = np.maximum.accumulate(np.nan_to_num([r[key] for r in rows], nan=0.0))
    if value < values[0] - 1e-12:
        return 0.0
    return float(np.interp(value, values, sizes)) if value <= values[-1] + 1e-12 else float("inf")


def _crowd_size(n: float) -> str:
    return "< 1" if n == 0 else f"> {CROWDS[-1]}" if np.isinf(n) else f"{n:.1f}"


def speed(model: Path, source, ids: list[str], n_big: int = 8) -> dict:
    """Images per second at the data's size and at 1024 x 1024 (tiles of the data's images)."""
    images = {i: source.load(i)[0] for i in ids}
    start = time.perf_counter()
    detect(model, images)
    native = len(ids) / (time.perf_counter() - start)
    first = next(iter(images.values()))
    reps = (-(-1024 // first.shape[0]), -(-1024 // first.shape[1]), 1)
    big = {f"big{k}": np.tile(images[i], reps)[:1024, :1024] for k, i in enumerate(ids[:n_big])}
    start = time.perf_counter()
    detect(model, big)
    return {"images_per_s": native, "images_per_s_1024": len(big) / (time.perf_counter() - start),
            "shape": list(first.shape[:2])}  # fmt: skip


def run(name, truth, images, split, seed, epochs, work: Path, quick: bool = False) -> dict:
    source = as_image_source(images)
    ids = list(split.index)
    start = time.perf_counter()
    result = train_detector(truth, source, work / f"{name}-{seed}", image_ids=ids, split=split,
                            epochs=epochs, seed=seed)  # fmt: skip
    seconds = time.perf_counter() - start
    figures, _ = evaluate_detector(result.out_dir, truth, source)
    groups = lookalike_groups(source, list(figures.per_image.index))
    interval = detection_intervals(figures, groups=groups, seed=seed)["f1"]
    row = {"data": name, "seed": seed, "train_seconds": seconds, "f1_interval": list(interval),
           "threshold": result.record["threshold"], "best_epoch": result.record["best_epoch"],
           **figures.to_dict(), "crowds": crowds(truth, split, seed)}  # fmt: skip
    row["worth_f1"] = worth(row["f1"], row["crowds"], "f1")
    row["worth_labels"] = worth(row["balanced_label_accuracy"], row["crowds"],
                                "balanced_label_accuracy")  # fmt: skip
    row["classifier"] = classifier_labels(truth, source, split, result.out_dir,
                                          work / f"{name}-{seed}-classifier", seed,
                                          1 if quick else CLASSIFIER_EPOCHS)  # fmt: skip
    if seed == 0:
        row["log"] = log_baseline(truth, source, split, 4 if quick else 0)
        test = list(split.index[split == "test"])[:40]
        row["speed"] = speed(result.out_dir, source, test, 2 if quick else 8)
    return row


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    for name in dict.fromkeys(r["data"] for r in rows):
        mine = [r for r in rows if r["data"] == name]
        first = mine[0]
        keys = ("precision", "recall", "f1", "localisation_error", "label_accuracy",
                "balanced_label_accuracy", "train_seconds")  # fmt: skip
        intervals = np.array([r.get("f1_interval", (np.nan, np.nan)) for r in mine], float)
        row = {"data": name, **{k: spread([r[k] for r in mine])["median"] for k in keys},
               "f1_low": float(intervals[:, 0].mean()), "f1_high": float(intervals[:, 1].mean()),
               "log_f1": first["log"]["f1"], "log_precision": first["log"]["precision"],
               "log_recall": first["log"]["recall"], "log_params": first["log"]["params"],
               **first["speed"]}  # fmt: skip
        for n in CROWDS:
            crowd = [next(c for c in r["crowds"] if c["annotators"] == n) for r in mine]
            row[f"crowd{n}_f1"] = spread([c["f1"] for c in crowd])["median"]
            labels = [c["balanced_label_accuracy"] for c in crowd]
            row[f"crowd{n}_labels"] = spread(labels)["median"]
        labelled = [r["classifier"] for r in mine if "classifier" in r]
        if labelled:
            for key in ("label_accuracy", "balanced_label_accuracy", "train_seconds"):
                row[f"classifier_{key}"] = spread([c[key] for c in labelled])["median"]
        # The crowd size of the median detector on the median crowds' curve.
        curve = [{"annotators": n, "f1": row[f"crowd{n}_f1"],
                  "balanced_label_accuracy": row[f"crowd{n}_labels"]} for n in CROWDS]  # fmt: skip
        row["worth_f1"] = worth(row["f1"], curve, "f1")
        row["worth_labels"] = worth(
            row["balanced_label_accuracy"], curve, "balanced_label_accuracy"
        )
        if labelled:
            row["worth_classifier_labels"] = worth(
                row["classifier_balanced_label_accuracy"], curve, "balanced_label_accuracy"
            )
        out.append(row)
    return out


def markdown(summary: list[dict], seeds: int, epochs: int) -> str:
    sizes = ("worth_f1", "worth_labels", "worth_classifier_labels")
    summary = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
               | {k: _crowd_size(r[k]) for k in sizes if k in r}
               | {"f1_interval": interval_text((r.get("f1_low"), r.get("f1_high")))}
               for r in summary]  # fmt: skip
    detector = markdown_table(summary, {
        "data": "data", "precision": "precision", "recall": "recall", "f1": "F1",
        "f1_interval": "F1 95 % interval",
        "localisation_error": "localisation error (px)", "label_accuracy": "label accuracy",
        "balanced_label_accuracy": "balanced label accuracy", "log_f1": "LoG F1 (tuned)",
        "worth_f1": "crowd size of equal F1",
        "worth_labels": "crowd size of equal balanced label accuracy"})  # fmt: skip
    labelled = [r for r in summary if "classifier_balanced_label_accuracy" in r]
    classifier = markdown_table(labelled, {
        "data": "data", "label_accuracy": "label accuracy (class maps)",
        "balanced_label_accuracy": "balanced (class maps)",
        "classifier_label_accuracy": "label accuracy (patch classifier)",
        "classifier_balanced_label_accuracy": "balanced (patch classifier)",
        "worth_classifier_labels": "crowd size of equal balanced label accuracy",
        "classifier_train_seconds": "classifier training (s)"})  # fmt: skip
    crowd = markdown_table(summary, {"data": "data", **{f"crowd{n}_f1": f"F1, {n}" for n in CROWDS},
                                     **{f"crowd{n}_labels": f"bal. labels, {n}" for n in CROWDS}})  # fmt: skip
    cost = markdown_table(summary, {
        "data": "data", "train_seconds": "training (s, 2 cores)",
        "images_per_s": "images/s (data size)", "images_per_s_1024": "images/s (1024 x 1024)"})  # fmt: skip
    lines = [f"Test images, medians over {seeds} seed(s), {epochs} epochs (F1 interval: "
             "bootstrap over the test images, look-alike groups drawn together; the mean of "
             "the seeds' bounds):", "", detector, "",
             *(["The same detections labelled by the patch classifier (`detect(classifier=)`, "
                "as `cellcnn predict RUN --detector DET` does):", "", classifier, ""]
               if labelled else []),
             "Simulated crowds on the same test images (default consensus):", "", crowd, "",
             "Cost on this machine (no GPU):", "", cost, "",
             "LoG parameters chosen on the validation images: "
             + "; ".join(f"{r['data']} " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float)
                                                      else f"{k} {v}"
                                                      for k, v in r["log_params"].items())
                         for r in summary)]  # fmt: skip
    return "\n".join(lines)


def resummarise(redo_log: bool = False, names: list[str] | None = None) -> None:
    """Rewrite the summary and the table from the runs of ``results/detection.json``
    (with ``redo_log``, measure the LoG baseline again first)."""
    path = RESULTS / "detection.json"
    payload = json.loads(path.read_text())
    payload.pop("machine")
    if redo_log:
        sets = datasets(names or ["ldc", "synthetic"], payload.get("n_synthetic", 300))
        for row in payload["runs"]:
            if "log" in row and row["data"] in sets:
                truth, images, split = sets[row["data"]]
                row["log"] = log_baseline(truth, as_image_source(images), split)
                print(row["data"], "LoG", row["log"]["f1"], row["log"]["params"], flush=True)
    payload["summary"] = summarise(payload["runs"])
    text = markdown(payload["summary"], len(payload["seeds"]), payload["epochs"])
    print(text)
    print("wrote", write_result("detection", payload, text))


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--datasets", nargs="+", default=["ldc", "synthetic"])
    p.add_argument("--synthetic-images", type=int, default=300)
    p.add_argument(
        "--resummarise",
        action="store_true",
        help="only rebuild the summary and table from results/detection.json",
    )
    p.add_argument("--redo-log", action="store_true",
                   help="with --resummarise: measure the LoG baseline again")  # fmt: skip
    args = p.parse_args()
    if args.resummarise:
        resummarise(args.redo_log, args.datasets)
        return
    seeds, epochs, n_synthetic = ((1, 1, 40) if args.quick
                                  else (args.seeds, args.epochs, args.synthetic_images))  # fmt: skip
    start = time.perf_counter()
    sets = datasets(args.datasets, n_synthetic)
    if args.quick and "ldc" in sets:
        truth, folder, split = sets["ldc"]
        keep = split.groupby(split).head(12)
        sets["ldc"] = (truth[truth["image_id"].isin(keep.index)], folder, keep)
    rows = []
    with tempfile.TemporaryDirectory(prefix="detection-") as work:
        for name, (truth, images, split) in sets.items():
            for seed in range(seeds):
                rows.append(run(name, truth, images, split, seed, epochs, Path(work), args.quick))
                print(name, seed, {k: rows[-1][k] for k in ("f1", "balanced_label_accuracy",
                                                          "worth_f1", "train_seconds")}, flush=True)  # fmt: skip
    summary = summarise(rows)
    text = markdown(summary, seeds, epochs)
    print(text)
    payload = {"seeds": list(range(seeds)), "epochs": epochs, "n_synthetic": n_synthetic,
               "summary": summary, "runs": rows, "seconds": time.perf_counter() - start}  # fmt: skip
    print("wrote", write_result("detection", payload, text))


if __name__ == "__main__":
    main()
