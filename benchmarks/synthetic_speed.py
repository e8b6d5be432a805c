"""Synthetic image generation speed: rendering in memory and writing a set to disk.

    python benchmarks/synthetic_speed.py [--n-images 400] [--repeats 3]

Target (issue 3): at least 100 fluorescence images (524 x 391 RGB) per second
on this machine. Writing adds PNG encoding (level 1), which costs more than
rendering.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from _common import markdown_table, timed, write_result

from cellconsensus.synthetic import make_truth, render_images, write_synthetic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs = {}
    scratch = Path(tempfile.mkdtemp(prefix="synthetic-speed-"))
    try:
        for style in ("fluorescence", "brightfield"):
            truth = make_truth(args.n_images, style=style, seed=0)
            for n_jobs in (1, 2):

                def render(truth=truth, n_jobs=n_jobs):
                    return sum(1 for _ in render_images(truth, n_jobs=n_jobs))

                def write(style=style, n_jobs=n_jobs):
                    out = scratch / f"{style}-{n_jobs}"
                    write_synthetic(out, args.n_images, style=style, n_jobs=n_jobs, overwrite=True)
                    return sum(f.stat().st_size for f in (out / "images").iterdir())

                for kind, fn in (("render", render), ("write", write)):
                    median, times, result = timed(fn, args.repeats)
                    name = f"{style} {kind} n_jobs={n_jobs}"
                    runs[name] = {
                        "median_s": median,
                        "times_s": times,
                        "images_per_s": args.n_images / median,
                        "n_images": args.n_images,
                    }
                    if kind == "write":
                        runs[name]["png_bytes_per_image"] = result / args.n_images
                    print(f"{name:35s} {args.n_images / median:8.1f} images/s")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rows = [
        {"run": name, **r, "spread": f"{min(r['times_s']):.2f}-{max(r['times_s']):.2f}"}
        for name, r in runs.items()
    ]
    text = f"{args.n_images} images per run, median of {args.repeats} runs.\n\n" + markdown_table(
        rows, {"run": "run", "images_per_s:,.1f": "images/s", "spread": "time range (s)"}
    )
    path = write_result(
        "synthetic_speed",
        {"n_images": args.n_images, "cpu_count": os.cpu_count(), "seed": 0, "runs": runs},
        text,
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
