"""Retiring rows: move the rows a filter selects into ``graduated/``, then remove them.

Used when records leave active use (graduated students, closed accounts)
but must be kept somewhere: the backup is a CSV file that can be imported
again, and it is written in the same transaction that deletes the rows
(see :mod:`entrepot.datacenter.backups`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select

from entrepot.datacenter import table_rows
from entrepot.datacenter.backups import append_backup
from entrepot.datacenter.database import Database
from entrepot.datacenter.filters import parse_filters
from entrepot.datacenter.table_schema import TableSpec
from entrepot.errors import ConfigError
from entrepot.logs import log_event

logger = logging.getLogger(__name__)


def retire_rows(
    db: Database, spec: TableSpec, folder: Path, where: Sequence[str], *, dry_run: bool = False
) -> tuple[Path | None, int]:
    """Back up and delete the rows of ``spec`` matching ``where``; return (backup, count).

    ``dry_run`` only counts the rows that would go (the backup is then ``None``).
    """
    if not where:
        raise ConfigError(
            "retire needs at least one filter; it never empties a whole table by default"
        )
    table = db.table(spec)
    row_filter = parse_filters(table, spec, where, sqlite=db.is_sqlite)
    # A dry run reads in a transaction of its own that takes no write lock.
    with db.engine.connect() if dry_run else db.begin() as conn:
        rows = [
            dict(row)
            for row in conn.execute(select(table).where(row_filter.condition)).mappings()
            if row_filter.matches(dict(row))
        ]
        if dry_run or not rows:
            return None, len(rows)
        path = append_backup(db, conn, folder, spec.name, spec.column_names, rows)
        keys = [tuple(row[name] for name in spec.key) for row in rows]
        table_rows.delete_rows(conn, table, list(spec.key), keys)
    log_event(logger, "datacenter.retired", table=spec.name, rows=len(rows), backup=path)
    return path, len(rows)
