"""A reproducible run from a configuration file: read, consensus, report, patches.

``cellconsensus run pipeline.toml`` (or :func:`run_pipeline`) runs the steps a
TOML file names, each section holding the keyword arguments of one library
function, so a config accepts exactly what the Python API accepts:

- ``[input]``: :func:`~cellconsensus.io.read_export` (``path`` is the export);
- ``[consensus]``: :func:`~cellconsensus.find_consensus` (``strategy``, ``labels``,
  ``params``, ``min_support``, ...);
- ``[report]`` (optional): :func:`~cellconsensus.report.write_report` (``truth`` a
  path read with :func:`~cellconsensus.io.read_truth`);
- ``[patches]`` (optional): :func:`~cellconsensus.store.write_patches` (``images``
  the image folder, ``sizes`` ...);
- ``[output]``: ``dir``, the folder every output goes to.

Relative paths are relative to the configuration file, so a config and its data
travel together. The output folder receives ``cells.parquet``,
``assignments.parquet``, ``report/`` and ``patches.zarr`` as configured,
``config.toml``: the configuration as run with every default written out and
every path absolute (``cellconsensus run out/config.toml`` replays the run), and
``run.json``: that configuration, the strategy as resolved (e.g. ``eps="auto"`` ->
the estimated value), the SHA-256 of every input file, the versions of the
libraries and what was written. Every step is
deterministic, so the same config on the same inputs gives the same cells;
``run.json`` says whether the inputs are still the same. An unknown section or
key is an error naming the file, the section and the key.

Examples
--------
>>> print(example_config().splitlines()[0])
# cellconsensus run: a reproducible pipeline (relative paths: from this file's folder)
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import platform
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, defaults
from .consensus import find_consensus
from .errors import CellConsensusInputError
from .io import atomic_write, read_export, read_truth, write_cells, write_table

__all__ = [
    "load_config",
    "resolved_config",
    "run_pipeline",
    "example_config",
    "to_toml",
    "SECTIONS",
    "REPLAY",
]

logger = logging.getLogger(__name__)


#: Each section, and the keywords of its function a config may not set (the pipeline
#: sets them: the input table, where outputs go, clusters, progress).
SECTIONS: dict[str, frozenset[str]] = {
    "input": frozenset(),
    "consensus": frozenset(
        {"clicks", "runs", "client", "output", "npartitions", "overwrite", "progress"}
    ),
    "report": frozenset({"clicks", "out", "progress", "sections", "consensus"}),
    "patches": frozenset(
        {"cells", "store", "client", "progress", "provenance", "storage_options", "split"}
    ),
    "output": frozenset(),
}
#: Keys that are paths (resolved from the config file's folder).
PATH_KEYS = {
    "input": ("path", "tasks"),
    "report": ("images", "truth"),
    "patches": ("images",),
    "output": ("dir",),
}


def _target(section: str) -> Callable[..., Any]:
    """The function a section's keys are keywords of (report and store imported when used:
    matplotlib, zarr)."""
    if section == "report":
        from .report import write_report

        return write_report
    if section == "patches":
        from .store import write_patches

        return write_patches
    return {"input": read_export, "consensus": find_consensus}[section]


def _allowed(section: str) -> set[str]:
    """The keys a section accepts: its function's parameters but those the pipeline sets."""
    if section == "output":
        return {"dir", "assignments"}
    signature = inspect.signature(_target(section))
    names = {
        name
        for name, p in signature.parameters.items()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    return names - SECTIONS[section]


def load_config(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Read and check a pipeline configuration; paths come back absolute.

    Raises
    ------
    CellConsensusInputError
        Naming the file: not TOML, an unknown section or key, no ``[input] path``,
        ``[patches]`` without ``images``, a section that is not a table.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "run.toml").write_text('[input]\\npath = "clicks.csv"\\n')
    >>> load_config(folder / "run.toml")["input"]["path"] == str(folder / "clicks.csv")
    True
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise CellConsensusInputError("no such configuration file", source=str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CellConsensusInputError(f"not a TOML file: {exc}", source=str(path)) from None
    config: dict[str, dict[str, Any]] = {}
    for section, table in raw.items():
        if section not in SECTIONS:
            raise CellConsensusInputError(
                f"unknown section [{section}]; known: {', '.join(f'[{s}]' for s in SECTIONS)}",
                source=str(path),
            )
        if not isinstance(table, dict):
            raise CellConsensusInputError(f"[{section}] must be a table", source=str(path))
        allowed = _allowed(section)
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise CellConsensusInputError(
                f"unknown key {unknown[0]!r} in [{section}]; known: {', '.join(sorted(allowed))}",
                source=str(path),
            )
        for key in PATH_KEYS.get(section, ()):
            if key in table and not isinstance(table[key], str):
                raise CellConsensusInputError(
                    f"[{section}] {key} must be a path (text), got {table[key]!r}",
                    source=str(path),
                )
        config[section] = {
            key: str((path.parent / value).resolve())
            if key in PATH_KEYS.get(section, ()) else value
            for key, value in table.items()
        }  # fmt: skip
    if "path" not in config.get("input", {}):
        raise CellConsensusInputError(
            "[input] path (the crowd export) is required", source=str(path)
        )
    if "patches" in config and "images" not in config["patches"]:
        raise CellConsensusInputError(
            "[patches] images (the image folder) is required", source=str(path)
        )
    config.setdefault("consensus", {})
    config.setdefault("output", {}).setdefault(
        "dir", str((path.parent / f"{path.stem}-output").resolve())
    )
    return config


#: The replayable configuration a run writes into its output folder.
REPLAY = "config.toml"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if np.isfinite(value) else ("nan" if np.isnan(value) else
                                                        ("inf" if value > 0 else "-inf"))  # fmt: skip
    if isinstance(value, str | os.PathLike):
        return json.dumps(str(value))  # a TOML basic string (JSON's escapes are TOML's)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        items = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML: {value!r}")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def to_toml(config: dict[str, dict[str, Any]], header: str = "") -> str:
    """A configuration as TOML (``None`` values left out: they are the defaults).

    Examples
    --------
    >>> print(to_toml({"consensus": {"params": {"eps": 9.5}, "support_rule": None}}))
    [consensus]
    params = { eps = 9.5 }
    <BLANKLINE>
    """
    lines = [header] if header else []
    for section, table in config.items():
        lines.append(f"[{section}]")
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items() if v is not None]
        lines.append("")
    return "\n".join(lines)


def resolved_config(config: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The configuration with every default of each section's function filled in.

    Examples
    --------
    >>> resolved_config({"input": {"path": "x.csv"}, "consensus": {}})["consensus"]["labels"]
    'dawid-skene'
    """
    out: dict[str, dict[str, Any]] = {}
    for section, given in config.items():
        if section == "output":
            out[section] = {"assignments": True, **given}
            continue
        allowed = _allowed(section)
        signature = inspect.signature(_target(section))
        filled = {name: p.default for name, p in signature.parameters.items()
                  if name in allowed and p.default is not p.empty}  # fmt: skip
        out[section] = {**filled, **given}
    return out


def _sha256(path: str) -> str | None:
    file = Path(path)
    if not file.is_file():
        return None
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "cellconsensus": __version__}
    for name in ("numpy", "pandas", "scikit-learn", "scipy", "zarr"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def run_pipeline(
    config: str | os.PathLike | dict[str, dict[str, Any]], *, progress: bool = False
) -> dict[str, Any]:
    """Run the steps of a pipeline configuration (see the module docstring).

    Parameters
    ----------
    config : path-like or dict
        A TOML file, or what :func:`load_config` returns.
    progress : bool, default False
        Progress bars.

    Returns
    -------
    dict
        The record written to ``<output dir>/run.json``: ``config``, ``strategy``
        (as resolved), ``inputs`` (SHA-256 per file), ``versions``, ``outputs``
        (paths) and ``counts``.

    Examples
    --------
    >>> run_pipeline("pipeline.toml")["outputs"]["cells"]  # doctest: +SKIP
    '/data/pipeline-output/cells.parquet'
    """
    if not isinstance(config, dict):
        config = load_config(config)
    out = Path(config["output"]["dir"])
    out.mkdir(parents=True, exist_ok=True)
    source = dict(config["input"])
    clicks = read_export(source.pop("path"), **source)
    consensus = {"progress": progress, **config["consensus"]}
    result = find_consensus(clicks, **consensus)
    outputs = {"cells": str(write_cells(result.cells, out / "cells.parquet"))}
    if config["output"].get("assignments", True):
        outputs["assignments"] = str(write_table(result.assignments, out / "assignments.parquet"))
    counts = {"clicks": len(clicks), "cells": len(result.cells)}
    if "report" in config:
        options = dict(config["report"])
        if isinstance(options.get("truth"), str):
            options["truth"] = read_truth(options["truth"])
        index = _target("report")(clicks, out / "report", consensus=result, progress=progress,
                              **options)  # fmt: skip
        outputs["report"] = str(index)
    if "patches" in config:
        options = dict(config["patches"])
        images = options.pop("images")
        if "fractions" in options:
            options["fractions"] = tuple(options["fractions"])
        store = out / "patches.zarr"
        built = _target("patches")(result.cells, images, store, progress=progress,
                               provenance={"config": config}, **options)  # fmt: skip
        outputs["patches"] = str(store)
        counts["patches"] = {str(s): r["n_patches"] for s, r in built.sizes.items()}
    files = [config["input"]["path"], config["input"].get("tasks")]
    record = {
        "config": resolved_config(config),
        "strategy": repr(result.strategy),
        "labels": repr(result.aggregator),
        "inputs": {f: _sha256(f) for f in files if f},
        "versions": _versions(),
        "outputs": outputs,
        "counts": counts,
    }
    text = json.dumps(record, indent=2, default=str)
    replay = to_toml(record["config"], f"# cellconsensus {__version__}: `cellconsensus run "
                     f"{out / REPLAY}` replays this run (every default written out)")  # fmt: skip
    atomic_write(out / REPLAY, lambda tmp: Path(tmp).write_text(replay))
    atomic_write(out / "run.json", lambda tmp: Path(tmp).write_text(text))
    logger.info("pipeline done: %s", outputs)
    return record


def example_config(export: str = "task_runs.csv") -> str:
    """A commented configuration to start from (``cellconsensus run --example``).

    Every value shown is the library's default; the optional sections are there
    to uncomment.

    Examples
    --------
    >>> "[consensus]" in example_config()
    True
    """
    return f"""\
# cellconsensus run: a reproducible pipeline (relative paths: from this file's folder)
# Each section holds keyword arguments of one function; values shown are the defaults.

[input]                       # cellconsensus.io.read_export
path = "{export}"
format = "auto"               # auto, cellspotting, pybossa, zooniverse, clicks
# tasks = "tasks.json"        # PyBossa task list: each task's image
# canvas = [1024, 1024]       # image size in px, when the export does not give it
out_of_canvas = "clip"        # clip, drop or raise

[consensus]                   # cellconsensus.find_consensus
strategy = "{defaults.STRATEGY}"
labels = "{defaults.LABELS}"
params = {{}}                   # e.g. {{ eps = "auto" }}
min_support = {defaults.MIN_SUPPORT}
min_annotators = {defaults.MIN_ANNOTATORS}
n_jobs = 1

[output]
dir = "run-output"            # cells.parquet, assignments.parquet, run.json, ...
assignments = true

# [report]                    # cellconsensus.report.write_report -> <dir>/report/
# images = "images/"
# truth = "annotations/"      # VOC folder or CSV: scores, misses and extras drawn
# max_images = 60

# [patches]                   # cellconsensus.store.write_patches -> <dir>/patches.zarr
# images = "images/"
# sizes = [95]
# fractions = [0.8, 0.1, 0.1]
# seed = 0
"""
