"""Patch store against one PNG per patch in class folders (the thesis' layout), side by side.

    python benchmarks/patch_store.py [--n-patches 100000] [--quick]

Two workloads, each built from the same image files by both methods in one run:

- LDC (``../shared/data/ldc``): every expert box, 48 px grey patches;
- synthetic fluorescence: 95 px RGB patches from images written to a scratch
  folder first (not timed), 20 cells per image.

Build: decode every image, crop, then either write the zarr store
(:func:`~cellconsensus.store.write_patches`) or write each patch as a PNG into
``<label>/`` folders (Pillow, default compression), single process as the
thesis did. Both report patches/s and bytes on disk (file sizes rounded up to
4 KiB blocks). Read: sequential (chunk by chunk) and random access (single
patches at random) from the store, and the PNG folders read back file by file.
A chunk-size sweep shows why the default is about 4 MiB per chunk.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr
from _common import SHARED_DATA, markdown_table, write_result
from PIL import Image

from cellconsensus.images import ImageFolder
from cellconsensus.io import read_truth, read_voc
from cellconsensus.patches import crop
from cellconsensus.store import open_patches, write_patches
from cellconsensus.synthetic import write_synthetic

BLOCK = 4096


def disk_bytes(root: Path) -> int:
    """Bytes on disk: every file rounded up to whole 4 KiB blocks."""
    return sum(-(-p.stat().st_size // BLOCK) * BLOCK for p in root.rglob("*") if p.is_file())


def png_folders(truth, source: ImageFolder, size: int, out: Path) -> int:
    """The thesis' layout: decode, crop, one PNG per patch in a folder per label."""
    for label in truth["label"].astype(str).unique():
        (out / label).mkdir(parents=True, exist_ok=True)
    n = 0
    for image_id, rows in truth.groupby("image_id", sort=True):
        image, _ = source.load(image_id)
        pixels, *_ = crop(image, rows["x"].to_numpy(), rows["y"].to_numpy(), size)
        for k, (patch, label) in enumerate(zip(pixels, rows["label"].astype(str), strict=True)):
            Image.fromarray(patch[..., 0] if patch.shape[2] == 1 else patch).save(
                out / label / f"{image_id}_{k}.png"
            )
            n += 1
    return n


def read_pngs(root: Path) -> int:
    n = 0
    for path in sorted(root.rglob("*.png")):
        np.asarray(Image.open(path))
        n += 1
    return n


def read_store(store: Path, size: int, n_random: int, seed: int = 0) -> dict:
    array = zarr.open_array(store / f"size_{size}" / "patches", mode="r")
    n, chunk = array.shape[0], array.chunks[0]
    start = time.perf_counter()
    for a in range(0, n, chunk):
        array[a : a + chunk]
    sequential = n / (time.perf_counter() - start)
    picks = np.random.default_rng(seed).integers(0, n, n_random)
    start = time.perf_counter()
    for i in picks:
        array[int(i)]
    random_access = n_random / (time.perf_counter() - start)
    # Through xarray, as users open it.
    start = time.perf_counter()
    loaded = open_patches(store, size)["patches"].values
    assert loaded.shape[0] == n
    xarray_load = n / (time.perf_counter() - start)
    return {
        "sequential_patches_per_s": sequential,
        "random_patches_per_s": random_access,
        "xarray_load_patches_per_s": xarray_load,
    }


def decode_and_crop(truth, source: ImageFolder, size: int) -> int:
    """The work both layouts share: decode every image and crop its patches."""
    n = 0
    for image_id, rows in truth.groupby("image_id", sort=True):
        image, _ = source.load(image_id)
        n += len(crop(image, rows["x"].to_numpy(), rows["y"].to_numpy(), size)[0])
    return n


def compare(name, truth, source, size, scratch: Path, n_jobs_list, n_random) -> dict:
    out = {"n_patches": len(truth), "n_images": int(truth["image_id"].nunique()), "size": size}
    start = time.perf_counter()
    decode_and_crop(truth, source, size)
    shared = time.perf_counter() - start
    out["decode_and_crop_seconds"] = shared
    folders = scratch / f"{name}-png"
    start = time.perf_counter()
    n = png_folders(truth, source, size, folders)
    seconds = time.perf_counter() - start
    png = {"seconds": seconds, "patches_per_s": n / seconds, "bytes_on_disk": disk_bytes(folders)}
    start = time.perf_counter()
    read_pngs(folders)
    png["read_patches_per_s"] = n / (time.perf_counter() - start)
    out["png_folders"] = png
    print(f"{name}: {n} patches of {size} px (decoding and cropping alone: {shared:.1f} s)")
    print(
        f"  png folders     {png['patches_per_s']:9.0f} patches/s  {png['bytes_on_disk'] / 2**20:8.1f} MiB"
    )
    for n_jobs in n_jobs_list:
        store = scratch / f"{name}-{n_jobs}.zarr"
        start = time.perf_counter()
        write_patches(truth, source, store, size, mode="w", n_jobs=n_jobs)
        seconds = time.perf_counter() - start
        result = {
            "seconds": seconds,
            "patches_per_s": n / seconds,
            "bytes_on_disk": disk_bytes(store),
        }
        result.update(read_store(store, size, n_random))
        result["speedup"] = png["seconds"] / seconds
        # Without the decoding and cropping both do (one process only: n_jobs=1).
        if n_jobs == 1 and seconds - shared > 0.1 * seconds:
            result["write_speedup"] = (png["seconds"] - shared) / (seconds - shared)
        result["size_ratio"] = png["bytes_on_disk"] / result["bytes_on_disk"]
        out[f"store n_jobs={n_jobs}"] = result
        print(
            f"  store n_jobs={n_jobs}  {result['patches_per_s']:9.0f} patches/s  "
            f"{result['bytes_on_disk'] / 2**20:8.1f} MiB  ({result['speedup']:.1f}x faster, "
            f"{result['size_ratio']:.2f}x smaller"
            + (
                f"; writing alone {result['write_speedup']:.1f}x"
                if "write_speedup" in result
                else ""
            )
            + "); read: sequential "
            f"{result['sequential_patches_per_s']:.0f}/s, random {result['random_patches_per_s']:.0f}/s"
        )
    print(f"  png folders read back: {png['read_patches_per_s']:.0f} patches/s")
    return out


