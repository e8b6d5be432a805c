"""Detector training input: images held in memory against the zarr image cache.

    python benchmarks/detector_input.py [--quick] [--images 32] [--side 2048] [--epochs 1]

:func:`cellcnn.detect.train_detector` holds every image of its set in memory by
default; with ``cache=`` it first copies them into a chunked zarr store
(:mod:`cellcnn.detect.image_cache`) and reads only the chunks a training crop
touches. Measured here, on a PNG folder of large synthetic fluorescence images
(``--images`` of ``--side`` x ``--side`` RGB px) and, where ``../shared/data`` is
present, on the 1,974 LDC images (225 x 219 px):

- the set's pixels in memory against the cache on disk, and the time to build the
  cache (the first run; a second run on the same images reads nothing again);
- training crops per second from each (the detector's own crop stream: a random
  128 px crop, one of the eight symmetries and its target maps, one thread, as
  ``tf.data.Dataset.from_generator`` runs it), beside the crops per second the
  detector consumes in training on this machine (``fit`` steps of 16 crops);
- peak resident memory of a whole :func:`~cellcnn.detect.train_detector` run on
  the synthetic set (``--epochs``, the library's other defaults; each run in its own
  process, TensorFlow included), in memory, with a cache it builds, and with the
  cache already built, and the wall time of each.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import SHARED_DATA, markdown_table, parser, write_result

from cellconsensus.images import ImageFolder
from cellconsensus.synthetic import write_synthetic
from cellconsensus.tables import image_ids_of

LDC = SHARED_DATA / "ldc" / "images"
CROP = 128
BATCH = 16

#: One training run in a fresh process; prints its wall time and peak RSS as JSON.
_TRAIN = """
import json, resource, sys, time
from cellcnn.detect import train_detector
from cellconsensus.io import read_truth
folder, out, cache, epochs, split = sys.argv[1:6]
truth = read_truth(folder + "/truth.csv")
split = json.loads(split)
start = time.perf_counter()
result = train_detector(truth, folder + "/images", out, split=split, epochs=int(epochs),
                        cache=cache or None, image_ids=list(split))
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "validation_f1": result.validation["f1"]}))
"""


def crops_per_second(images: dict, truth, n_crops: int) -> float:
    """Crops/s of the detector's own training stream over ``images``
    (``image_id -> array``, in memory or in the cache)."""
    # The private stream of cellcnn.detect.training is what tf.data runs: measured as is.
    from cellcnn.detect.crops import TrainingImage, crop_stream
    from cellcnn.detect.tiles import MARGIN

    xy = truth[["x", "y"]].to_numpy(float)
    rows_of = truth.groupby(truth["image_id"].astype(str)).indices
    items = []
    for image_id, pixels in images.items():
        rows = rows_of.get(image_id, np.zeros(0, np.int64))
        n = len(rows)
        items.append(TrainingImage(pixels, xy[rows, 0], xy[rows, 1], np.tile([1.0, 0.0], (n, 1)),
                            np.ones(n), np.ones(n)))  # fmt: skip
    stream = crop_stream(items, CROP, sigma=20 / 6, reach=MARGIN, seed=0)
    for _ in range(20):  # warm up
        next(stream)
    start = time.perf_counter()
    for _ in range(n_crops):
        next(stream)
    return n_crops / (time.perf_counter() - start)


def model_rate(channels: int, steps: int) -> float:
    """Crops/s the default detector consumes in ``fit`` steps of :data:`BATCH` crops."""
    import keras

    from cellcnn.detect.heatmap import TARGET_EXTRA
    from cellcnn.detect.network import build_detector, detector_loss

    net = build_detector(channels, 2)
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss=detector_loss)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (BATCH, CROP, CROP, channels)).astype(np.uint8)
    y = rng.random((BATCH, CROP, CROP, 2 + TARGET_EXTRA)).astype(np.float32)
    net.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        net.train_on_batch(x, y)
    return steps * BATCH / (time.perf_counter() - start)


def stream_rows(name: str, source, truth, ids: list[str], n_crops: int, tmp: Path) -> dict:
    """In-memory bytes, cache size and build time, and crop rates of one image set."""
    from cellcnn.detect.image_cache import cache_images

    start = time.perf_counter()
    held = {i: source.load(i, channels=3)[0] for i in ids}
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    cached = cache_images(source, tmp / f"{name}.zarr", ids, channels=3)
    build_s = time.perf_counter() - start
    disk = sum(f.stat().st_size for f in (tmp / f"{name}.zarr").rglob("*") if f.is_file())
    return {
        "data": name,
        "images": len(ids),
        "memory_mib": sum(a.nbytes for a in held.values()) / 2**20,
        "load_s": load_s,
        "cache_mib": disk / 2**20,
        "cache_build_s": build_s,
        "crops_per_s_memory": crops_per_second(held, truth, n_crops),
        "crops_per_s_cache": crops_per_second(cached, truth, n_crops),
    }


def train_runs(folder: Path, ids: list[str], epochs: int, tmp: Path) -> list[dict]:
    """Wall time and peak RSS of train_detector in memory, building a cache, reusing it."""
    split = {i: "val" if k < 2 else "train" for k, i in enumerate(ids)}
    runs = []
    for mode, cache in (("memory", ""), ("cache (built)", str(tmp / "train.zarr")),
                        ("cache (reused)", str(tmp / "train.zarr"))):  # fmt: skip
        out = tmp / f"det-{len(runs)}"
        done = subprocess.run(
            [sys.executable, "-c", _TRAIN, str(folder), str(out), cache, str(epochs),
             json.dumps(split)], capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"training ({mode}) failed:\n{done.stderr[-3000:]}")
        runs.append({"mode": mode, **json.loads(done.stdout.strip().splitlines()[-1])})
        print(f"  train_detector {mode}: {runs[-1]['seconds']:.0f} s, "
              f"peak RSS {runs[-1]['peak_rss_mib']:.0f} MiB", flush=True)  # fmt: skip
    return runs


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--images", type=int, default=32, help="synthetic images")
    p.add_argument("--side", type=int, default=2048, help="synthetic image side, px")
    p.add_argument("--epochs", type=int, default=1, help="epochs of each training run")
    p.add_argument("--crops", type=int, default=2000, help="crops timed per stream")
    args = p.parse_args()
    if args.quick:
        args.images, args.side, args.crops = 6, 256, 50
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "synthetic"
        per_image = max(3, int(12 * args.side**2 / (524 * 391)))  # the default's density
        truth = write_synthetic(folder, args.images, canvas=(args.side, args.side),
                                cells_per_image=(per_image, per_image), n_annotators=0).truth  # fmt: skip
        ids = sorted(truth["image_id"].unique())
        name = f"synthetic {args.side} px"
        rows.append(stream_rows(name, ImageFolder(folder / "images"), truth, ids, args.crops,
                                tmp))  # fmt: skip
        if LDC.is_dir() and not args.quick:
            from cellconsensus import read_voc

            ldc_truth = read_voc(LDC)
            source = ImageFolder(LDC)
            ldc_ids = sorted(map(str, image_ids_of(ldc_truth)))
            rows.append(stream_rows("LDC", source, ldc_truth, ldc_ids, args.crops, tmp))
        rate = model_rate(3, steps=3 if args.quick else 20)
        for row in rows:
            row["model_crops_per_s"] = rate
            print(f"{row['data']}: {row['memory_mib']:.0f} MiB in memory, cache "
                  f"{row['cache_mib']:.0f} MiB built in {row['cache_build_s']:.1f} s; crops/s "
                  f"memory {row['crops_per_s_memory']:.0f}, cache {row['crops_per_s_cache']:.0f}, "
                  f"the detector consumes {rate:.0f}", flush=True)  # fmt: skip
        runs = train_runs(folder, ids, args.epochs, tmp)
    table = markdown_table(rows, {
        "data": "images", "images": "n", "memory_mib:.0f": "in memory, MiB",
        "cache_mib:.0f": "cache on disk, MiB", "cache_build_s:.1f": "cache built in, s",
        "crops_per_s_memory:.0f": "crops/s from memory", "crops_per_s_cache:.0f": "crops/s from cache",
        "model_crops_per_s:.0f": "crops/s the detector trains on"})  # fmt: skip
    training = markdown_table(runs, {"mode": f"train_detector ({args.epochs} epoch(s), "
                                     f"{args.images} images of {args.side} px)",
                                     "seconds:.0f": "wall, s", "peak_rss_mib:.0f": "peak RSS, MiB"})  # fmt: skip
    write_result("detector_input", {"settings": vars(args), "cells": len(truth),
                                    "streams": rows, "training": runs},
                 markdown=table + "\n\n" + training)  # fmt: skip
    print(table + "\n\n" + training)


if __name__ == "__main__":
    main()
