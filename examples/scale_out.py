"""Consensus and a patch store on a Dask cluster (a LocalCluster here), checked against one process.

python examples/scale_out.py          # synthetic images and crowd (seconds)
python examples/scale_out.py --real   # the real Cell Spotting export
"""

from __future__ import annotations

import pandas as pd
from _common import parser, real
from distributed import Client

from cellconsensus import (
    find_consensus,
    make_truth,
    read_cells,
    read_cellspotting_csv,
    simulate_crowd,
)
from cellconsensus.distributed import local_cluster
from cellconsensus.store import open_patches, write_patches
from cellconsensus.synthetic import make_images


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.real:
        clicks = read_cellspotting_csv(real("cellspotting", "runs", "task_runs_1000.csv"))
    else:
        clicks = simulate_crowd(make_truth(n_images=60, seed=0), n_annotators=5, seed=0)

    # On a real cluster: Client("tcp://scheduler:8786") instead of a local one (or pass the
    # address itself: find_consensus(..., client="tcp://scheduler:8786")).
    with local_cluster(args.workers) as cluster, Client(cluster) as client:
        # The same call as in one process, defaults and all (eps "auto", the annotator
        # model, Dawid-Skene): the client sends it to the cluster.
        result = find_consensus(clicks, output=args.out / "cells", overwrite=True, client=client)
        print(result.report)
        cells = read_cells(result.path)

        # The same cells as one process finds (p_alive and p_real to rounding).
        single = find_consensus(clicks).cells
        single = single.sort_values(["image_id", "cell_id"], ignore_index=True)
        same = cells[["image_id", "cell_id", "x", "y"]].equals(
            single[["image_id", "cell_id", "x", "y"]]
        )
        print(
            f"{len(cells)} cells in {result.n_partitions} partitions; same as one process: {same}"
        )

        # Patches: workers decode and crop, each writing its own chunks of the store.
        data = make_images(12, style="brightfield", seed=0)
        report = write_patches(
            data.truth, data.images, str(args.out / "patches.zarr"), [32], mode="w", client=client
        )
        print(report)
    ds = open_patches(args.out / "patches.zarr", 32)
    print(pd.Series(ds["split"].values).value_counts().to_string())


if __name__ == "__main__":
    main()
