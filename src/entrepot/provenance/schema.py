"""The provenance tables and their migrations.

``entrepot_provenance`` holds one row per event (see :mod:`.events`).  Its
indexes answer the questions asked of it without a scan at ten million
rows: a file's journey and a shipper's look-up of the files it takes (by
name, place, kind, then time — each file's receipts and failures without
the rest of its history), a route's deliveries (by place, then time), and
retention (by time).  Times are epoch seconds
(a float): the same type, and the same cheap comparisons, on SQLite and
PostgreSQL.

``entrepot_provenance_journals`` remembers, for each journal of a recorder
(:mod:`.recorder`), the last event written from it, in the same
transaction as the events: a journal read again after a crash adds only
what the database does not have yet.

The tables live in the ledger's database, versioned as their own
component (``provenance``), so the ledger's own schema is untouched.
"""

from __future__ import annotations

import weakref

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from entrepot.db import Migration, ensure_schema

__all__ = ["MIGRATIONS", "ensure_tables", "events_table", "journals_table", "metadata"]

metadata = sa.MetaData()
_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

events_table = sa.Table(
    "entrepot_provenance",
    metadata,
    # SQLite numbers rows itself only for an INTEGER primary key.
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("place", sa.String(1024), nullable=False),
    sa.Column("name", sa.String(1024), nullable=False),
    sa.Column("size", sa.BigInteger),
    sa.Column("checksum", sa.String(80)),
    sa.Column("job_id", sa.String(64)),
    sa.Column("host", sa.String(255)),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("target", sa.String(1024)),
    sa.Column("attempt", sa.Integer),
    sa.Column("details", sa.Text, nullable=False),
    sa.Index("ix_entrepot_provenance_file", "name", "place", "kind", "at"),
    sa.Index("ix_entrepot_provenance_place", "place", "at"),
    sa.Index("ix_entrepot_provenance_at", "at"),
)

journals_table = sa.Table(
    "entrepot_provenance_journals",
    metadata,
    sa.Column("journal", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    # When it was last written: rows of long-gone journals are pruned with the events.
    sa.Column("at", sa.Float, nullable=False),
)


def _create(conn: Connection) -> None:
    metadata.create_all(conn, checkfirst=True)


def _file_index(conn: Connection) -> None:
    # Version 1 indexed (name, at): a spool's look-up of the files it takes read
    # every event each name ever had, a cost growing with the ledger.
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_entrepot_provenance_name")
    for index in events_table.indexes:
        index.create(conn, checkfirst=True)


#: The provenance schema, version by version (see :func:`entrepot.db.ensure_schema`).
# Versions are numbered in the order they land on main; a branch whose migration
# meets another of the same number renumbers its own to follow (never edit a landed one).
MIGRATIONS = (
    Migration(1, "provenance events and recorder journals", _create),
    Migration(2, "events indexed by file: name, place, kind, time", _file_index),
)


#: Engines whose tables were brought up to date by this process.
_ready: weakref.WeakSet[Engine] = weakref.WeakSet()


def ensure_tables(engine: Engine) -> None:
    """Create or upgrade the provenance tables of ``engine``'s database (once per engine:
    every recorder and lookup asks, and each check is two short transactions)."""
    if engine not in _ready:
        ensure_schema(engine, "provenance", MIGRATIONS)
        _ready.add(engine)
