"""The defaults on the real Cell Spotting export: no lone vote overruled, and who the volunteers are.

    python benchmarks/real_cellspotting.py

``find_consensus(clicks)`` with no parameter given on the 999 real task runs
(``../shared/data/cellspotting/runs/task_runs_1000.csv``; no volunteer ids, so
every run is its own annotator), against majority vote on the same cells:
how often the labels agree, on cells one volunteer clicked and on the rest,
and how many majority-dead cells turn alive. Before the hierarchical
Dawid-Skene, the README's call turned 1,511 of 1,761 majority-dead cells
alive. Also the annotator table (``result.annotators_``): its summary and the
runs it ranks least reliable.
"""

from __future__ import annotations

import time

import numpy as np
from _common import SHARED_DATA, markdown_table, parser, write_result

from cellconsensus import find_consensus, read_cellspotting_csv


def main() -> None:
    parser(__doc__).parse_args()
    path = SHARED_DATA / "cellspotting" / "runs" / "task_runs_1000.csv"
    if not path.exists():
        print(f"Cell Spotting export not found at {path}: skipped")
        return
    clicks = read_cellspotting_csv(path)
    start = time.perf_counter()
    default = find_consensus(clicks)
    seconds = time.perf_counter() - start
    majority = find_consensus(clicks, labels="majority")
    ours, theirs = default.cells, majority.cells
    assert (ours[["image_id", "cell_id"]] == theirs[["image_id", "cell_id"]]).all().all()
    single = ours["n_annotators"].to_numpy() == 1
    agree = ours["label"].to_numpy() == theirs["label"].to_numpy()
    decided = theirs["label"].isin(["alive", "dead"]).to_numpy()
    rows = [
        {
            "cells": "one volunteer",
            "n": int(single.sum()),
            "agree": float(agree[single].mean()),
            "agree_decided": float(agree[single & decided].mean()),
        },
        {
            "cells": "two or more",
            "n": int((~single).sum()),
            "agree": float(agree[~single].mean()),
            "agree_decided": float(agree[~single & decided].mean()),
        },
    ]
    dead_to_alive = int(((theirs["label"] == "dead") & (ours["label"] == "alive")).sum())
    table = default.annotators_
    summary = table.describe().T[["count", "mean", "25%", "50%", "75%"]]
    worst = table.sort_values("spammer_score").head(8)
    text = (
        f"`find_consensus(clicks)` on {len(clicks):,} real clicks "
        f"({clicks['image_id'].nunique()} images, {clicks['annotator_id'].nunique()} runs) in "
        f"{seconds:.3f} s: {len(ours):,} cells, `{default.report.strategy}`, labels "
        f"`{default.report.labels}`. Agreement of its labels with majority vote (the majority "
        "leaves a lone `unsure` answer `unsure`; 'decided' leaves those out):\n\n"
        + markdown_table(
            rows,
            {
                "cells": "cells",
                "n": "n",
                "agree:.4f": "agree with majority",
                "agree_decided:.4f": "agree where majority decided",
            },
        )
        + f"\n\nMajority-dead cells labelled alive: {dead_to_alive} of "
        f"{int((theirs['label'] == 'dead').sum())}.\n\n"
        "The annotator table (`result.annotators_`, `cellconsensus annotators`), summarised "
        "over the runs:\n\n"
        + markdown_table(
            [{"column": c, **r} for c, r in summary.iterrows()],
            {
                "column": "column",
                "count:.0f": "runs with a value",
                "mean:.3f": "mean",
                "25%:.3f": "25 %",
                "50%:.3f": "median",
                "75%:.3f": "75 %",
            },
        )
        + "\n\nThe eight runs with the lowest spammer score:\n\n"
        + markdown_table(
            [{"annotator_id": a, **r} for a, r in worst.iterrows()],
            {
                "annotator_id": "run",
                "clicks": "clicks",
                "votes": "votes",
                "sensitivity:.3f": "sensitivity",
                "specificity:.3f": "specificity",
                "detection_rate:.3f": "detection",
                "stray_click_rate:.3f": "stray clicks",
                "spammer_score:.3f": "spammer score",
            },
        )
    )
    print(text)
    payload = {
        "n_clicks": len(clicks),
        "n_cells": len(ours),
        "seconds": seconds,
        "strategy": default.report.strategy,
        "labels": default.report.labels,
        "agreement": rows,
        "majority_dead_to_alive": dead_to_alive,
        "annotators": {
            "n": len(table),
            "median_spammer_score": float(np.nanmedian(table["spammer_score"])),
        },
    }
    print("wrote", write_result("real_cellspotting", payload, text))


if __name__ == "__main__":
    main()
