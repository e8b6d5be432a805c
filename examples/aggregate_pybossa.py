"""Aggregate a crowd export: clicks in, consensus cells out, audited click by click.

python examples/aggregate_pybossa.py          # a synthetic PyBossa export (seconds)
python examples/aggregate_pybossa.py --real   # the Cell Spotting export in ../shared/data
"""

from __future__ import annotations

from _common import parser, real

from cellconsensus import find_consensus, read_cellspotting_csv, read_pybossa, write_cells
from cellconsensus.synthetic import write_synthetic


def main() -> None:
    args = parser(__doc__).parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.real:
        clicks = read_cellspotting_csv(real("cellspotting", "runs", "task_runs_1000.csv"))
    else:
        data = write_synthetic(args.out / "synthetic", n_images=30, seed=0)
        clicks = read_pybossa(data.task_runs, data.tasks)
    print(f"{len(clicks)} clicks by {clicks['annotator_id'].nunique()} annotators")
    print(clicks.attrs["report"])  # what the reader clipped, dropped or found empty

    result = find_consensus(clicks, "dbscan", labels="dawid-skene", params={"eps": "auto"})
    print(result.report)
    print(result.cells.head())
    print(result.assignments["status"].value_counts())  # cell / noise / duplicate / filtered
    path = write_cells(result.cells, args.out / "cells.parquet")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
