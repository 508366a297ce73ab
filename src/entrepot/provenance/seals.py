"""An archive's events recorded once, however many journals hold them.

An archive's hand-off journals ``sealed``, ``handed_off`` and the spool's
``received``, each with the archive's id in its details (``archive``).  A
hand-off killed after journaling them but before settling its note is
finished again by recovery, which journals them again
(:mod:`entrepot.archive.sealnote`): when journals are added to the
database, :func:`unrecorded` keeps only the events of archives not recorded
yet — looked up through the index on (name, kind, time), one query per
place and few hundred names.
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

from entrepot.provenance.announced import name_groups
from entrepot.provenance.folding import named
from entrepot.provenance.journal import COLUMNS, Row
from entrepot.provenance.schema import events_table

__all__ = ["unrecorded"]

#: The kinds an archive's hand-off journals.
KINDS = frozenset({"sealed", "handed_off", "received"})
#: An archive event as it is looked for: its kind, place, name and archive id.
_Seal = tuple[str, str, str, str]
# Positions in a row.
_KIND, _PLACE, _NAME, _DETAILS = (COLUMNS.index(c) for c in ("kind", "place", "name", "details"))


def archive_of(kind: str, details: str | None) -> str | None:
    """The archive id an event of an archive's hand-off carries (None for any other)."""
    if kind not in KINDS or not details or '"archive":' not in details:
        return None
    value = json.loads(details).get("archive")
    return value if isinstance(value, str) else None


def unrecorded(conn: Connection, rows: Sequence[Row]) -> list[Row]:
    """``rows`` without the archive events already in the database (or earlier in ``rows``)."""
    archives = [archive_of(row[_KIND], row[_DETAILS]) for row in rows]
    if not any(archives):
        return list(rows)
    if conn.dialect.name == "postgresql":
        # Two processes adding two journals of one archive at once: the second waits
        # for the first to commit, then sees its events (SQLite's writers take turns).
        # Taken in one order: a transaction adding several journals may take several.
        keys = {zlib.crc32(f"entrepot_archive:{a}".encode()) & 0x7FFFFFFF for a in archives if a}
        for key in sorted(keys):
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    files = [(row[_PLACE], row[_NAME], 0.0) for row, a in zip(rows, archives, strict=True) if a]
    seen = _recorded(conn, files)
    kept: list[Row] = []
    for row, archive in zip(rows, archives, strict=True):
        if archive is not None:
            seal = (row[_KIND], row[_PLACE], row[_NAME], archive)
            if seal in seen:
                continue
            seen.add(seal)
        kept.append(row)
    return kept


def _recorded(conn: Connection, files: Sequence[tuple[str, str, float]]) -> set[_Seal]:
    """The archive events in the database of the files ``files`` (place, name): one query
    per place and few hundred names, through the index on names."""
    t = events_table
    found: set[_Seal] = set()
    for place, listed, _ in name_groups(files):
        query = sa.select(t.c.kind, t.c.name, t.c.details).where(
            named(t, t.c.name.in_(listed), t.c.kind.in_(sorted(KINDS))),
            # On the names' indexes: the place, compared as text, is not an index's.
            t.c.place.concat("") == place,
        )
        for kind, name, details in conn.execute(query):
            archive = archive_of(kind, details)
            if archive is not None:
                found.add((kind, place, name, archive))
    return found
