"""F1 and label accuracy of every strategy on clicks simulated over the LDC ground truth.

    python benchmarks/ldc_accuracy.py [--n-annotators 5] [--seed 0]

Needs ../shared/data/ldc; uses the simulator's defaults.
"""

from __future__ import annotations

import argparse
import sys

from _common import SHARED_DATA, write_result

from cellconsensus import read_voc, simulate_crowd
from cellconsensus.compare import compare_strategies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-annotators", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-images", type=int, help="use only the first N images (smoke test)")
    args = parser.parse_args()
    folder = SHARED_DATA / "ldc" / "images"
    if not folder.exists():
        sys.exit(f"LDC data not found at {folder}")
    files = sorted(folder.glob("*.xml"))[: args.max_images]
    truth = read_voc(files)
    clicks = simulate_crowd(truth, args.n_annotators, seed=args.seed)
    print(
        f"LDC: {len(truth)} true cells on {len(truth.attrs['image_ids'])} images; {len(clicks)} simulated clicks"
    )
    table = compare_strategies(clicks, truth=truth, auto_scale=True)
    columns = ["strategy", "n_cells", "precision", "recall", "f1", "label_accuracy", "seconds"]
    print(table[columns].to_string(index=False, float_format="{:.3f}".format))
    print(
        "wrote",
        write_result("ldc_accuracy", {"n_clicks": len(clicks), "table": table.to_dict("records")}),
    )


if __name__ == "__main__":
    main()
