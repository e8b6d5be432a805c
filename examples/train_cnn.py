"""Train a CNN on a patch store and evaluate it on the test split.

python examples/train_cnn.py          # synthetic brightfield cells, a few epochs (seconds)
python examples/train_cnn.py --real   # the LDC expert cells at 48 px (minutes on a CPU)
"""

from __future__ import annotations

from _common import parser, real

from cellcnn.evaluate import evaluate
from cellcnn.train import train
from cellconsensus import read_voc
from cellconsensus.io import read_truth
from cellconsensus.store import write_patches
from cellconsensus.synthetic import write_synthetic


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--epochs", type=int, help="default: 3 (synthetic), 20 (real)")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    store, size = args.out / "cnn-patches.zarr", 32
    if args.real:
        images = real("ldc", "images")
        write_patches(read_voc(images), images, store, 48, groups="lookalike", mode="w")
        size, epochs = 48, args.epochs or 20
    else:
        data = write_synthetic(
            args.out / "brightfield", n_images=60, style="brightfield", n_annotators=0, seed=0
        )
        write_patches(read_truth(data.truth_csv), data.images, store, size, mode="w")
        epochs = args.epochs or 3

    run = train(store, size, "compact", out_dir=args.out / "run", epochs=epochs, seed=0)
    print(f"best validation AUC {run.best_val_auc:.3f} after {run.run['epochs_run']} epochs")
    metrics = evaluate(args.out / "run", split="test")
    for key in ("n", "accuracy", "balanced_accuracy", "roc_auc", "ece"):
        print(f"{key:>18}: {metrics.get(key)}")
    print(f"confusion (rows true {'/'.join(metrics['classes'])}):", metrics["confusion"])
    print("plots:", metrics.get("plots"), metrics["worst_errors"])


if __name__ == "__main__":
    main()
