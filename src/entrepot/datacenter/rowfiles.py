"""The finished and pending row files, derived from the source and the ledger.

Both files are a pure function of the unchanged source file and the row
errors recorded in the ledger, so an interrupted import can always write
them again and get the same bytes.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from entrepot.datacenter.csvfiles import (
    ERRORS_COLUMN,
    atomic_writer,
    atomic_writer_binary,
    open_text,
)


def split_source(
    source: Path, encoding: str, errors: dict[int, str], finished_path: Path, pending_path: Path
) -> None:
    """Write the imported rows to ``finished_path`` and the failed ones to ``pending_path``.

    ``errors`` maps data row indexes to their problems.  The header is the
    source's, without a pending file's old ``--ERRORS--`` column; failed rows
    get the new problems in a last ``--ERRORS--`` column.
    """
    pending_path.unlink(missing_ok=True)
    if not errors and copy_as_is(source, encoding, finished_path):
        return
    with open_text(source, encoding) as handle:
        reader = csv.reader(handle)
        header = next(reader)
        drop = header.index(ERRORS_COLUMN) if ERRORS_COLUMN in header else None
        if drop is not None:
            header = header[:drop] + header[drop + 1 :]
        with atomic_writer(finished_path) as finished_out:
            finished = csv.writer(finished_out)
            finished.writerow(header)
            if not errors:
                finished.writerows(_rows(reader, None, drop))
                return
            with atomic_writer(pending_path) as pending_out:
                pending = csv.writer(pending_out)
                pending.writerow([*header, ERRORS_COLUMN])
                # The rows between two failed ones go over in one call each.
                position = 0
                for index in sorted(errors):
                    finished.writerows(_rows(reader, index - position, drop))
                    for row in itertools.islice(reader, 1):
                        pending.writerow([*_without(row, drop), errors[index]])
                    position = index + 1
                finished.writerows(_rows(reader, None, drop))


def copy_as_is(source: Path, encoding: str, finished_path: Path) -> bool:
    """Every row imported from a plain UTF-8 file: the finished rows are its bytes."""
    if encoding.replace("_", "-").lower() not in {"utf-8", "utf8", "utf-8-sig"}:
        return False
    if source.name.lower().endswith(".gz"):
        return False
    with open(source, "rb") as src:
        first = src.readline()
        if ERRORS_COLUMN.encode() in first:
            return False
        src.seek(3 if first.startswith(codecs.BOM_UTF8) else 0)
        with atomic_writer_binary(finished_path) as out:
            shutil.copyfileobj(src, out, 1 << 20)
    return True


def _rows(reader: Iterator[list[str]], count: int | None, drop: int | None) -> Iterable[list[str]]:
    """The next ``count`` rows of ``reader`` (all when ``None``), without column ``drop``."""
    rows = itertools.islice(reader, count)
    return rows if drop is None else (_without(row, drop) for row in rows)


def _without(row: list[str], drop: int | None) -> list[str]:
    if drop is None or drop >= len(row):
        return row
    return row[:drop] + row[drop + 1 :]
