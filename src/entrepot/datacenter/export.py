"""Exporting a table (or the rows a filter selects) to CSV.

The file goes to ``<root>/exports/`` or, for shipping, straight into a
spool's ``new/`` area.  Cells a spreadsheet would run as a formula (text
starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) get
a leading apostrophe unless neutralising is switched off; plain numbers
such as ``-5`` are left alone, since they are not formulas.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from entrepot.datacenter.backups import cell_text
from entrepot.datacenter.csvfiles import atomic_writer
from entrepot.datacenter.database import Database
from entrepot.datacenter.filters import parse_filters
from entrepot.datacenter.schema import TableSpec
from entrepot.logs import log_event
from entrepot.names import check_name

logger = logging.getLogger(__name__)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def neutralise(text: str) -> str:
    """Make a cell inert for spreadsheets: ``=1+1`` → ``'=1+1``."""
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


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
    row_filter = parse_filters(table, spec, where)
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
                cells = [neutralise(cell) for cell in cells]
            writer.writerow(cells)
            count += 1
    log_event(logger, "datacenter.exported", table=spec.name, rows=count, path=destination)
    return count


def export_to_folder(
    db: Database,
    spec: TableSpec,
    folder: Path,
    *,
    where: Sequence[str] = (),
    safe_cells: bool = True,
    name: str | None = None,
) -> tuple[Path, int]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / check_name(name or export_name(spec.name), what="export name")
    return path, export_rows(db, spec, path, where=where, safe_cells=safe_cells)


def export_to_spool(
    db: Database,
    spec: TableSpec,
    spool_path: str | Path,
    *,
    where: Sequence[str] = (),
    safe_cells: bool = True,
    work_folder: Path,
) -> tuple[str, int]:
    """Export into a spool's ``new/`` area for shipping; return the entry name and row count."""
    from entrepot.spool import Spool

    spool = Spool(spool_path).prepare()
    work_folder.mkdir(parents=True, exist_ok=True)
    path = work_folder / export_name(spec.name)
    count = export_rows(db, spec, path, where=where, safe_cells=safe_cells)
    try:
        name = spool.publish_file(path, path.name)
    finally:
        path.unlink(missing_ok=True)
    return name, count
