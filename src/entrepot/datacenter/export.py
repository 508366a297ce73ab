"""Exporting a table (or the rows a filter selects) to CSV.

The file goes to ``<root>/exports/`` or, for shipping, straight into a
spool's ``new/`` area.  Cells a spreadsheet would run as a formula get a
leading apostrophe (see :mod:`entrepot.datacenter.formulas`) unless that is
switched off; plain numbers such as ``-5`` are left alone, since they are
not formulas.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from entrepot.datacenter.backups import cell_text
from entrepot.datacenter.csvfiles import atomic_writer
from entrepot.datacenter.database import Database
from entrepot.datacenter.filters import parse_filters
from entrepot.datacenter.formulas import escape
from entrepot.datacenter.table_schema import TableSpec
from entrepot.logs import log_event
from entrepot.names import check_name

logger = logging.getLogger(__name__)


def export_name(table: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{table}.export.{stamp}.csv"


def export_rows(
    db: Database,
    spec: TableSpec,
    destination: Path,
    *,
    where: Sequence[str] = (),
    safe_cells: bool = True,
) -> int:
    """Write the rows matching ``where`` to ``destination``; return how many."""
    table = db.table(spec)
    row_filter = parse_filters(table, spec, where, sqlite=db.is_sqlite)
    query = (
        select(table).where(row_filter.condition).order_by(*(table.c[name] for name in spec.key))
    )
    columns = spec.column_names
    count = 0
    with atomic_writer(destination) as out, db.engine.connect() as conn:
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in conn.execute(query).mappings():
            if not row_filter.matches(dict(row)):
                continue
            cells: list[Any] = [cell_text(row[name]) for name in columns]
            if safe_cells:
                cells = [escape(cell) for cell in cells]
            writer.writerow(cells)
            count += 1
    log_event(logger, "datacenter.exported", table=spec.name, rows=count, path=destination)
    return count


def export_to_folder(folder: Path, table: str, write: Callable[[Path], int]) -> tuple[Path, int]:
    """Export into ``folder`` with ``write(path) -> rows``; return the file and its rows."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / check_name(export_name(table), what="export name")
    return path, write(path)


def export_to_spool(
    spool_path: str | Path, work_folder: Path, table: str, write: Callable[[Path], int]
) -> tuple[str, int]:
    """Export into a spool's ``new/`` area for shipping; return the entry name and rows."""
    from entrepot.spool import Spool

    spool = Spool(spool_path).prepare()
    path, count = export_to_folder(work_folder, table, write)
    try:
        name = spool.publish_file(path, path.name)
    finally:
        path.unlink(missing_ok=True)
    return name, count
