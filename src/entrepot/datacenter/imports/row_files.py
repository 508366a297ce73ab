"""The finished and pending row files, derived from the source and the bookkeeping rows.

Both files are a pure function of the unchanged source file and what the
committed chunks recorded (each failed row's problems, the rows holding a
cell a spreadsheet would run), so an interrupted import can always write
them again and get the same bytes.  Cells a spreadsheet would run get the
apostrophe of :mod:`entrepot.datacenter.formulas`; every other line of the
finished file is the source's own (with CR LF line ends).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import itertools
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import IO, Any

from entrepot.datacenter.csvfiles import (
    ERRORS_COLUMN,
    OWN_FILES_FIELD_LIMIT,
    atomic_writer,
    atomic_writer_binary,
    copy_from,
    field_limit,
    open_file,
    open_text,
)
from entrepot.datacenter.formulas import row_forms


def split_source(
    source: Path,
    encoding: str,
    errors: dict[int, str],
    finished_path: Path,
    pending_path: Path,
    *,
    formula_rows: AbstractSet[int] = frozenset(),
) -> None:
    """Write the imported rows to ``finished_path`` and the failed ones to ``pending_path``.

    ``errors`` maps data row indexes to their problems, ``formula_rows``
    lists the rows whose cells need the apostrophe (failed rows always get
    it where needed).  The header is the source's, without a pending file's
    old ``--ERRORS--`` column; failed rows get the new problems in a last
    ``--ERRORS--`` column.  Rows are written as ``csv.writer`` writes them
    (CR LF line ends, quotes only where needed).
    """
    pending_path.unlink(missing_ok=True)
    if not errors and not formula_rows and copy_as_is(source, encoding, finished_path):
        return
    # The import read every cell within its limit already.
    field_limit(OWN_FILES_FIELD_LIMIT)
    with open_text(source, encoding) as handle:
        records = Records(handle)
        first = records.next_line()
        header = records.parse(first) if first is not None else []
        drop = header.index(ERRORS_COLUMN) if ERRORS_COLUMN in header else None
        if drop is not None:
            header = header[:drop] + header[drop + 1 :]
        with atomic_writer(finished_path) as finished_out, contextlib.ExitStack() as stack:
            finished = csv.writer(finished_out)
            finished.writerow(header)
            pending: Any = None
            if errors:
                pending = csv.writer(stack.enter_context(atomic_writer(pending_path)))
                pending.writerow([*header, ERRORS_COLUMN])
            ready: list[str] = []
            for index in itertools.count():
                line = records.next_line()
                if line is None:
                    break
                problem = errors.get(index)
                if problem is not None:
                    pending.writerow([*row_forms(_without(records.parse(line), drop)), problem])
                    continue
                if index in formula_rows:
                    finished_out.writelines(ready)
                    ready.clear()
                    finished.writerow(row_forms(_without(records.parse(line), drop)))
                elif drop is None and records.is_plain(line):
                    # What csv.writer would write for the cells of this line.
                    ready.append(line.rstrip("\r\n") + "\r\n")
                    if len(ready) >= 4096:
                        finished_out.writelines(ready)
                        ready.clear()
                else:
                    finished_out.writelines(ready)
                    ready.clear()
                    finished.writerow(_without(records.parse(line), drop))
            finished_out.writelines(ready)


class Records:
    """The records of a CSV text, line by line where a line is a record.

    A line without a quote (or a NUL) is one record whose cells are its
    text split at the commas, and ``csv.writer`` writes those cells back as
    the same text: such lines need no parsing.  Any other line starts a
    record that the ``csv`` module reads, with the lines it spans.
    """

    def __init__(self, handle: IO[str]) -> None:
        # Lines as csv.reader sees them: ended by LF, CR LF or a lone CR.
        self.lines = iter(handle.readline, "")

    def next_line(self) -> str | None:
        return next(self.lines, None)

    @staticmethod
    def is_plain(line: str) -> bool:
        return '"' not in line and "\0" not in line

    def parse(self, line: str) -> list[str]:
        """The cells of the record that starts with ``line``."""
        return next(csv.reader(itertools.chain([line], self.lines)), [])


def copy_as_is(source: Path, encoding: str, finished_path: Path) -> bool:
    """Every row imported from a plain UTF-8 file: the finished rows are its bytes."""
    if encoding.replace("_", "-").lower() not in {"utf-8", "utf8", "utf-8-sig"}:
        return False
    if source.name.lower().endswith(".gz"):
        return False
    with open_file(source) as src:
        first = src.readline()
        if ERRORS_COLUMN.encode() in first:
            return False
        start = 3 if first.startswith(codecs.BOM_UTF8) else 0
        with atomic_writer_binary(finished_path) as out:
            copy_from(src, start, out)
    return True


def _without(row: list[str], drop: int | None) -> list[str]:
    if drop is None or drop >= len(row):
        return row
    return row[:drop] + row[drop + 1 :]
