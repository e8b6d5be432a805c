"""Training input: tf.data from the zarr store against Keras' folder loaders, side by side.

    python benchmarks/input_pipeline.py [--quick] [--n-patches 20000] [--epochs 3]

The same 95 px RGB patches (synthetic fluorescence, 20 cells per image) are
stored once as a zarr patch store and once as one PNG per patch in class
folders (the thesis' layout). Each loader then delivers shuffled batches of
256 for several epochs, and patches/s is the median over the epochs after the
first (warm caches; the first epoch is reported separately):

- ``cellcnn.data.make_dataset`` streaming from the store (chunk-order shuffle
  plus a shuffle buffer, parallel decode, prefetch), and with the split cached
  in memory (what ``cache="auto"`` does for stores under 2 GiB);
- ``keras.utils.image_dataset_from_directory`` on the PNG folders, prefetching;
- Keras' legacy ``ImageDataGenerator.flow_from_directory`` (the thesis' loader)
  where the installed Keras still has it (Keras 3 removed it: reported as such).

Target (issue 6): at least 20,000 patches/s and at least 5 times the folder loaders.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from _common import markdown_table, parser, write_result
from patch_store import png_folders

from cellconsensus.images import ImageFolder
from cellconsensus.io import read_truth
from cellconsensus.store import write_patches
from cellconsensus.synthetic import write_synthetic

BATCH = 256


def epochs_per_s(make_batches, n: int, epochs: int) -> dict:
    """Patches/s of every epoch of ``make_batches()``'s iterable, and their median after
    the first."""
    rates = []
    for _ in range(epochs):
        start, seen = time.perf_counter(), 0
        for x, *_ in make_batches():
            seen += int(x.shape[0])
        rates.append(seen / (time.perf_counter() - start))
        if seen != n:
            raise RuntimeError(f"an epoch delivered {seen} patches, expected {n}")
    warm = rates[1:] or rates
    return {"first_epoch": rates[0], "patches_per_s": statistics.median(warm), "epochs": rates}


def legacy_generator():
    """Keras' ImageDataGenerator, or None where the installed Keras has none."""
    import keras

    image = getattr(keras.preprocessing, "image", None)
    return getattr(image, "ImageDataGenerator", None)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--n-patches", type=int, default=20000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--scratch", type=Path, help="folder for the files (default: a temp dir)")
    args = p.parse_args()
    import keras
    import tensorflow as tf

    from cellcnn.data import make_dataset

    n_patches = 600 if args.quick else args.n_patches
    epochs = 2 if args.quick else args.epochs
    scratch = Path(tempfile.mkdtemp(prefix="input-pipeline-", dir=args.scratch))
    rows, notes = [], []
    try:
        syn = write_synthetic(
            scratch / "synthetic",
            -(-n_patches // 20),
            cells_per_image=(20, 20),
            cell_size=(40, 55),
            n_annotators=0,
            n_jobs=-1,
            seed=0,
        )
        truth = read_truth(syn.truth_csv)
        n = len(truth)
        store = scratch / "patches.zarr"
        write_patches(truth, syn.images, store, 95, split=None, mode="w", n_jobs=2)
        folders = scratch / "png"
        png_folders(truth, ImageFolder(syn.images), 95, folders)
        print(f"{n} patches of 95 px RGB: store and PNG folders written (not timed)")

        loaders = {
            "zarr store -> tf.data, streaming": lambda: make_dataset(
                store, 95, split=None, batch_size=BATCH, cache=False, seed=0
            ),
            "zarr store -> tf.data, cached in memory": None,
            "PNG folders -> keras image_dataset_from_directory": lambda: (
                keras.utils.image_dataset_from_directory(
                    folders,
                    image_size=(95, 95),
                    batch_size=BATCH,
                    shuffle=True,
                    seed=0,
                    verbose=False,
                ).prefetch(tf.data.AUTOTUNE)
            ),
        }
        cached = make_dataset(store, 95, split=None, batch_size=BATCH, cache=True, seed=0)
        loaders["zarr store -> tf.data, cached in memory"] = lambda: cached
        generator = legacy_generator()
        if generator is not None:

            def legacy():
                flow = generator().flow_from_directory(
                    folders, target_size=(95, 95), batch_size=BATCH, class_mode="binary", seed=0
                )
                return (flow[i] for i in range(len(flow)))

            loaders["PNG folders -> keras ImageDataGenerator (legacy)"] = legacy
        else:
            notes.append(
                f"Keras {keras.__version__} has no ImageDataGenerator (removed in Keras 3): "
                "the thesis' legacy loader is not measured."
            )
        for name, make in loaders.items():
            result = epochs_per_s(make, n, epochs)
            rows.append({"loader": name, **result})
            print(
                f"{name:>52}: {result['patches_per_s']:9,.0f} patches/s "
                f"(first epoch {result['first_epoch']:,.0f})"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    folder_rates = [r["patches_per_s"] for r in rows if r["loader"].startswith("PNG")]
    for r in rows:
        r["vs_folders"] = r["patches_per_s"] / max(folder_rates) if folder_rates else None
    text = (
        f"{n:,} patches of 95 px RGB, batches of {BATCH}, shuffled; patches/s is the median "
        f"of epochs 2-{epochs} (the first epoch fills caches); 'vs folders' is the rate over "
        "the fastest folder loader's.\n\n"
        + markdown_table(
            rows,
            {
                "loader": "loader",
                "patches_per_s:,.0f": "patches/s",
                "first_epoch:,.0f": "first epoch (patches/s)",
                "vs_folders:.1f": "vs folders",
            },
        )
    )
    if notes:
        text += "\n\n" + "\n".join(notes)
    print(text)
    payload = {"n_patches": n, "batch_size": BATCH, "seed": 0, "rows": rows, "notes": notes}
    print("wrote", write_result("input_pipeline", payload, text))


if __name__ == "__main__":
    main()
