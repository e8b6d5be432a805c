"""The plan of a store build: its settings, the cells in build order, splits, fingerprint,
and what a run does given the store it finds.

Every executor (the serial builder, the cluster builder) makes the same plan, so
they build the same store byte for byte.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CellConsensusInputError
from ..images import ImageSource, as_image_source
from ..patches import BORDERS, PATCH_COLUMNS
from ..splits import SPLITS, assign_splits, lookalike_groups
from .crop import first_channels
from .layout import default_chunk_size, open_store, store_location

__all__ = [
    "BuildSettings",
    "BuildPlan",
    "prepare_build",
    "resolve_action",
    "append_base",
    "image_units",
    "plan_values",
    "GIVEN_SPLIT",
    "CELL_RENAMES",
]

#: Temporary column carrying a split given as a Series through the plan's sorting.
GIVEN_SPLIT = "_given_split"
#: Cells columns renamed in the store, where x and y are the patch's pixel dimensions.
CELL_RENAMES = {"x": "cell_x", "y": "cell_y"}


@dataclass(frozen=True)
class BuildSettings:
    """How patches are cropped and stored: every argument of a build that changes bytes.

    Examples
    --------
    >>> BuildSettings(sizes=(95,)).as_dict()["border"]
    'reflect'
    """

    sizes: tuple[int, ...]
    border: str = "reflect"
    channels: Any = "auto"
    fill: int = 0
    min_contrast: float | None = None
    chunk_size: int | None = None
    clevel: int = 3
    on_error: str = "raise"

    @classmethod
    def of(cls, sizes, **options: Any) -> BuildSettings:
        """Settings from a build's arguments, validated (sizes sorted and made unique)."""
        sizes = sorted(
            {int(s) for s in ([sizes] if isinstance(sizes, int | np.integer) else sizes)}
        )
        if not sizes or min(sizes) < 1:
            raise ValueError(f"sizes must be positive integers, got {sizes}")
        settings = cls(sizes=tuple(sizes), **options)
        if settings.border not in BORDERS:
            raise ValueError(f"border must be one of {BORDERS}, got {settings.border!r}")
        if settings.channels not in ("auto", 1, 3):
            raise ValueError(f"channels must be 'auto', 1 or 3, got {settings.channels!r}")
        if settings.on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {settings.on_error!r}")
        return settings

    def as_dict(self) -> dict:
        """As recorded in the store's attributes (sizes as a list)."""
        return {**asdict(self), "sizes": list(self.sizes)}

    def crop(self, channels: int) -> dict:
        """The cropping keywords of :func:`~cellconsensus.store.crop.crop_images`."""
        return {
            "border": self.border,
            "channels": channels,
            "fill": self.fill,
            "min_contrast": self.min_contrast,
        }


def _plan_table(cells: pd.DataFrame) -> pd.DataFrame:
    """Cells in the fixed build order, with plain column types."""
    missing = {"image_id", "x", "y"} - set(cells.columns)
    if missing:
        raise CellConsensusInputError(
            f"cells lack column(s) {', '.join(sorted(missing))}", source="<cells>"
        )
    reserved = {"split", "group", *PATCH_COLUMNS} & set(cells.columns)
    table = cells.drop(columns=list(reserved)).reset_index(drop=True)
    # x and y name the patches' pixel dimensions: the cell's position is cell_x, cell_y.
    table = table.rename(columns=CELL_RENAMES)
    table.attrs = {}
    for column in table.columns:
        dtype = table[column].dtype
        if isinstance(dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
        ):
            table[column] = table[column].astype(str).astype(object)
    keys = ["image_id", "cell_id"] if "cell_id" in table else ["image_id", "cell_y", "cell_x"]
    return table.sort_values(keys, kind="stable", ignore_index=True)


