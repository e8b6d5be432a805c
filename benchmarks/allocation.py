"""Spending volunteers: our allocation against uniform redundancy and retirement by agreement.

    python benchmarks/allocation.py [--quick] [--seeds 8] [--images 300] [--datasets ldc synthetic]

On simulated crowds over the expert cells of ``../shared/data/ldc`` (a fixed subset
of its images) and over synthetic brightfield truth, every image has a queue of 8
simulated volunteers (the simulator's defaults, label noise 15 %). The online loop
of :func:`cellconsensus.allocate.simulate.simulate_allocation` starts with one
volunteer per image (as the real Cell Spotting export: one run on 620 of its 800
images), then sends batches of a tenth of the images' count, chosen by each
policy: ``uniform`` (fewest volunteers first: fixed redundancy), ``agreement``
(the same, retiring images two or more volunteers agree on completely) and
``ours`` (:func:`cellconsensus.allocate.next_tasks`, ranking runs by the errors they
remove per run, the default) and ``ours per click`` (per click they cost,
``cost="clicks"``: the targets here count clicks), beside ``oracle`` (knows the
truth: one more volunteer for each image whose consensus is wrong now; no project
can run it, it shows how much choosing images could save at all on these crowds).
With ``--detector`` (the default where TensorFlow is installed) also ``ours + detector``
(and ``per click``): our policy given the cells a point detector (:func:`cellcnn.detect.detect`) finds on
the same images, as evidence of where the crowd is wrong. The detector learns from
the consensus of a simulated crowd of 3 volunteers on *other* images, as a project's
earlier images would teach it: LDC images outside the allocated ones and their
look-alike groups, and 300 other synthetic images; its settings are the library's
defaults. After every batch the consensus (the library's defaults, from the crowd's
clicks alone) is scored against the truth.

Reported, medians over seeds:

- the clicks each policy needs to reach the detection F1 and label accuracy that
  uniform redundancy reaches at 5 volunteers per image, and the saving against it;
  the same for its number of errors (missed cells, extra cells and wrong labels
  together), and the first target counted in volunteer runs instead of clicks;
- each policy's errors over uniform redundancy's at the same clicks, the mean over
  the budget curve (seed by seed far steadier than the first crossing of a target);
- the errors (missed cells, extra cells, wrong labels) each policy leaves at a
  quarter, half and three quarters of those clicks, and how often ours is ahead
  of retirement by agreement over the whole budget curve;
- the calibration of our predicted gain: expected errors removed per batch,
  summed, beside the errors the batches actually removed;
- the time :func:`cellconsensus.allocate.next_tasks` takes to rank 100,000 images
  (the consensus itself not counted);
- the retire flag: with 3 volunteers per image, the share of images each threshold
  (on the next volunteer's expected gain) retires and how many of them still hold
  an error;
- the worked example: the real Cell Spotting export
  (``../shared/data/cellspotting/runs/task_runs_1000.csv``), its consensus with the
  defaults, and where a budget of 100 more runs would go.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import RESULTS, SHARED_DATA, markdown_table, parser, spread, write_result

from cellconsensus import (
    find_consensus,
    make_truth,
    read_cellspotting_csv,
    read_voc,
    simulate_crowd,
)
from cellconsensus.allocate import next_tasks
from cellconsensus.allocate.simulate import POLICIES, simulate_allocation
from cellconsensus.report.rankings import errors_per_image
from cellconsensus.splits import lookalike_groups
from cellconsensus.synthetic.render import make_images
from cellconsensus.tables import image_ids_of

POOL = 8
REFERENCE = 5  # uniform redundancy the issue measures against
CROWD = {"label_noise": 0.15}


LDC = SHARED_DATA / "ldc" / "images"
#: Volunteers per image in the crowd whose consensus teaches the detector.
TEACHERS = 3


def truths(datasets: list[str], n_images: int) -> dict[str, pd.DataFrame]:
    out = {}
    if "ldc" in datasets:
        if LDC.exists():
            out["ldc"] = read_voc(sorted(LDC.glob("*.xml"))[:n_images])
        else:
            print(f"skipping ldc: {LDC} not found")
    if "synthetic" in datasets:
        out["synthetic"] = make_truth(n_images, style="brightfield", seed=0)
    return out


def teaching_set(name: str, truth: pd.DataFrame, n_train: int):
    """``(truth, images)`` of the images a detector learns from: never the allocated ones
    (nor, on LDC, an image that looks like one of them)."""
    if name == "ldc":
        everything = read_voc(sorted(LDC.glob("*.xml")))
        ids = sorted(everything["image_id"].unique())
        groups = lookalike_groups(LDC, ids)
        taken = set(groups[groups.index.isin(set(truth["image_id"]))])
        keep = [i for i in ids if groups[i] not in taken][:n_train]
        return everything[everything["image_id"].isin(keep)].reset_index(drop=True), LDC
    data = make_images(n_train, style="brightfield", seed=1)
    return data.truth, data.images


def images_of(truth: pd.DataFrame) -> list:
    """Images in the loop, sorted: those without cells too (``attrs["image_ids"]``)."""
    return sorted(image_ids_of(truth))


def detections(name: str, truth: pd.DataFrame, work: Path, quick: bool = False) -> pd.DataFrame:
    """A detector taught by a crowd's consensus on other images, run on ``truth``'s (kept
    in ``results/`` and reused by ``--reuse-detections``)."""
    from cellcnn.detect import detect, train_detector

    teach, images = teaching_set(name, truth, 20 if quick else 300 if name != "ldc" else 10**6)
    cells = find_consensus(simulate_crowd(teach, TEACHERS, seed=100, **CROWD)).cells
    start = time.perf_counter()
    model = train_detector(cells, images, work / f"detector-{name}", epochs=1 if quick else 30,
                           seed=0).out_dir  # fmt: skip
    seconds = time.perf_counter() - start
    ids = images_of(truth)
    source = LDC if name == "ldc" else make_images(len(ids), style="brightfield", seed=0).images
    found = detect(model, source, ids)
    found.attrs["training"] = {"images": int(teach["image_id"].nunique()), "seconds": seconds,
                               "cells": len(cells)}  # fmt: skip
    return found


def errors_at(curve: pd.DataFrame, clicks: np.ndarray) -> np.ndarray:
    """Errors at numbers of clicks, interpolated along a budget curve."""
    return np.interp(clicks, curve["clicks"], curve["errors"])


#: The name of our policy given a detector's cells.
WITH_DETECTOR = "ours + detector"
#: Our policy ranking runs per click they cost (``next_tasks(cost="clicks")``): the
#: targets here count clicks, the library's default ranks per run.
PER_CLICK = {"cost": "clicks"}


def run(truth: pd.DataFrame, seed: int, found: pd.DataFrame | None = None) -> dict:
    n = len(images_of(truth))
    options = {"start": 1, "pool": POOL, "batch": max(1, n // 10), "seed": seed, "crowd": CROWD}
    curves = {policy: simulate_allocation(truth, policy, **options) for policy in POLICIES}
    curves["ours per click"] = simulate_allocation(truth, "ours", tasks=PER_CLICK, **options)
    if found is not None:
        curves[WITH_DETECTOR] = simulate_allocation(truth, "ours", detections=found, **options)
        curves[f"{WITH_DETECTOR} per click"] = simulate_allocation(
            truth, "ours", detections=found, tasks=PER_CLICK, **options
        )
    return curves


def measure(curves: dict[str, pd.DataFrame], n_images: int) -> list[dict]:
    uniform = curves["uniform"]
    reference = uniform[uniform["runs"] >= REFERENCE * n_images].iloc[0]
    rows = []
    grid = np.linspace(curves["uniform"]["clicks"].iloc[0], reference["clicks"], 20)
    for policy, curve in curves.items():
        reached = curve[(curve["f1"] >= reference["f1"])
                        & (curve["label_accuracy"] >= reference["label_accuracy"])]  # fmt: skip
        clicks = float(reached["clicks"].iloc[0]) if len(reached) else float("nan")
        runs = float(reached["runs"].iloc[0]) if len(reached) else float("nan")
        fewer = curve[curve["errors"] <= reference["errors"]]
        to_errors = float(fewer["clicks"].iloc[0]) if len(fewer) else float("nan")
        row = {"policy": policy, "reference_clicks": float(reference["clicks"]),
               "reference_f1": float(reference["f1"]),
               "reference_label_accuracy": float(reference["label_accuracy"]),
               "clicks_to_reach": clicks, "saving": 1 - clicks / float(reference["clicks"]),
               "runs_saving": 1 - runs / float(reference["runs"]),
               "errors_ratio": float(np.mean(errors_at(curve, grid[1:])
                                             / errors_at(uniform, grid[1:]))),
               "reference_errors": float(reference["errors"]), "clicks_to_errors": to_errors,
               "errors_saving": 1 - to_errors / float(reference["clicks"]),
               **{f"errors_{q}": float(errors_at(curve, q / 100 * reference["clicks"]))
                  for q in (25, 50, 75, 100)}}  # fmt: skip
        if policy.startswith("ours"):
            batches = curve.dropna(subset=["predicted_gain", "realised_gain"])
            row["predicted_gain"] = float(batches["predicted_gain"].sum())
            row["realised_gain"] = float(batches["realised_gain"].sum())
            # Batch by batch: how well the predicted gain ranks the realised one.
            row["batch_correlation"] = (
                float(np.corrcoef(batches["predicted_gain"], batches["realised_gain"])[0, 1])
                if len(batches) > 2 else float("nan")
            )  # fmt: skip
            agreement = curves["agreement"]
            ahead = errors_at(curve, grid) <= errors_at(agreement, grid)
            row["ahead_of_agreement"] = float(np.mean(ahead))
        rows.append(row)
    return rows


#: Retirement thresholds measured (expected errors the next volunteer would remove).
THRESHOLDS = (0.01, 0.02, 0.05, 0.1, 0.2)


def retirement(truth: pd.DataFrame, seed: int, volunteers: int = 3) -> list[dict]:
    """How safe the retire flag is: with ``volunteers`` per image, the images each
    threshold retires and how many of them still hold an error against the truth."""
    clicks = simulate_crowd(truth, volunteers, seed=seed, **CROWD)
    result = find_consensus(clicks)
    plan = next_tasks(result, 0, runs=clicks.attrs["runs"]).set_index("image_id")
    errors = errors_per_image(result.cells, truth).set_index("image_id")["errors"]
    errors = errors.reindex(plan.index, fill_value=0)
    rows = []
    for threshold in THRESHOLDS:
        retired = plan["next_gain"] < threshold
        rows.append({"threshold": threshold, "retired": float(retired.mean()),
                     "retired_with_errors": float((errors[retired] > 0).mean())
                     if retired.any() else 0.0,
                     "errors_in_retired": int(errors[retired].sum()),
                     "errors": int(errors.sum())})  # fmt: skip
    return rows


def ranking_time(n_images: int) -> dict:
    """Seconds for next_tasks on a consensus of ``n_images`` images (3 volunteers each)."""
    clicks = simulate_crowd(make_truth(n_images, style="brightfield", seed=1), 3, seed=1)
    result = find_consensus(clicks)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        next_tasks(result, n_images // 10, runs=clicks.attrs["runs"])
        times.append(time.perf_counter() - start)
    return {"images": n_images, "clicks": len(clicks), "seconds": spread(times)["median"]}


def real_example(budget: int = 100) -> dict | None:
    """Where ``budget`` more runs would go on the real Cell Spotting export."""
    path = SHARED_DATA / "cellspotting" / "runs" / "task_runs_1000.csv"
    if not path.exists():
        print(f"skipping the worked example: {path} not found")
        return None
    clicks = read_cellspotting_csv(path)
    plan = next_tasks(find_consensus(clicks), budget, runs=clicks.attrs["runs"])
    by_runs = plan.groupby("annotators").agg(images=("image_id", "size"), extra=("extra", "sum"),
                                             retire=("retire", "sum"),
                                             errors=("expected_errors", "sum"))  # fmt: skip
    return {"budget": budget, "images": len(plan),
            "expected_errors": float(plan["expected_errors"].sum()),
            "expected_gain": float(plan["expected_gain"].sum()),
            "retire": int(plan["retire"].sum()),
            "by_annotators": by_runs.reset_index().to_dict("records"),
            "top": plan.head(10).to_dict("records")}  # fmt: skip


def summarise(rows: list[dict]) -> list[dict]:
    frame = pd.DataFrame(rows)
    out = []
    numbers = [c for c in frame.columns if c not in ("dataset", "policy", "seed")]
    for (dataset, policy), group in frame.groupby(["dataset", "policy"], sort=False):
        summary = {"dataset": dataset, "policy": policy, "n_seeds": len(group)}
        for column in numbers:
            values = group[column].dropna()
            if len(values):
                summary[column] = spread(values)["median"]
                summary[f"{column}_min"], summary[f"{column}_max"] = values.min(), values.max()
        out.append(summary)
    return out


def markdown(
    summary: list[dict],
    timing: dict,
    example: dict | None,
    retire: list[dict] | None = None,
    taught: dict | None = None,
) -> str:
    columns = {
        "dataset": "data", "policy": "policy", "reference_clicks:.0f": "uniform-5 clicks",
        "clicks_to_reach:.0f": "clicks to reach uniform-5's F1 and label accuracy",
        "saving:.1%": "saving", "runs_saving:.1%": "saving (runs)",
        "errors_ratio:.3f": "errors against uniform's", "clicks_to_errors:.0f": "clicks to as few errors",
        "errors_saving:.1%": "saving (errors)", "errors_25:.1f": "errors at 25 %",
        "errors_50:.1f": "errors at 50 %", "errors_75:.1f": "errors at 75 %",
        "errors_100:.1f": "errors at 100 %",
    }  # fmt: skip
    parts = ["Medians over seeds; errors (missed + extra cells + wrong labels) at a share of "
             "the clicks uniform redundancy spends to reach 5 volunteers per image; *saving "
             "(runs)*: the same target counted in volunteer runs; *errors against uniform's*: "
             "the policy's errors over uniform redundancy's at the same clicks, the mean over "
             "20 budget points up to uniform-5's clicks (seed by seed far steadier than the "
             "first crossing of a target):\n\n"
             + markdown_table(summary, columns)]  # fmt: skip
    ours = [r for r in summary if r["policy"].startswith("ours")]
    if ours:
        calibration = {"dataset": "data", "policy": "policy", "predicted_gain:.1f": "predicted errors removed",
                       "realised_gain:.1f": "errors removed",
                       "batch_correlation:.2f": "correlation, batch by batch",
                       "ahead_of_agreement:.0%":
                       "budget points where ours is at or ahead of agreement"}  # fmt: skip
        parts.append("Our predicted gain (expected errors the batches remove, summed over the "
                     "loop) beside the errors they removed:\n\n"
                     + markdown_table(ours, calibration))  # fmt: skip
    if taught:
        parts.append(
            f"`{WITH_DETECTOR}`: the detector learnt from a {TEACHERS}-volunteer crowd's "
            "consensus on other images; on its own validation images:\n\n"
            + markdown_table([{"dataset": k, **v, **v["validation"]} for k, v in taught.items()],
                             {"dataset": "data", "images": "images taught on",
                              "precision:.3f": "precision", "recall:.3f": "recall",
                              "label_accuracy:.3f": "label accuracy",
                              "seconds:.0f": "training (s)"}))  # fmt: skip
    if retire:
        parts.append("The retire flag with 3 volunteers per image (median over data sets and "
                     "seeds): the images each threshold on the next volunteer's expected gain "
                     "retires, and how many of those still hold an error:\n\n"
                     + markdown_table(retire, {"threshold": "threshold", "retired:.1%": "retired",
                                               "retired_with_errors:.1%": "retired with an error",
                                               "errors_in_retired:.1f": "errors in them",
                                               "errors:.1f": "errors in all"}))  # fmt: skip
    parts.append(f"Ranking {timing['images']:,} images ({timing['clicks']:,} clicks; "
                 f"`next_tasks`, the consensus not counted): {timing['seconds']:.2f} s.")  # fmt: skip
    if example:
        parts.append(
            f"The real Cell Spotting export ({example['images']} images, "
            f"{example['expected_errors']:.0f} expected errors): {example['budget']} more runs "
            f"would remove {example['expected_gain']:.0f} of them; {example['retire']} images can "
            "retire. By volunteers so far:\n\n"
            + markdown_table(example["by_annotators"], {
                "annotators": "volunteers", "images": "images", "extra:.0f": "extra runs",
                "retire:.0f": "to retire", "errors:.1f": "expected errors"})  # fmt: skip
            + "\n\nThe ten images first in line:\n\n"
            + markdown_table(example["top"], {
                "image_id": "image", "annotators": "volunteers", "extra": "extra runs",
                "expected_gain:.2f": "expected gain", "expected_errors:.2f": "expected errors"})
        )  # fmt: skip
    return "\n\n".join(parts)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--images", type=int, default=300)
    p.add_argument("--datasets", nargs="+", default=["ldc", "synthetic"])
    p.add_argument("--rank-images", type=int, default=100_000)
    p.add_argument(
        "--detector",
        action=argparse.BooleanOptionalAction,
        default=importlib.util.find_spec("tensorflow") is not None,
        help="also our policy with a detector's cells (needs TensorFlow)",
    )
    p.add_argument("--reuse-detections", action="store_true",
                   help="the detectors' cells of the last run (results/), not trained again")  # fmt: skip
    args = p.parse_args()
    seeds, n_images, rank = (
        (1, 30, 2_000) if args.quick else (args.seeds, args.images, args.rank_images)
    )
    start = time.perf_counter()
    rows, curves_out, retire_runs, taught = [], {}, [], {}
    for name, truth in truths(args.datasets, n_images).items():
        n = len(images_of(truth))
        found = None
        if args.detector:
            cache = RESULTS / f"allocation-detections-{name}{'-quick' if args.quick else ''}.pkl"
            if args.reuse_detections and cache.exists():
                found = pd.read_pickle(cache)
            else:
                with tempfile.TemporaryDirectory(prefix="allocation-") as work:
                    found = detections(name, truth, Path(work), args.quick)
                found.to_pickle(cache)
            taught[name] = {**found.attrs["training"],
                            "validation": found.attrs["detector"]["validation"]}  # fmt: skip
            print(f"  {name}: detector taught on {taught[name]['images']} other images", flush=True)
        for seed in range(seeds):
            retire_runs += [{"dataset": name, "seed": seed, **r} for r in retirement(truth, seed)]
            curves = run(truth, seed, found)
            for row in measure(curves, n):
                rows.append({"dataset": name, "seed": seed, **row})
                print(f"  {name} seed {seed} {row['policy']:>15}: clicks to reach uniform-5 "
                      f"{row['clicks_to_reach']:.0f} of {row['reference_clicks']:.0f}", flush=True)  # fmt: skip
            columns = ["clicks", "f1", "label_accuracy", "errors", "predicted_gain",
                       "realised_gain"]  # fmt: skip
            curves_out[f"{name}/{seed}"] = {
                policy: curve[columns].astype(float).where(curve[columns].notna(), None)
                .to_dict("list")
                for policy, curve in curves.items()
            }  # fmt: skip
    timing = ranking_time(rank)
    example = real_example()
    summary = summarise(rows)
    retire = [{"threshold": t, **{c: float(g[c].median()) for c in
                                  ("retired", "retired_with_errors", "errors_in_retired", "errors")}}
              for t, g in pd.DataFrame(retire_runs).groupby("threshold")]  # fmt: skip
    text = markdown(summary, timing, example, retire, taught)
    print(text)
    payload = {"seeds": list(range(seeds)), "n_images": n_images, "pool": POOL, "crowd": CROWD,
               "seconds": time.perf_counter() - start, "summary": summary, "runs": rows,
               "curves": curves_out, "ranking": timing, "example": example,
               "retirement": retire, "retirement_runs": retire_runs,
               "detector": taught}  # fmt: skip
    print("wrote", write_result("allocation", payload, text))


if __name__ == "__main__":
    main()
