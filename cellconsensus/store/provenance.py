"""The finish stage: what a store records of how it was made, then ``complete``."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pandas as pd

from ..errors import CellConsensusInputError
from ..tables.cells import cells_vocabulary
from .integrity import record_checksums
from .layout import FORMAT, FORMAT_VERSION, set_root
from .plan import BuildPlan

__all__ = ["started_record", "label_set", "store_provenance", "finish_build", "now"]


def now() -> str:
    """The time stamps a store records (UTC, to the second)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def started_record(
    existing: dict | None, fingerprint: str, settings: dict, base: dict | None, **extra
) -> dict:
    """The root attributes while a build runs: ``complete`` false first, so no reader
    mistakes a store being written for a finished one."""
    attrs = dict(existing) if existing else {}
    attrs.update(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        complete=False,
        fingerprint=fingerprint,
        settings=settings,
        base=base,
        **extra,
    )
    return attrs


def label_set(cells: pd.DataFrame) -> dict | None:
    """The label set a store's cells carry (``classes`` in order and the ``unsure``
    answer, :func:`~cellconsensus.tables.cells_vocabulary`), or None for cells without
    labels (or with labels that make no label set, such as one class only).

    Examples
    --------
    >>> label_set(pd.DataFrame({"label": ["alive", "dead"], "p_alive": [0.9, 0.1]}))
    {'classes': ['alive', 'dead'], 'unsure': 'unsure'}
    """
    if "label" not in cells.columns:
        return None
    try:
        vocabulary = cells_vocabulary(cells)
    except CellConsensusInputError:
        return None
    return {"classes": list(vocabulary.classes), "unsure": vocabulary.unsure}


def store_provenance(
    plan: BuildPlan, digests: dict[str, str], extra: dict | None, previous: dict | None
) -> dict:
    """The provenance record: library, consensus (the cells' own), inputs with digests, crop
    settings, split method, and the record of the build before (an append's base).

    Examples
    --------
    >>> import pandas as pd
    >>> from cellconsensus.store.plan import BuildSettings, prepare_build
    >>> cells = pd.DataFrame({"image_id": ["a"], "x": [1.0], "y": [1.0]})
    >>> plan = prepare_build(cells, {}, "memory://p.zarr", BuildSettings.of([32]))
    >>> store_provenance(plan, {"a": "00"}, None, None)["inputs"]["cells"]["n_cells"]
    1
    """
    from .. import __version__

    combined = hashlib.sha256(
        "".join(f"{k}:{v}\n" for k, v in sorted(digests.items())).encode()
    ).hexdigest()
    settings, cells = plan.settings.as_dict(), plan.given
    record = {
        "library": {"name": "cellconsensus", "version": __version__},
        "consensus": dict(cells.attrs.get("provenance") or {}),
        "inputs": {
            "cells": {
                "sha256": plan.cells_sha256,
                "n_cells": len(cells),
                "columns": [str(c) for c in cells.columns],
            },
            "images": {"source": repr(plan.source), "n_images": len(digests), "sha256": combined},
        },
        "labels": label_set(cells),
        "crop": {k: settings[k] for k in ("sizes", "border", "channels", "fill", "min_contrast")},
        "split": {
            "method": plan.split_method,
            "fractions": list(plan.fractions),
            "seed": plan.seed,
            "groups": plan.groups
            if isinstance(plan.groups, str) or plan.groups is None
            else "given",
        },
    }
    record["consensus"].update(extra or {})
    if previous:
        record["previous"] = previous
    return record


def finish_build(
    plan: BuildPlan,
    attrs: dict,
    digests: dict[str, str],
    n_cells: int,
    n_images: int,
    base: dict | None,
    extra: dict | None,
) -> None:
    """Record history, provenance and every chunk's checksum, then mark the store complete
    (the last write)."""
    history = list(attrs.get("history") or [])
    history.append(
        {
            "action": "append" if base else "build",
            "cells_sha256": plan.cells_sha256,
            "n_cells": n_cells,
            "n_images": n_images,
            "at": now(),
        }
    )
    attrs.update(
        complete=True,
        base=None,
        updated=now(),
        image_sha256=digests,
        history=history,
        provenance=store_provenance(plan, digests, extra, attrs.get("provenance")),
    )
    record_checksums(plan.zstore, list(plan.settings.sizes))
    set_root(plan.zstore, attrs)
