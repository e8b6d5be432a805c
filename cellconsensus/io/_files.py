"""File helpers shared by the readers and writers: robust CSV reading, atomic writes."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import CellConsensusInputError, reading


def read_csv_strings(
    source: str, *, required: Sequence[str] = (), nrows: int | None = None
) -> pd.DataFrame:
    """Read a CSV with every column as text; errors name the file (``nrows=0``: the header
    only).

    Examples
    --------
    >>> import io
    >>> read_csv_strings(io.StringIO("a,b\\n1,\\n"), required=["a"]).to_dict("list")
    {'a': ['1'], 'b': ['']}
    """
    try:
        with reading(source):
            table = pd.read_csv(source, dtype=str, keep_default_na=False, nrows=nrows)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CellConsensusInputError(
            f"not a readable CSV file: {exc}", source=str(source)
        ) from None
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise CellConsensusInputError(
            f"missing column(s) {', '.join(missing)}; found {', '.join(map(str, table.columns))}",
            source=str(source),
        )
    return table


def read_json(source: str) -> Any:
    """Load a JSON file; errors name the file, line and column.

    Examples
    --------
    >>> read_json("missing.json")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    cellconsensus.errors.CellConsensusInputError: missing.json: file not found
    """
    try:
        with reading(source), open(source, encoding="utf-8") as fh:
            return json.load(fh)
    except RecursionError:
        raise CellConsensusInputError(
            "JSON nested too deeply to be an export", source=source
        ) from None
    except json.JSONDecodeError as exc:
        raise CellConsensusInputError(
            f"malformed JSON: {exc.msg}",
            source=source,
            row=f"line {exc.lineno}, column {exc.colno}",
        ) from None
    except UnicodeDecodeError as exc:
        raise CellConsensusInputError(f"not UTF-8 text: {exc}", source=source) from None


def _umask() -> int:
    """The process' file-creation mask: from ``/proc`` where there is one (changing the
    mask to read it would race with other threads), else read by setting it back."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def safe_file_name(name: str, *, kind: str = "image_id") -> str:
    """``name`` if it can name a file inside a folder, else a CellConsensusInputError.

    Writers that make one file per image refuse ids with a path separator, ``.``/``..``,
    or a NUL: such an id would write outside its folder (``"../x"``) or nowhere.

    Examples
    --------
    >>> safe_file_name("img_001")
    'img_001'
    >>> safe_file_name("../x")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    cellconsensus.errors.CellConsensusInputError: image_id '../x' cannot name a file ...
    """
    text = str(name)
    if text in ("", ".", "..") or any(c in text for c in ("/", "\\", "\0")):
        raise CellConsensusInputError(
            f"{kind} {text!r} cannot name a file inside the output folder "
            "(a path separator, '.', '..' or NUL)"
        )
    return text


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``path`` atomically.

    A reader never sees a half-written file: either the old file or the new one.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = atomic_write(target, lambda p: pathlib.Path(p).write_text("hi"))
    >>> target.read_text()
    'hi'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        # mkstemp makes 0600 files; the result gets what a plain open() would (the umask's).
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
