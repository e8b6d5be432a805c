"""Switch a Zooniverse point-marking project from panoptes' point reducers to cellconsensus.

python examples/zooniverse_switch.py            # synthetic truth, a simulated crowd of 5
python examples/zooniverse_switch.py --real     # the crowd simulated over the LDC expert cells

The same classification export goes through both pipelines:

- panoptes-aggregation, as a Zooniverse project runs it: ``point_extractor_by_frame``
  on each classification, ``point_reducer_dbscan`` per subject (its defaults, then
  with eps at the cells' scale), one list of clusters per tool (one tool per label);
- cellconsensus: ``read_zooniverse`` and ``find_consensus`` with the defaults, one
  tidy table of cells with a label, its probability and the support.

Both are scored against the truth with the same matching. The panoptes half needs
``pip install -e '.[bench]'`` (without it, only our half runs, and says so).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pandas as pd
from _common import parser, real

from cellconsensus import find_consensus, make_truth, read_voc, score, simulate_crowd
from cellconsensus.io import read_zooniverse, write_zooniverse

#: The export's tools, in order (write_zooniverse's default: one tool per label).
TOOL_LABELS = ("alive", "dead", "unsure")


def panoptes_cells(export: pd.DataFrame, **params) -> pd.DataFrame:
    """Cells from panoptes-aggregation: extract every classification, reduce per subject."""
    from panoptes_aggregation.extractors import point_extractor_by_frame
    from panoptes_aggregation.extractors.utilities import annotation_by_task
    from panoptes_aggregation.reducers import point_reducer_dbscan

    extracts, users = defaultdict(list), defaultdict(list)
    image_of = {}
    for row in export.itertuples(index=False):
        # As panoptes' own extract step reads a CSV row: annotations keyed by task.
        classification = annotation_by_task({"annotations": json.loads(row.annotations)})
        extracts[row.subject_ids].append(point_extractor_by_frame(classification))
        users[row.subject_ids].append(row.user_name)
        file_name = json.loads(row.subject_data)[str(row.subject_ids)]["Filename"]
        image_of[row.subject_ids] = Path(file_name).stem  # read_zooniverse's image id
    rows = []
    for subject, found in extracts.items():
        frame = point_reducer_dbscan(found, user_id=users[subject], **params).get("frame0", {})
        for tool, label in enumerate(TOOL_LABELS):
            xs = frame.get(f"T0_tool{tool}_clusters_x", [])
            ys = frame.get(f"T0_tool{tool}_clusters_y", [])
            rows += [(image_of[subject], x, y, label) for x, y in zip(xs, ys, strict=True)]
    return pd.DataFrame(rows, columns=["image_id", "x", "y", "label"])


def main() -> None:
    args = parser(__doc__).parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.real:
        truth = read_voc(sorted(real("ldc", "images").glob("*.xml"))[:100])
    else:
        truth = make_truth(n_images=40, seed=0)
    path = write_zooniverse(simulate_crowd(truth, 5, seed=0), args.out / "classifications.csv")
    print(f"a Zooniverse classification export: {path}")

    clicks = read_zooniverse(path, image_key="Filename")
    result = find_consensus(clicks)
    runs = {f"cellconsensus, defaults ({result.strategy!r})": result.cells}
    try:
        export = pd.read_csv(path)
        eps = round(float(result.strategy.eps), 1)  # the cells' scale, as estimated
        runs["panoptes point_reducer_dbscan, its defaults"] = panoptes_cells(export)
        runs[f"panoptes point_reducer_dbscan, eps={eps}"] = panoptes_cells(export, eps=eps)
    except ImportError:
        print("panoptes-aggregation is not installed (pip install -e '.[bench]'): ours only")
    rows = []
    for name, cells in runs.items():
        s = score(cells, truth)
        rows.append({"pipeline": name, "cells": len(cells), "precision": s.precision,
                     "recall": s.recall, "f1": s.f1, "label_accuracy": s.label_accuracy})  # fmt: skip
    table = pd.DataFrame(rows)
    print(f"\n{len(truth)} true cells on {truth['image_id'].nunique()} images\n")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\nour cells, one tidy table:\n" + result.cells.head(3).to_string(index=False))
    table.to_csv(args.out / "zooniverse_switch.csv", index=False)


if __name__ == "__main__":
    main()
