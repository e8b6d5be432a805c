"""Exceptions raised by cellconsensus."""

from __future__ import annotations

__all__ = ["CellConsensusInputError"]


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
