"""CSV backups of rows that leave a table: ``deleted/`` and ``graduated/``.

Rows removed by an import in ``remove`` mode, and rows moved out by
``retire``, are first appended to ``<folder>/<table>.csv`` with a last
column ``del_date`` (UTC), so nothing removed is ever lost and a backup can
be imported again as it is (texts a spreadsheet would run as formulas are
written with an apostrophe, which an import drops again: see
:mod:`entrepot.datacenter.formulas`).

The append happens inside the database transaction that deletes the rows,
and the ledger table ``dc_backup_files`` records how many bytes of each
backup belong to committed transactions.  A crash before the commit leaves
extra bytes at the end of the file; the next append cuts them off first.
So the backup holds every deleted row exactly once, whatever happens.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from entrepot.datacenter.csvfiles import OUTPUT_ENCODING
from entrepot.datacenter.database import Database
from entrepot.datacenter.formulas import escape
from entrepot.durable import fsync_dir

DEL_DATE = "del_date"


def cell_text(value: Any) -> str:
    """A stored value written back as the CSV text the importer accepts."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def utc_stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S+00:00")


def _first_line(path: Path) -> list[str]:
    with open(path, encoding=OUTPUT_ENCODING, newline="", errors="replace") as handle:
        return next(csv.reader(handle), [])


def append_backup(
    db: Database,
    conn: Connection,
    folder: Path,
    table_name: str,
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any]],
    *,
    now: datetime | None = None,
) -> Path:
    """Append ``rows`` to the backup of ``table_name`` within ``conn``'s transaction.

    Must be called before the rows are deleted and before the commit.
    """
    header = [*columns, DEL_DATE]
    stamp = utc_stamp(now)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([*(escape(cell_text(row[name])) for name in columns), stamp])
    data = buffer.getvalue().encode(OUTPUT_ENCODING)

    number = 1
    while True:
        name = f"{table_name}.csv" if number == 1 else f"{table_name}.{number}.csv"
        path = folder / name
        committed = _committed_length(db, conn, path)
        if committed == 0 or _first_line(path) == header:
            break
        # The table's columns changed since this backup began: start another.
        number += 1

    with open(path, "a+b") as handle:
        handle.truncate(committed)
        handle.seek(committed)
        if committed == 0:
            head = io.StringIO()
            csv.writer(head).writerow(header)
            handle.write(head.getvalue().encode(OUTPUT_ENCODING))
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
        length = handle.tell()
    fsync_dir(folder)
    conn.execute(update(db.backups).where(db.backups.c.path == str(path)).values(length=length))
    return path


def _committed_length(db: Database, conn: Connection, path: Path) -> int:
    query = select(db.backups.c.length).where(db.backups.c.path == str(path))
    if db.is_postgres:
        query = query.with_for_update()
    length = conn.execute(query).scalar_one_or_none()
    if length is None:
        conn.execute(insert(db.backups).values(path=str(path), length=0))
        return 0
    # A backup deleted by hand starts again from its header.
    if not path.exists():
        return 0
    return min(int(length), path.stat().st_size)
