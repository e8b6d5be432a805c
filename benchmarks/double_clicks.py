"""Double clicks: how far apart an annotator's two clicks may be to count as one.

    python benchmarks/double_clicks.py [--quick]

Crowds simulated over the expert cells of 300 LDC images and over 200 synthetic
fluorescence images, with 1, 3 and 5 annotators and double-click rates of 2 %
(the simulator's default) and 10 %, two seeds each; the defaults otherwise. For
each radius of :data:`cellconsensus.defaults.DOUBLE_CLICK` (0: no double-click
rule, the one-vote rule alone), cell F1, precision and label accuracy against the
truth. Also the smallest distance between two true cells of one image, which
the radius must stay well below (a radius above it would merge two cells one
annotator clicked).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import SHARED_DATA, markdown_table, parser, write_result
from scipy.spatial import cKDTree

from cellconsensus import defaults, find_consensus, score, simulate_crowd
from cellconsensus.io import read_voc
from cellconsensus.synthetic import make_truth

RADII = (0.0, 2.0, 4.0, 6.0, 8.0)


def nearest_true_cells(truth: pd.DataFrame) -> float:
    """The smallest distance between two true cells of one image."""
    best = np.inf
    for _, cells in truth.groupby("image_id"):
        if len(cells) > 1:
            xy = cells[["x", "y"]].to_numpy()
            best = min(best, float(cKDTree(xy).query(xy, 2)[0][:, 1].min()))
    return best


def truths(quick: bool) -> dict[str, pd.DataFrame]:
    out = {}
    ldc_folder = SHARED_DATA / "ldc" / "images"
    if ldc_folder.exists():
        ldc = read_voc(ldc_folder)
        ids = sorted(ldc["image_id"].unique())[: 20 if quick else 300]
        ldc = ldc[ldc["image_id"].isin(ids)]
        ldc.attrs["image_ids"] = ids
        out["LDC"] = ldc
    out["synthetic"] = make_truth(10 if quick else 200, seed=3)
    return out


def main() -> None:
    args = parser(__doc__).parse_args()
    crowds = [(1, 0.02), (5, 0.1)] if args.quick else [
        (n, rate) for n in (1, 3, 5) for rate in (0.02, 0.1)
    ]  # fmt: skip
    radii = (0.0, 6.0) if args.quick else RADII
    seeds = (0,) if args.quick else (0, 1)
    rows, spacing = [], {}
    chosen = defaults.DOUBLE_CLICK
    try:
        for name, truth in truths(args.quick).items():
            spacing[name] = nearest_true_cells(truth)
            for n, rate in crowds:
                for seed in seeds:
                    clicks = simulate_crowd(truth, n, seed=seed, double_click_rate=rate)
                    for radius in radii:
                        defaults.DOUBLE_CLICK = radius
                        s = score(find_consensus(clicks).cells, truth)
                        rows.append({"truth": name, "annotators": n, "double_click_rate": rate,
                                     "seed": seed, "radius": radius, "f1": s.f1,
                                     "precision": s.precision,
                                     "label_accuracy": s.label_accuracy})  # fmt: skip
    finally:
        defaults.DOUBLE_CLICK = chosen
    table = pd.DataFrame(rows)
    mean = table.groupby(["truth", "annotators", "double_click_rate", "radius"], as_index=False)[
        ["f1", "precision", "label_accuracy"]
    ].mean()
    overall = table.groupby("radius", as_index=False)[["f1", "precision", "label_accuracy"]].mean()
    best = float(overall.loc[overall["f1"].idxmax(), "radius"])
    wide = mean.pivot_table(index=["truth", "annotators", "double_click_rate"], columns="radius",
                            values="f1").reset_index()  # fmt: skip
    wide.columns = [c if isinstance(c, str) else f"F1 at {c:g} px" for c in wide.columns]
    text = "\n".join(
        [
            f"Mean over every crowd: best F1 at **{best:g} px** (the default is "
            f"{chosen:g} px). Closest true cells: "
            + ", ".join(f"{k} {v:.1f} px" for k, v in spacing.items())
            + ".",
            "",
            markdown_table(
                overall.to_dict("records"),
                {
                    "radius:g": "radius (px)",
                    "f1:.4f": "F1",
                    "precision:.4f": "precision",
                    "label_accuracy:.4f": "label accuracy",
                },
            ),  # fmt: skip
            "",
            markdown_table(
                wide.to_dict("records"),
                {(c + ":.4f" if c.startswith("F1") else c): c for c in wide.columns},
            ),
        ]
    )
    print(text)
    write_result("double_clicks", {"rows": rows, "best_radius": best, "default": chosen,
                                   "nearest_true_cells": spacing}, text)  # fmt: skip


if __name__ == "__main__":
    main()
