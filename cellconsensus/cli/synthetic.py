"""``cellconsensus synthetic``: synthetic images, their truth and a simulated crowd export."""

from __future__ import annotations

import argparse

from ..synthetic import STYLES, write_synthetic

NAME = "synthetic"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="write synthetic microscopy images, their truth and a simulated crowd export",
        description=(
            "Write OUT/images/*.png, OUT/annotations/*.xml (Pascal VOC), OUT/truth.csv, "
            "OUT/crowd/task_runs.json and tasks.json (PyBossa) and OUT/manifest.json."
        ),
    )
    p.add_argument("out", help="folder to create")
    p.add_argument("--style", choices=sorted(STYLES), default="fluorescence")
    p.add_argument("--n-images", type=int, default=20)
    p.add_argument(
        "--cells", nargs=2, type=int, metavar=("MIN", "MAX"), help="cells per image (style default)"
    )
    p.add_argument(
        "--cell-size", nargs=2, type=float, metavar=("MIN", "MAX"), help="cell diameter in px"
    )
    p.add_argument("--dead-fraction", type=float, default=0.35)
    p.add_argument(
        "--mitotic-fraction",
        type=float,
        default=0.0,
        help="share of dividing cells, a third class 'mitotic' (read the crowd back with "
        "classes=['alive', 'dead', 'mitotic'])",
    )
    p.add_argument("--noise", type=float, default=1.0, help="noise scale (0: clean images)")
    p.add_argument(
        "--n-annotators", type=int, default=5, help="simulated annotators per image (0: none)"
    )
    p.add_argument("--label-noise", type=float, default=0.1)
    p.add_argument("--spammer-fraction", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=1, help="processes (-1: all cores)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    return p


def run(args: argparse.Namespace) -> int:
    data = write_synthetic(
        args.out,
        args.n_images,
        style=args.style,
        cells_per_image=tuple(args.cells) if args.cells else None,
        cell_size=tuple(args.cell_size) if args.cell_size else None,
        dead_fraction=args.dead_fraction,
        mitotic_fraction=args.mitotic_fraction,
        noise=args.noise,
        n_annotators=args.n_annotators,
        crowd={"label_noise": args.label_noise, "spammer_fraction": args.spammer_fraction},
        seed=args.seed,
        n_jobs=args.n_jobs,
        overwrite=args.overwrite,
        progress=True,
    )
    counts = data.manifest["counts"]
    print(
        f"wrote {counts['images']} {args.style} images with {counts['cells']} cells "
        f"({counts['dead']} dead) and {counts['clicks']} simulated clicks to {data.root}"
    )
    if args.n_annotators:
        print(
            f"next: cellconsensus compare {data.task_runs} --tasks {data.tasks} "
            f"--truth {data.annotations}"
        )
    return 0
