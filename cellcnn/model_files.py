"""A model folder on disk: a Keras file and its JSON record, written so that a folder
with the record is complete and read back with errors that name the file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras

from cellconsensus.errors import CellConsensusInputError
from cellconsensus.io._files import atomic_write

__all__ = ["load_model_folder", "read_record", "save_model_folder"]


def read_record(folder: str | os.PathLike, record_file: str, *, kind: str) -> dict:
    """The JSON record of a model folder, without loading its network.

    Raises
    ------
    CellConsensusInputError
        Naming the file: missing (not a finished ``kind``) or not JSON.
    """
    record = Path(folder) / record_file
    if not record.is_file():
        raise CellConsensusInputError(
            f"{record.name} missing: not a finished {kind}", source=str(folder)
        )
    try:
        return json.loads(record.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise CellConsensusInputError(f"not a readable record: {exc}", source=str(record)) from None


def load_model_folder(
    folder: str | os.PathLike,
    model_file: str,
    record_file: str,
    *,
    kind: str,
    custom_objects: dict,
    compile: bool = True,
) -> tuple[keras.Model, dict]:
    """The network and the record of a model folder.

    Raises
    ------
    CellConsensusInputError
        Naming the file: a missing file (not a finished ``kind``), a record that is not
        JSON, a network Keras cannot load (truncated, from another program).
    """
    path = Path(folder) / model_file
    if not path.is_file():
        raise CellConsensusInputError(
            f"{path.name} missing: not a finished {kind}", source=str(folder)
        )
    meta = read_record(folder, record_file, kind=kind)
    try:
        net = keras.saving.load_model(path, custom_objects=custom_objects, compile=compile)
    except Exception as exc:  # Keras raises anything from a damaged file: name the file
        raise CellConsensusInputError(
            f"cannot load the model ({type(exc).__name__}: {str(exc)[:200]})", source=str(path)
        ) from None
    return net, meta


def save_model_folder(
    folder: str | os.PathLike, net: keras.Model, record: dict, model_file: str, record_file: str
) -> Path:
    """Write the network, then the record (atomically, last): an interrupted save leaves
    a folder without a record, never a record beside another network."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / record_file).unlink(missing_ok=True)
    partial = out / f".partial.{model_file}"
    net.save(partial)
    os.replace(partial, out / model_file)
    atomic_write(out / record_file,
                 lambda p: Path(p).write_text(json.dumps(record, indent=2, default=str)))  # fmt: skip
    return out
