"""Classify cells in new images with a trained model.

    python examples/predict_cells.py          # trains a tiny model on synthetic data first
    python examples/predict_cells.py --model runs/compact48 --real   # a model of yours, LDC images

Crops exactly as the store was built (the model remembers its size and
channels), batched; ``predict`` takes positions in one image,
``predict_cells`` a whole Cells table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _common import parser, real

from cellcnn.predict import predict, predict_cells
from cellcnn.train import train
from cellconsensus import read_voc
from cellconsensus.io import read_truth
from cellconsensus.store import write_patches
from cellconsensus.synthetic import write_synthetic


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--model", type=Path, help="a folder written by cellcnn train")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.real:
        images = real("ldc", "images")
        cells = read_voc(sorted(images.glob("*.xml"))[:20])
    else:
        data = write_synthetic(
            args.out / "new-images", n_images=8, style="brightfield", n_annotators=0, seed=1
        )
        images, cells = data.images, read_truth(data.truth_csv)
    model = args.model
    if model is None:  # a tiny model, so the example runs anywhere in seconds
        old = write_synthetic(
            args.out / "train-images", n_images=40, style="brightfield", n_annotators=0, seed=0
        )
        store = args.out / "predict-patches.zarr"
        write_patches(read_truth(old.truth_csv), old.images, store, 32, mode="w")
        model = args.out / "tiny-model"
        train(store, 32, "compact", out_dir=model, epochs=2, seed=0)

    table = predict_cells(model, cells, images)
    print(table[["image_id", "x", "y", "label", "p_alive_cnn", "label_cnn"]].head())
    agree = (table["label_cnn"].astype(str) == table["label"].astype(str)).mean()
    print(f"agreement with the labels: {agree:.2f} on {len(table)} cells")

    first = cells[cells["image_id"] == cells["image_id"].iloc[0]]
    image = next(Path(images).glob(f"{first['image_id'].iloc[0]}.*"))
    points = np.c_[first["x"], first["y"]]
    print(predict(model, image, points))


if __name__ == "__main__":
    main()
