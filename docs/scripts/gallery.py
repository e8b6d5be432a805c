"""Draw the synthetic-versus-real gallery shown on docs/synthetic.md.

    python docs/scripts/gallery.py [--out docs/images] [--data ../shared/data]

Real images are read from ``../shared/data`` at build time and never
committed; without it, the gallery shows the synthetic rows only and says so.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from cellconsensus.io import read_voc
from cellconsensus.synthetic import make_images

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
PAD, TITLE = 6, 18


def _row(tiles: list[Image.Image], title: str, height: int) -> Image.Image:
    tiles = [t.convert("RGB").resize((round(t.width * height / t.height), height)) for t in tiles]
    width = sum(t.width for t in tiles) + PAD * (len(tiles) + 1)
    row = Image.new("RGB", (width, height + TITLE + PAD), "white")
    ImageDraw.Draw(row).text((PAD, 3), title, fill="black")
    x = PAD
    for t in tiles:
        row.paste(t, (x, TITLE))
        x += t.width + PAD
    return row


def _stack(rows: list[Image.Image]) -> Image.Image:
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    return sheet


def _crops(image: np.ndarray, cells, size: int) -> list[Image.Image]:
    half = size // 2
    pad = [(half, half), (half, half)] + [(0, 0)] * (image.ndim - 2)
    padded = np.pad(image, pad, mode="reflect")
    out = []
    for row in cells.itertuples():
        x, y = int(round(row.x)) + half, int(round(row.y)) + half
        out.append(Image.fromarray(padded[y - half : y + half, x - half : x + half]))
    return out


def _crops_by(data, column: str, value: str, size: int, n: int) -> list[Image.Image]:
    cells = data.truth[data.truth[column] == value].head(n)
    return [
        crop
        for image_id, group in cells.groupby("image_id", sort=False)
        for crop in _crops(data.images[image_id], group, size)
    ]


def fluorescence(data_dir: Path) -> Image.Image:
    synthetic = make_images(3, seed=2)
    rows = []
    real = sorted((data_dir / "cellspotting" / "app_images").glob("*.jpg"))
    if real:
        rows.append(
            _row([Image.open(p) for p in real[:3]], "real: Cell Spotting (app_images)", 220)
        )
    else:
        rows.append(_row([Image.new("RGB", (4, 4), "white")], "real data not found", 20))
    rows.append(_row([Image.fromarray(im) for im in synthetic.images.values()], "synthetic", 220))
    samples = data_dir / "cellspotting" / "samples"
    for name in ("liveCellsSamplesFinal.png", "deadCellsSamplesFinal.png"):
        if (samples / name).exists():
            rows.append(_row([Image.open(samples / name)], f"real: {name}", 120))
    many = make_images(12, seed=3)
    for phenotype in ("spread", "rounded", "apoptotic", "necrotic"):
        tiles = _crops_by(many, "phenotype", phenotype, 96, 6)
        rows.append(_row(tiles, f"synthetic: {phenotype}", 96))
    return _stack(rows)


def brightfield(data_dir: Path) -> Image.Image:
    synthetic = make_images(40, style="brightfield", seed=2)
    with_cells = [i for i in synthetic.images if (synthetic.truth["image_id"] == i).sum() >= 4]
    rows = []
    folder = data_dir / "ldc" / "images"
    if folder.exists():
        names = ["cell_155", "cell_169", "cell_251", "b_1829"]
        rows.append(_row([Image.open(folder / f"{n}.png") for n in names], "real: LDC", 219))
        truth = read_voc([folder / f"{n}.xml" for n in names[:3]])
        for label in ("alive", "dead"):
            tiles = [
                crop
                for image_id, group in truth[truth["label"] == label].groupby("image_id")
                for crop in _crops(
                    np.asarray(Image.open(folder / f"{image_id}.png").convert("L")), group, 48
                )
            ][:8]
            rows.append(_row(tiles, f"real: {label} (48 px)", 96))
    else:
        rows.append(_row([Image.new("RGB", (4, 4), "white")], "real data not found", 20))
    rows.append(
        _row([Image.fromarray(synthetic.images[i]) for i in with_cells[:4]], "synthetic", 219)
    )
    for label in ("alive", "dead"):
        rows.append(
            _row(_crops_by(synthetic, "label", label, 48, 8), f"synthetic: {label} (48 px)", 96)
        )
    return _stack(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "images")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, draw in (("fluorescence", fluorescence), ("brightfield", brightfield)):
        path = args.out / f"gallery-{name}.png"
        draw(args.data).save(path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
