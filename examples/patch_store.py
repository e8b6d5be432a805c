"""Build a patch store from labelled cells and look at it with xarray.

python examples/patch_store.py          # synthetic fluorescence images (seconds)
python examples/patch_store.py --real   # the LDC expert boxes, split by look-alike groups
"""

from __future__ import annotations

from _common import parser, real

from cellconsensus import read_voc
from cellconsensus.io import read_truth
from cellconsensus.store import contact_sheet, inspect_store, open_patches, write_patches
from cellconsensus.synthetic import write_synthetic


def main() -> None:
    args = parser(__doc__).parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.real:
        images = real("ldc", "images")
        cells, size, groups = read_voc(images), 48, "lookalike"
    else:
        data = write_synthetic(args.out / "synthetic", n_images=20, n_annotators=0, seed=0)
        images, cells, size, groups = data.images, read_truth(data.truth_csv), 95, "image"
    store = args.out / "patches.zarr"
    print(write_patches(cells, images, store, size, groups=groups, mode="w"))

    ds = open_patches(store, size)
    print(ds)
    print(ds.split.to_series().value_counts())
    alive = ds.sel(cell=(ds.label == "alive").values)
    print(f"mean intensity of alive patches: {float(alive.patches.mean()):.1f}")
    print(inspect_store(store))
    contact_sheet(store, args.out / "sheet.png", size)
    print(f"wrote {args.out / 'sheet.png'}")


if __name__ == "__main__":
    main()
