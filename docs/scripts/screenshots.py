"""Draw the overlay and the report screenshot shown on docs/index.md.

    python docs/scripts/screenshots.py [--out docs/images]

Both come from built-in synthetic data (a simulated crowd of 4 on brightfield
images). ``overlay.png`` is :func:`cellconsensus.plot.plot_image`;
``report.png`` is the top of ``cellconsensus report``'s summary page, taken by
headless Chromium (left as it is, with a message, where Chromium is not
installed). The committed images are what this script wrote.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from cellconsensus import find_consensus, score, simulate_crowd
from cellconsensus.plot import plot_image, pyplot
from cellconsensus.report import write_report
from cellconsensus.synthetic import make_images

OUT = Path(__file__).resolve().parents[1] / "images"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = make_images(6, style="brightfield", seed=4)
    clicks = simulate_crowd(data.truth, 3, seed=1, miss_rate=0.3, label_noise=0.15)
    # One image seen by a single annotator: the report ranks it first for another look.
    mine = clicks["image_id"] == "syn00005"
    first = clicks.loc[mine, "annotator_id"].iloc[0]
    clicks = clicks[~mine | (clicks["annotator_id"] == first)].reset_index(drop=True)
    clicks.attrs["runs"] = clicks[["image_id", "annotator_id"]].drop_duplicates()

    cells = find_consensus(clicks).cells
    # The overlay of the image with the most to show: the lowest F1 against the truth.
    worst = min(sorted(set(data.truth["image_id"]) - {"syn00005"}),
                key=lambda i: score(cells, data.truth, image_ids=[i]).f1)  # fmt: skip
    fig = plot_image(worst, data.images, clicks=clicks, cells=cells, truth=data.truth)
    fig.savefig(args.out / "overlay.png", dpi=70, bbox_inches="tight")
    pyplot().close(fig)
    print(f"wrote {args.out / 'overlay.png'}")

    browser = shutil.which("chromium")
    if browser is None:
        print("Chromium is not installed: report.png left as it is")
        return
    with tempfile.TemporaryDirectory() as tmp:
        index = write_report(clicks, Path(tmp) / "report", images=data.images,
                             truth=data.truth, max_images=6)  # fmt: skip
        shot = Path(tmp) / "shot.png"
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--screenshot={shot}", "--window-size=1200,1500", index.as_uri()],
            capture_output=True, timeout=120, check=True,
        )  # fmt: skip
        with Image.open(shot) as image:
            small = image.convert("RGB").resize((800, 1000), Image.Resampling.LANCZOS)
            small.quantize(colors=128).save(args.out / "report.png", optimize=True)
    print(f"wrote {args.out / 'report.png'}")


if __name__ == "__main__":
    main()
