"""``cellconsensus inspect``: summarise a patch store."""

from __future__ import annotations

import argparse

import pandas as pd

from ..store import contact_sheet, inspect_store, store_info

NAME = "inspect"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="summarise a patch store (counts, padding, provenance)")
    p.add_argument("store", help="zarr store (path or fsspec URL)")
    p.add_argument("--sheet", help="also write a contact sheet PNG of random patches per class")
    p.add_argument("--size", type=int, help="patch size for the sheet (default: the smallest)")
    return p


def _digest(entry: dict) -> str:
    return f"(sha256 {entry.get('sha256', '')[:12]}...)"


def run(args: argparse.Namespace) -> int:
    info = store_info(args.store)
    prov = info.get("provenance", {})
    print(
        f"{args.store}: {info['format']} v{info['format_version']}, "
        f"sizes {info['settings']['sizes']}, {info['channels']} channel(s), "
        f"created {info['created']}, updated {info.get('updated')}"
    )
    consensus = prov.get("consensus") or {}
    if consensus.get("strategy"):
        print(f"consensus: {consensus['strategy']}; labels: {consensus.get('labels')}")
    inputs = prov.get("inputs", {})
    cells, images = inputs.get("cells", {}), inputs.get("images", {})
    print(
        f"cells: {cells.get('n_cells')} {_digest(cells)}; "
        f"images: {images.get('n_images')} {_digest(images)}"
    )
    print(f"crop: {prov.get('crop')}; split: {prov.get('split', {})}\n")
    with pd.option_context("display.width", 200, "display.float_format", "{:.2f}".format):
        print(inspect_store(args.store).to_string(index=False))
    if args.sheet:
        path = contact_sheet(args.store, args.sheet, args.size or min(info["settings"]["sizes"]))
        print(f"\ncontact sheet: {path}")
    return 0
