"""Rows as the ``csv`` module reads them, with a quote left open reported, not hidden.

The ``csv`` module reads a quote that is never closed as a cell running to
the end of the file, and says nothing: one row swallows every row after
it.  :class:`RowReader` feeds the module a last line of its own after the
file's text: read as a row of its own, the file ended normally; found at
the end of the last cell, that cell was still open — the row is then
flagged, so the importer reports it as a failed row.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from typing import IO

from entrepot.datacenter.csvfiles import field_limit
from entrepot.errors import ImportFailed

#: The line fed after the text; NUL characters keep it out of real text.
END_LINE = "\x00entrepot:end-of-file\x00"
#: Why a row whose quote is never closed fails.
UNCLOSED = "a quote opened in this row is never closed: the rest of the file is in its last cell"


class RowReader:
    """The rows of a text handle, a chunk at a time, with :attr:`unclosed` set at the end."""

    def __init__(self, handle: IO[str], name: str, *, max_field: int) -> None:
        field_limit(max_field)
        self.name = name
        self.max_field = max_field
        self._reader = csv.reader(itertools.chain(handle, (END_LINE,)))
        #: Whether the last row read ended inside a quoted cell.
        self.unclosed = False

    @property
    def line_num(self) -> int:
        return self._reader.line_num

    def read(self, count: int) -> list[list[str]]:
        """Up to ``count`` rows; fewer (or none) at the end of the file."""
        try:
            rows = list(itertools.islice(self._reader, count))
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise ImportFailed(
                    f"{self.name}: line {self._reader.line_num}: a cell is longer than the limit "
                    f"of {self.max_field:,} characters (max_field) — a quote that is never "
                    "closed? Raise the limit to import the file as it is"
                ) from exc
            raise ImportFailed(f"{self.name}: not readable as CSV: {exc}") from exc
        if rows:
            last = rows[-1]
            if last == [END_LINE]:
                rows.pop()
            elif last and last[-1].endswith(END_LINE):
                last[-1] = last[-1][: -len(END_LINE)]
                self.unclosed = True
        return rows

    def skip(self, count: int, step: int) -> None:
        """Pass over ``count`` rows, ``step`` at a time."""
        while count > 0 and (done := len(self.read(min(count, step)))):
            count -= done

    def chunks(self, size: int) -> Iterator[list[list[str]]]:
        """The remaining rows, ``size`` at a time."""
        while rows := self.read(size):
            yield rows
