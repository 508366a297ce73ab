"""An archive's events recorded once, however many journals hold them.

An archive's hand-off journals ``sealed``, ``handed_off`` and the spool's
``received``, each with the archive's id in its details (``archive``).  A
hand-off killed after journaling them but before settling its note is
finished again by recovery, which journals them again
(:mod:`entrepot.archive.sealnote`): when journals are added to the
database, :func:`unrecorded` keeps only the events of archives not recorded
yet — looked up through the index on (name, kind, time), a few rows each.
On PostgreSQL the look-up holds a transaction lock on the archive's id, so
two processes adding its journals at once add its events once; a
transaction that adds several journals (:mod:`.recovery`) may hold several
such locks, always taken in the same order.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from entrepot.provenance.folding import named
from entrepot.provenance.journal import COLUMNS, Row
from entrepot.provenance.schema import events_table

__all__ = ["unrecorded"]

#: The kinds an archive's hand-off journals.
KINDS = frozenset({"sealed", "handed_off", "received"})
# Positions in a row.
_KIND, _PLACE, _NAME, _DETAILS = (COLUMNS.index(c) for c in ("kind", "place", "name", "details"))


def archive_of(kind: str, details: str) -> str | None:
    """The archive id an event of an archive's hand-off carries (None for any other)."""
    if kind not in KINDS or '"archive":' not in details:
        return None
    value = json.loads(details).get("archive")
    return value if isinstance(value, str) else None


def unrecorded(conn: Connection, rows: Sequence[Row]) -> list[Row]:
    """``rows`` without the archive events already in the database (or earlier in ``rows``)."""
    archives = [archive_of(row[_KIND], row[_DETAILS]) for row in rows]
    if conn.dialect.name == "postgresql":
        # Two processes adding two journals of one archive at once: the second waits
        # for the first to commit, then sees its events (SQLite's writers take turns).
        # Taken in one order: a transaction adding several journals may take several.
        keys = {zlib.crc32(f"entrepot_archive:{a}".encode()) & 0x7FFFFFFF for a in archives if a}
        for key in sorted(keys):
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    kept: list[Row] = []
    seen: set[tuple[str, str, str, str]] = set()
    t = events_table
    for row, archive in zip(rows, archives, strict=True):
        if archive is None:
            kept.append(row)
            continue
        kind, place, name = row[_KIND], row[_PLACE], row[_NAME]
        if (kind, place, name, archive) in seen:
            continue
        seen.add((kind, place, name, archive))
        recorded = conn.execute(
            sa.select(t.c.details).where(
                named(t, t.c.name == name, t.c.kind == kind), t.c.place.concat("") == place
            )
        ).scalars()
        if all(archive_of(kind, details) != archive for details in recorded):
            kept.append(row)
    return kept