def sha256_table(table: pd.DataFrame) -> str:
    """Digest of a table's columns, dtypes and values."""
    digest = hashlib.sha256(repr([(str(c), str(table[c].dtype)) for c in table.columns]).encode())
    digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _sha256_text(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _split_groups(plan, groups, source) -> pd.Series:
    """Split group of every cell."""
    if groups is None or groups == "image":
        return plan["image_id"].astype(object)
    if isinstance(groups, str):
        if groups != "lookalike":
            raise ValueError(
                f"groups must be 'image', 'lookalike', a Series or a dict, got {groups!r}"
            )
        mapping = lookalike_groups(source, list(pd.unique(plan["image_id"])))
    else:
        mapping = groups
    mapping = mapping if isinstance(mapping, dict) else pd.Series(mapping).to_dict()
    return plan["image_id"].map(lambda i: str(mapping.get(i, i))).astype(object)


def _splits(plan, split, fractions, groups, seed, source, existing) -> tuple[pd.Series, pd.Series]:
    group = _split_groups(plan, groups, source)
    if split is None:
        values = pd.Series("train", index=plan.index)
    elif split == "auto":
        stratify = "label" if "label" in plan.columns else None
        values = assign_splits(
            plan.assign(image_id=group),
            fractions,
            stratify=stratify,
            seed=seed,
            existing=existing,
        ).astype(str)
    elif split in plan.columns:
        values = plan[split].astype(str)
    else:
        raise ValueError(
            f"split must be 'auto', None, a Series or a column of cells, got {split!r}"
        )
    bad = ~values.isin(SPLITS)
    if bad.any():
        raise CellConsensusInputError(
            f"unknown split {values[bad].iloc[0]!r}; expected one of {', '.join(SPLITS)}",
            source="<cells>",
            field="split",
        )
    return values.astype(object), group


@dataclass(frozen=True)
class BuildPlan:
    """What every executor derives from a build's arguments, before looking at the store.

    Attributes
    ----------
    settings : BuildSettings
    source : ImageSource
    zstore, location
        The zarr store and how it is named in messages.
    given : DataFrame
        The cells as given (their provenance and digest are recorded).
    cells : DataFrame
        The cells in build order (by image, then cell), without splits yet.
    split, fractions, groups, seed
        How splits are assigned (:meth:`assign`).
    cells_sha256 : str
        Digest of the given cells.
    """

    settings: BuildSettings
    source: ImageSource
    zstore: Any
    location: str
    given: pd.DataFrame
    cells: pd.DataFrame
    split: Any
    fractions: tuple[float, float, float]
    groups: Any
    seed: int
    cells_sha256: str

    def assign(
        self, base: dict | None = None, fixed: pd.Series | None = None
    ) -> tuple[pd.DataFrame, str]:
        """The plan table with ``split`` and ``group``, and the build's fingerprint.

        With a ``base`` (an append), the cells of images the store holds are left out and
        ``fixed`` (the stored groups' splits) continues the stratification.
        """
        plan = self.cells
        if base:
            plan = plan[~plan["image_id"].isin(set(base["images"]))].reset_index(drop=True)
        values, group = _splits(
            plan, self.split, self.fractions, self.groups, self.seed, self.source, fixed
        )
        plan = plan.assign(split=values, group=group).drop(columns=[GIVEN_SPLIT], errors="ignore")
        fingerprint = _sha256_text(
            base["fingerprint"] if base else None,
            sha256_table(plan),
            sorted(self.settings.as_dict().items()),
        )
        return plan, fingerprint

    def channels_and_chunk(self, existing: dict | None, image_order: list[str]) -> tuple[int, int]:
        """The store's channels (recorded by an earlier run, given, or the first readable
        image's) and its patches per chunk (given, or about 4 MiB)."""
        given = self.settings.channels if self.settings.channels != "auto" else None
        channels = (existing or {}).get("channels") or given
        if channels is None:
            channels = first_channels(self.source, image_order, self.settings.on_error)
        chunk = self.settings.chunk_size or default_chunk_size(max(self.settings.sizes), channels)
        return channels, chunk

    @property
    def split_method(self) -> Any:
        """The split as recorded in the provenance."""
        return "given" if self.split == GIVEN_SPLIT else self.split


def prepare_build(
    cells: pd.DataFrame,
    images,
    store,
    settings: BuildSettings,
    *,
    split: Any = "auto",
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    groups: Any = None,
    seed: int = 0,
    storage_options: dict | None = None,
) -> BuildPlan:
    """Validate a build's arguments and make its plan (cells in build order, without splits).

    Examples
    --------
    >>> cells = pd.DataFrame({"image_id": ["b", "a"], "x": [1.0, 2.0], "y": [1.0, 2.0]})
    >>> plan = prepare_build(cells, {}, "memory://plan.zarr", BuildSettings.of([32]))
    >>> plan.cells["image_id"].tolist(), list(plan.cells.columns)
    (['a', 'b'], ['image_id', 'cell_x', 'cell_y'])
    """
    given = cells
    given_plan = _plan_table(given)
    if isinstance(split, pd.Series):
        # Align by index, then carry the values through the plan's sorting as a column.
        aligned = split.reindex(cells.index)
        if aligned.isna().any():
            raise ValueError("split has no value for some cells (align it with cells' index)")
        cells = cells.assign(**{GIVEN_SPLIT: aligned.astype(str).to_numpy()})
        split = GIVEN_SPLIT
    return BuildPlan(
        settings=settings,
        source=as_image_source(images),
        zstore=open_store(store, storage_options),
        location=store_location(store),
        given=given,
        cells=given_plan if cells is given else _plan_table(cells),
        split=split,
        fractions=tuple(fractions),
        groups=groups,
        seed=seed,
        cells_sha256=sha256_table(given_plan),
    )


def append_base(existing: dict, sizes: list[int], location: str) -> dict:
    """The state an append starts from: the store's fingerprint and images (kept in the
    root attributes while the append runs, so an interrupted append resumes)."""
    if existing.get("complete"):
        base = {
            "fingerprint": existing["fingerprint"],
            "images": sorted(existing.get("image_sha256", {})),
        }
    elif existing.get("base"):
        base = existing["base"]
    else:
        raise CellConsensusInputError(
            "cannot append to an interrupted build; finish it first with mode='auto'",
            source=location,
        )
    stored = existing.get("settings", {}).get("sizes")
    if stored != list(sizes):
        raise CellConsensusInputError(
            f"the store holds sizes {stored}; append with the same", source=location
        )
    return base


def resolve_action(
    existing: dict | None,
    fingerprint: str,
    *,
    mode: str,
    location: str,
    base: dict | None = None,
    n_planned: int = 1,
    parallel: bool = False,
) -> tuple[str, bool]:
    """What a run does, and whether it resumes: ``built``, ``resumed``, ``appended`` or
    ``up to date``.

    ``existing`` is the store's root attributes (``None``: no store, or ``mode="w"``).
    A store built from other inputs is an error under ``mode="auto"``; an executor
    resumes only its own kind of interrupted build (``parallel``).

    Examples
    --------
    >>> resolve_action(None, "f", mode="auto", location="s.zarr")
    ('built', False)
    >>> resolve_action({"fingerprint": "f", "complete": False}, "f", mode="auto", location="s.zarr")
    ('resumed', True)
    """
    if existing is None:
        return "built", False
    same = existing.get("fingerprint") == fingerprint
    if (same and existing.get("complete")) or (base and not n_planned):
        return "up to date", False
    if not same and mode == "auto":
        hint = "pass mode='w' (command line: --mode w) to rebuild it" + (
            "" if parallel else " or mode='a' (--mode a) to add images"
        )
        raise CellConsensusInputError(
            f"the store exists and was built from other cells, images or settings; {hint}",
            source=location,
        )
    if parallel and not existing.get("parallel"):
        raise CellConsensusInputError(
            "an interrupted serial build: finish it with cellconsensus.store.write_patches "
            "or rebuild with mode='w' (command line: --mode w)",
            source=location,
        )
    if base:
        return "appended", same
    return ("resumed", True) if same else ("built", False)


def image_units(plan: pd.DataFrame) -> tuple[list[tuple[str, tuple]], np.ndarray]:
    """The plan's images in order, each with its cells' x and y, and each image's first row.

    The plan is sorted by image, so each image's cells are one contiguous run of rows.
    """
    ids = plan["image_id"].to_numpy()
    x, y = plan["cell_x"].to_numpy(float), plan["cell_y"].to_numpy(float)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(ids)].astype(int)[: len(starts)]
    units = [(str(ids[a]), (x[a:b], y[a:b])) for a, b in zip(starts, ends, strict=True)]
    return units, starts


def plan_values(plan: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    """The plan's columns at ``rows``, typed as the store's coordinates."""
    out = {}
    for column, values in plan.items():
        taken = values[rows]
        out[column] = taken.astype(np.dtypes.StringDType()) if taken.dtype == object else taken
    return out
