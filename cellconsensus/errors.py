"""Exceptions raised by cellconsensus."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["CellConsensusInputError", "InvalidParameterError", "reading"]


class CellConsensusInputError(ValueError):
    """Bad input: names the file, the row or record and the field at fault.

    Parameters
    ----------
    message : str
        What is wrong, in words.
    source : str, optional
        The file (or other source) the bad value came from.
    row : str or int, optional
        Which row, record or click, as the reader counts them (1-based).
    field : str, optional
        The column or key that holds the bad value.

    Examples
    --------
    >>> err = CellConsensusInputError("not a number", source="runs.csv", row=3, field="x")
    >>> str(err)
    "runs.csv, record 3, field 'x': not a number"
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: str | int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.row = row
        self.field = field
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.source is not None:
            where.append(str(self.source))
        if self.row is not None:
            where.append(f"record {self.row}" if isinstance(self.row, int) else str(self.row))
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class InvalidParameterError(ValueError):
    """A parameter a strategy, an aggregator or a function does not accept: an unknown
    name or a value outside its constraints. The command lines report it as one line.

    Examples
    --------
    >>> from cellconsensus.strategies import DBSCANStrategy
    >>> DBSCANStrategy().set_params(radius=20)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    cellconsensus.errors.InvalidParameterError: Invalid parameter 'radius' ...
    """


@contextmanager
def reading(source: str, what: str = "file") -> Iterator[None]:
    """Turn the operating system's errors of opening ``source`` into a
    :class:`CellConsensusInputError` naming it (a missing file, a folder given as a file,
    no permission, ...).

    Examples
    --------
    >>> with reading("nope.csv"):  # doctest: +IGNORE_EXCEPTION_DETAIL
    ...     open("nope.csv")
    Traceback (most recent call last):
    cellconsensus.errors.CellConsensusInputError: nope.csv: file not found
    """
    try:
        yield
    except FileNotFoundError:
        raise CellConsensusInputError(f"{what} not found", source=str(source)) from None
    except IsADirectoryError:
        raise CellConsensusInputError("a folder, not a file", source=str(source)) from None
    except OSError as exc:
        raise CellConsensusInputError(
            f"cannot read the {what}: {exc.strerror or exc}", source=str(source)
        ) from None