def chunk_sweep(truth, source, size, scratch: Path, chunks, n_random) -> dict:
    out = {}
    for chunk in chunks:
        store = scratch / f"sweep-{chunk}.zarr"
        start = time.perf_counter()
        write_patches(truth, source, store, size, mode="w", chunk_size=chunk)
        build = len(truth) / (time.perf_counter() - start)
        out[chunk] = {"build_patches_per_s": build, "bytes_on_disk": disk_bytes(store)}
        out[chunk].update(read_store(store, size, n_random))
        shutil.rmtree(store)
        print(
            f"  chunk {chunk:5d}: build {build:7.0f}/s, sequential "
            f"{out[chunk]['sequential_patches_per_s']:8.0f}/s, random "
            f"{out[chunk]['random_patches_per_s']:6.0f}/s, {out[chunk]['bytes_on_disk'] / 2**20:.1f} MiB"
        )
    return out


def markdown(result: dict) -> str:
    """Build throughput and size per workload, store against PNG folders."""
    parts = []
    for name in ("ldc", "synthetic"):
        if name not in result:
            continue
        r = result[name]
        png = r["png_folders"]
        rows = [
            {
                "layout": "one PNG per patch (thesis)",
                "rate": png["patches_per_s"],
                "mib": png["bytes_on_disk"] / 2**20,
                "read": png["read_patches_per_s"],
            }
        ]
        for key, v in r.items():
            if key.startswith("store "):
                rows.append(
                    {
                        "layout": f"zarr store, {key.removeprefix('store ')}",
                        "rate": v["patches_per_s"],
                        "mib": v["bytes_on_disk"] / 2**20,
                        "speedup": v["speedup"],
                        "smaller": v["size_ratio"],
                        "read": v["sequential_patches_per_s"],
                    }
                )
        parts.append(
            f"**{name}**: {r['n_patches']:,} patches of {r['size']} px from {r['n_images']:,} "
            f"images (decoding and cropping alone: {r['decode_and_crop_seconds']:.1f} s)\n\n"
            + markdown_table(
                rows,
                {
                    "layout": "layout",
                    "rate:,.0f": "build (patches/s)",
                    "mib:,.1f": "on disk (MiB)",
                    "speedup:.1f": "faster",
                    "smaller:.2f": "smaller",
                    "read:,.0f": "read back (patches/s)",
                },
            )
        )
    return "\n\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-patches", type=int, default=100_000, help="synthetic patches")
    parser.add_argument("--quick", action="store_true", help="a small run (smoke test)")
    parser.add_argument("--scratch", type=Path, help="folder for the files (default: a temp dir)")
    args = parser.parse_args()
    n_patches = 600 if args.quick else args.n_patches
    n_random = 200 if args.quick else 2000
    scratch = Path(tempfile.mkdtemp(prefix="patch-store-", dir=args.scratch))
    result = {"quick": args.quick, "cpu_count": os.cpu_count()}
    try:
        ldc = SHARED_DATA / "ldc" / "images"
        if ldc.exists():
            truth = read_voc(ldc)
            if args.quick:
                truth = truth[truth["image_id"].isin(sorted(truth["image_id"].unique())[:40])]
            jobs = (1,) if args.quick else (1, 2)
            result["ldc"] = compare("ldc", truth, ImageFolder(ldc), 48, scratch, jobs, n_random)
        else:
            print(f"LDC data not found at {ldc}: skipped")
        n_images = -(-n_patches // 20)
        start = time.perf_counter()
        syn = write_synthetic(
            scratch / "synthetic",
            n_images,
            cells_per_image=(20, 20),
            cell_size=(40, 55),
            n_annotators=0,
            n_jobs=-1,
            seed=0,
        )
        print(
            f"(wrote {n_images} synthetic images in {time.perf_counter() - start:.0f} s, not timed)"
        )
        truth = read_truth(syn.truth_csv)
        source = ImageFolder(syn.images)
        jobs = (1,) if args.quick else (1, 2)
        result["synthetic"] = compare("synthetic", truth, source, 95, scratch, jobs, n_random)
        sweep_truth = truth[
            truth["image_id"].isin(sorted(truth["image_id"].unique())[: max(50, n_images // 5)])
        ]
        print(f"chunk-size sweep ({len(sweep_truth)} patches of 95 px RGB):")
        chunks = (32, 154) if args.quick else (32, 154, 512, 2048)
        result["chunk_sweep"] = chunk_sweep(sweep_truth, source, 95, scratch, chunks, n_random)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"results: {write_result('patch_store', result, markdown(result))}")


if __name__ == "__main__":
    main()
