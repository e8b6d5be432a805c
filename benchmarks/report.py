"""Assemble docs/benchmarks.md from the results of the benchmark scripts.

    python benchmarks/report.py [--results DIR] [--out docs/benchmarks.md]

Reads ``<results>/<name>.json`` and ``<name>.md`` of every benchmark (see
``run.py``), draws the plots from the JSON next to the page
(``docs/benchmarks/``) and writes one Markdown page:
each section says what was measured, with which command, on which machine and
package versions, when, and shows the table. A benchmark without results is
listed with the command that produces them, never left out silently.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from _common import RESULTS

from cellconsensus.plot import pyplot  # matplotlib on Agg

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent / "docs"

#: (result name, title, command, what it answers), in page order.
SECTIONS = [
    (
        "end_to_end",
        "Which consensus gives the best classifier?",
        "python benchmarks/end_to_end.py",
        "For each strategy, `compact` trained on patches labelled by that strategy's consensus "
        "of a crowd simulated over the LDC training images, tested against the expert labels "
        "of look-alike-free test images; expert labels as the ceiling; soft against hard "
        "targets. One training run per row (seed 0): two runs of one model can differ by 0.02 in "
        "balanced accuracy, so differences that small are ties; ROC AUC is steadier.",
    ),
    (
        "consensus_accuracy",
        "Consensus accuracy against ground truth",
        "python benchmarks/consensus_accuracy.py",
        "Precision, recall, F1, label accuracy and localisation error of every strategy, the "
        "thesis' rule and panoptes-aggregation's point reducers on crowds simulated over the "
        "expert cells of 400 LDC images and over a synthetic truth, across 24 crowd conditions. Peers and the "
        "thesis are also shown *tuned* on the very crowds they are scored on (oracle tuning "
        "favours them); ours are never tuned. `radius-thesis` merges only images where every "
        "annotator clicked the same number of cells (its documented quirk), so it keeps few "
        "images of busy crowds.",
    ),
    (
        "real_cellspotting",
        "The defaults on the real Cell Spotting export",
        "python benchmarks/real_cellspotting.py",
        "No volunteer ids: every one of the 999 runs is its own annotator, 620 of the 800 "
        "images have one run. The defaults against majority vote on the same cells (a label "
        "model must not overrule a lone volunteer without evidence), and the annotator table.",
    ),
    (
        "label_aggregation",
        "Label aggregation",
        "python benchmarks/label_aggregation.py",
        "Our `mean`, `majority` and `dawid-skene` against crowd-kit's aggregators on the same "
        "vote tables (alive/dead votes of simulated crowds, one global annotator pool), and "
        "Dawid-Skene scaling from 10^4 to 10^6 rows.",
    ),
    (
        "label_classes",
        "Label models for K classes",
        "python benchmarks/label_classes.py",
        "The label models at K = 3 classes beside K = 2 on the same votes: ours (classes given) "
        "against crowd-kit's MajorityVote, DawidSkene and GLAD, on vote tables of "
        "`simulate_votes` (Dawid and Skene's generative model: 2,000 tasks, 5 annotators each "
        "from a pool of 50, errors spread over the other classes, spammers answering at "
        "random). A task left `unsure` (a tie) counts as wrong; crowd-kit's MajorityVote "
        "breaks ties at random.",
    ),
    (
        "three_classes",
        "Three classes: consensus",
        "python benchmarks/three_classes.py",
        "The consensus at K = 3 beside K = 2 on the same synthetic brightfield images (400; "
        "three classes: 35 % dead, 30 % mitotic, dividing cells drawn as two daughters): crowds "
        "of 3, 5 or 10 annotators, label noise 5 % or 25 % (a wrong label is any other class), "
        "with or without 20 % spammers. Ours with no parameter (Dawid-Skene over the classes) "
        "and with majority labels; crowd-kit's MajorityVote, DawidSkene and GLAD on the votes "
        "of our default's cells (the same cells: their detection F1 is ours).",
    ),
    (
        "three_classes_cnn",
        "Three classes: classifier",
        "python benchmarks/three_classes_cnn.py",
        "The CNN at K = 3 beside K = 2 on the same synthetic images: trained on the crowd's "
        "consensus cells of the train and val images (5 annotators), tested on the expert "
        "cells of the test images; a softmax over three classes, a sigmoid for two; hard "
        "targets and soft ones (the crowd's class probabilities).",
    ),
    (
        "detection",
        "Finding cells without clicks",
        "python benchmarks/detection.py",
        "The point detector (`cellcnn.detect`, its defaults) trained on the expert cells of the "
        "training images, scored on the test images (LDC: split by look-alike groups; "
        "synthetic fluorescence: by image) by Hungarian matching within half a cell, from "
        "pixels only; beside it scikit-image's Laplacian-of-Gaussian blob detector tuned on "
        "the validation images, and simulated crowds of 1 to 10 volunteers (default "
        "consensus) on the same test images: the crowd size the detector equals. The F1 "
        "comes with a 95 % bootstrap interval (test images drawn again by look-alike group). "
        "The same detections are also labelled by a patch classifier (`compact`, 48 px) "
        "trained on the same training cells.",
    ),
    (
        "detector_input",
        "Detector training from an image cache",
        "python benchmarks/detector_input.py",
        "`train_detector` holds every image in memory by default; with `cache=` "
        "(`cellcnn train-detector --cache`) it copies them once into a chunked zarr store "
        "and reads only the chunks a training crop touches. Large synthetic fluorescence "
        "images (PNG folder) and the LDC images: the set in memory against the cache on "
        "disk, training crops per second from each (the detector's crop stream, one "
        "thread, as `tf.data` runs it) beside the crops per second the detector trains on "
        "here, and the peak resident memory of whole training runs, each in its own process.",
    ),
    (
        "ensemble",
        "Ensembles and calibrated probabilities",
        "python benchmarks/ensemble.py",
        "`compact` trained five times on the LDC patch store (look-alike groups kept in one "
        "split), each run and the ensembles of three and five (`cellcnn.ensemble`) at their "
        "own prediction setting chosen on the validation split (TTA, temperature, "
        "threshold): the classification of given cells with the defaults, with 95 % "
        "bootstrap intervals (test cells drawn again by look-alike group: how far the "
        "figures of this one test split may lie from the models' on many more cells), and "
        "the calibration error before and after temperature scaling.",
    ),
    (
        "allocation",
        "Spending volunteers where they matter",
        "python benchmarks/allocation.py",
        "Our allocation (`cellconsensus.allocate.next_tasks`) against uniform redundancy and "
        "Zooniverse-style retirement by agreement, in an online loop on simulated crowds over "
        "the LDC expert cells (300 images) and synthetic brightfield truth (300 images): every "
        "image starts with one volunteer of a queue of 8 (label noise 15 %), batches of a "
        "tenth of the images' count go where each policy sends them, the consensus is scored "
        "after every batch; 8 seeds. `ours` ranks runs by the errors they remove per run "
        "(the library's default), `ours per click` per click they cost (`cost='clicks'`; "
        "these targets count clicks). `ours + detector` is the same policy given the cells a "
        "point detector finds on those images (taught by a 3-volunteer crowd on other "
        "images). See the module `cellconsensus.allocate.simulate`.",
    ),
    (
        "consensus_speed",
        "Speed and scaling of consensus",
        "python benchmarks/consensus_speed.py",
        "Clicks/s and images/s of every strategy and of the panoptes reducers on a 20,000-image "
        "synthetic workload and its subsets, and on the real Cell Spotting export. Targets: the "
        "default strategy at least 1,000,000 clicks/s and 15 times panoptes' DBSCAN reducer; "
        "the default configuration (`default`: scale estimation, the annotator model and "
        "Dawid-Skene labels included) at least 1,000,000 clicks/s. Strategies by name run "
        "with majority labels and the support threshold (the clustering's speed).",
    ),
    (
        "patch_store",
        "Patch pipeline: store build and read",
        "python benchmarks/patch_store.py",
        "Building the zarr patch store against writing one PNG per patch into class folders "
        "(the thesis' layout), measured side by side on the same images.",
    ),
    (
        "input_pipeline",
        "Patch pipeline: training input",
        "python benchmarks/input_pipeline.py",
        "`tf.data` from the zarr store against Keras' folder loaders, patches/s at 95 px RGB "
        "with shuffling.",
    ),
    (
        "distributed_scaling",
        "Scaling out: Dask workers",
        "python benchmarks/distributed_scaling.py",
        "`find_consensus(..., client=)` and `write_patches(..., client=)` on a local_cluster "
        "with 1 and 2 worker processes (one thread each) against one process, on this 2-core "
        "machine, for clicks in memory and in Parquet files, and a model of 8 to 128 workers "
        "built from the measured compute per click, tasks per file and per partition, the "
        "scheduler's cost per task and the round trip of each EM round. See the Scaling out "
        "page for what the model assumes.",
    ),
    (
        "crop_size_ldc",
        "The thesis' crop-size table, redone: LDC",
        "python benchmarks/crop_size.py --dataset ldc",
        "Thesis Table 3.1 had 90/95/100/128 px on Cell Spotting (84.3/87.1/85.2/86.5 % "
        "validation accuracy, random crop split). Here: the real LDC cells at sizes suited to "
        "them (about 20 px cells), test split of look-alike-free image groups.",
    ),
    (
        "crop_size_synthetic",
        "The thesis' crop-size table, redone: synthetic fluorescence",
        "python benchmarks/crop_size.py --dataset synthetic",
        "The built-in thesis-like fluorescence images at the thesis' sizes, split by image.",
    ),
    (
        "synthetic_speed",
        "Synthetic images",
        "python benchmarks/synthetic_speed.py",
        "Rendering and writing speed of the built-in synthetic microscopy.",
    ),
    (
        "double_clicks",
        "Double clicks",
        "python benchmarks/double_clicks.py",
        "How far apart an annotator's two clicks on one image may be to count as one click "
        "(`defaults.DOUBLE_CLICK`, taken out before clustering; 0 is the one-vote rule "
        "alone), on crowds with 2 % and 10 % double clicks over LDC and synthetic truth. "
        "The radius must stay well below the closest two true cells.",
    ),
    (
        "reliability",
        "Reliability",
        "python benchmarks/reliability.py",
        "The fuzz suite at thousands of examples per test (every reader, consensus on "
        "degenerate tables, patches of bad cells and images, `predict` on bad points), the "
        "kill matrix at every call of every step of a store build (one process, `n_jobs=2`, "
        "an append, a Dask cluster) and a corruption sweep over every chunk file of a store. "
        "Target: every case handled (a result, a counted policy or a clear error), every "
        "killed build resumed identically, every damaged chunk named; no silent result.",
    ),
]


def machine_line(machine: dict) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in machine.get("versions", {}).items())
    cpu = machine.get("cpu", machine.get("platform", "?"))
    cores = machine.get("cores")
    return f"{cpu}" + (f", {cores} cores" if cores else "") + (f"; {versions}" if versions else "")


#: The strategies drawn in the accuracy plot (the table has them all).
ACCURACY_LINES = {
    "dbscan": ("tab:blue", "-"),
    "dbscan (auto)": ("tab:blue", "--"),
    "radius (auto)": ("tab:cyan", "--"),
    "agglomerative (auto)": ("tab:green", "--"),
    "kmeans (auto)": ("tab:olive", "--"),
    "hdbscan": ("tab:purple", "-"),
    "radius-thesis": ("black", ":"),
    "panoptes dbscan (tool per label)": ("tab:red", "-."),
    "panoptes dbscan (tool per label) (tuned)": ("tab:red", (0, (1, 1))),
    "panoptes dbscan (one tool) (tuned)": ("tab:orange", (0, (1, 1))),
    "panoptes hdbscan (tool per label) (tuned)": ("tab:brown", (0, (1, 1))),
}


def accuracy_plot(data: dict, path: Path) -> None:
    """F1 against annotators per image, per strategy: clean crowds and hard ones."""
    plt = pyplot()
    rows = data["summary"]
    panels = {
        "low noise, no spammers": lambda r: (
            r["position_noise"] == 0.1 and r["label_noise"] == 0.05 and not r["spam"]
        ),
        "high noise, spammers": lambda r: (
            r["position_noise"] == 0.3 and r["label_noise"] == 0.25 and r["spam"]
        ),
    }
    datasets = sorted({r["dataset"] for r in rows})
    fig, axes = plt.subplots(
        len(datasets), 2, figsize=(12, 3.6 * len(datasets)), squeeze=False, sharey=True
    )
    for i, dataset in enumerate(datasets):
        for j, (title, chosen) in enumerate(panels.items()):
            ax = axes[i, j]
            for name, (colour, style) in ACCURACY_LINES.items():
                line = sorted(
                    (
                        r
                        for r in rows
                        if r["dataset"] == dataset and r["strategy"] == name and chosen(r)
                    ),
                    key=lambda r: r["n_annotators"],
                )
                if not line:
                    continue
                n = [r["n_annotators"] for r in line]
                f1 = np.array([r["f1"] for r in line])
                low = f1 - [r["f1_min"] for r in line]
                high = np.array([r["f1_max"] for r in line]) - f1
                ax.errorbar(
                    n,
                    f1,
                    yerr=[low, high],
                    color=colour,
                    ls=style,
                    marker="o",
                    ms=3,
                    capsize=2,
                    label=name,
                )
            ax.set(
                title=f"{dataset}: {title}",
                xlabel="annotators per image",
                ylabel="F1",
                ylim=(0, 1.02),
            )
            ax.set_xticks(sorted({r["n_annotators"] for r in rows}))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.tight_layout()
    fig.legend(handles, labels, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def loglog_plot(series: dict[str, list], path: Path, xlabel: str, ylabel: str, **options) -> None:
    """One log-log line per series of (x, y) points; peers dashed, the thesis dotted."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=options.get("figsize", (7, 4.5)))
    for name, points in sorted(series.items(), key=lambda kv: -max(p[1] for p in kv[1])):
        style = (
            "--" if "panoptes" in name or "crowd-kit" in name else ":" if "thesis" in name else "-"
        )
        ax.plot(*zip(*sorted(points), strict=True), style + "o", ms=3, label=name)
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel=ylabel, title=options.get("title"))
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def _series(rows: list[dict], name: str, x: str, y: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for row in rows:
        out.setdefault(row[name], []).append((row[x], row[y]))
    return out


def speed_plot(data: dict, path: Path) -> None:
    """Clicks/s of every strategy and peer against workload size."""
    series = _series(data["runs"], "strategy", "n_clicks", "clicks_per_s")
    loglog_plot(series, path, "clicks in the workload", "clicks/s")


def scaling_plot(data: dict, path: Path) -> None:
    """Dawid-Skene time against vote rows, ours and crowd-kit's."""
    series = _series(data["scaling"], "method", "rows", "median_s")
    loglog_plot(series, path, "vote rows", "seconds (median)", title="Dawid-Skene", figsize=(5, 4))


def reliability_plot(data: dict, path: Path) -> bool:
    """The default's p_alive against the observed alive share (reliability diagram);
    False (nothing drawn) for results measured before it existed."""
    if not data.get("reliability"):
        return False
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls=":", label="perfectly calibrated")
    for dataset, points in data.get("reliability", {}).items():
        bins = [b for b in points if "p_alive" in b]
        ece = next((b["ece"] for b in points if "ece" in b), float("nan"))
        ax.plot(
            [b["p_alive"] for b in bins],
            [b["observed"] for b in bins],
            "o-",
            ms=3,
            label=f"{dataset} (ECE {ece:.3f})",
        )
    ax.set(
        xlabel="p_alive of the default (bin mean)",
        ylabel="share truly alive",
        title="Calibration of find_consensus(clicks)",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return True


#: Plots drawn here from a result's JSON: name -> [(file, function), ...].
def allocation_plot(data: dict, path: Path) -> bool:
    """The budget curves (F1, label accuracy and errors against clicks spent, per policy;
    the first seed of each data set) and our predicted gain against the realised one,
    batch by batch (every seed)."""
    curves = data.get("curves") or {}
    firsts = {key.split("/")[0]: value for key, value in reversed(list(curves.items()))}
    if not firsts:
        return False
    plt = pyplot()
    names = sorted(firsts)
    fig, axes = plt.subplots(len(names), 4, figsize=(17, 3.6 * len(names)), squeeze=False)
    for row, name in zip(axes, names, strict=True):
        for ax, (key, label) in zip(row[:3], (("f1", "detection F1"),
                                              ("label_accuracy", "label accuracy"),
                                              ("errors", "errors (missed, extra, wrong label)")),
                                    strict=True):  # fmt: skip
            for policy, curve in firsts[name].items():
                ax.plot(curve["clicks"], curve[key],
                        "-" if policy.startswith("ours") else "--", label=policy)  # fmt: skip
            ax.set(title=f"{name}: {label}", xlabel="clicks spent", ylabel=label)
            if key != "errors":
                ax.set_ylim(max(0.0, ax.get_ylim()[0]), 1.0)
            ax.legend(fontsize=8)
        ax = row[3]
        pairs = [(p, r) for key, policies in curves.items() if key.startswith(f"{name}/")
                 for p, r in zip(policies["ours"].get("predicted_gain", []),
                                 policies["ours"].get("realised_gain", []), strict=False)
                 if p is not None and r is not None]  # fmt: skip
        if pairs:
            predicted, realised = np.array(pairs).T
            ax.scatter(predicted, realised, s=10, alpha=0.6)
            top = max(predicted.max(), realised.max(), 1.0)
            ax.plot([0, top], [0, top], ":", color="grey")
        ax.set(title=f"{name}: ours, batch by batch", xlabel="predicted errors removed",
               ylabel="errors removed")  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


PLOTS = {
    "allocation": [("allocation.png", allocation_plot)],
    "consensus_accuracy": [
        ("consensus_accuracy.png", accuracy_plot),
        ("calibration.png", reliability_plot),
    ],
    "consensus_speed": [("consensus_speed.png", speed_plot)],
    "label_aggregation": [("label_aggregation.png", scaling_plot)],
}


def section(results: Path, out_dir: Path, name, title, command, what) -> str:
    lines = [f"## {title}", "", what, ""]
    data_path, table_path = results / f"{name}.json", results / f"{name}.md"
    if not data_path.exists():
        lines += [f"*Not measured yet*: run `{command}` (or `make bench`).", ""]
        return "\n".join(lines)
    data = json.loads(data_path.read_text())
    machine = data.get("machine", {})
    when = machine.get("date", "")
    lines += [
        f"Command: `{command}`" + (f" ({when[:10]})" if when else ""),
        "",
        f"Machine: {machine_line(machine)}.",
        "",
    ]
    if table_path.exists():
        lines += [table_path.read_text().rstrip(), ""]
    for file, draw in PLOTS.get(name, []):
        figures = out_dir / "benchmarks"
        figures.mkdir(parents=True, exist_ok=True)
        if draw(data, figures / file) is not False:
            lines += [f"![{title}](benchmarks/{file})", ""]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--out", type=Path, default=DOCS / "benchmarks.md")
    args = p.parse_args()
    parts = [
        "# Benchmarks",
        "",
        "Generated by `benchmarks/report.py` from `benchmarks/results/` "
        "(`make bench` reruns everything: 70 minutes on the 2-core reference CPU when timed "
        "as one run on 2026-11-29, well over two hours since: each result records its own "
        "duration, and the detection and ensemble benchmarks now take about 40 minutes each, "
        "the allocation about 25 with its detectors' training; `make bench-quick` "
        "is the few-minute smoke run CI does). Every comparison runs in one process, side by "
        "side, on the same input; medians of repeated runs (or seeds) with the spread. Peers "
        "(panoptes-aggregation, crowd-kit) are installed only in the benchmark environment "
        "(`.venv-bench`, the `bench` extra).",
        "",
    ]
    for spec in SECTIONS:
        parts.append(section(args.results, args.out.parent, *spec))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(parts).rstrip() + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
