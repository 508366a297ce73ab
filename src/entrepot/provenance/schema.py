"""The provenance tables and their migrations.

``entrepot_provenance`` holds one row per event (see :mod:`.events`).  Its
indexes answer the questions asked of it without a scan at ten million
rows: a file's journey and a shipper's look-up of the files it takes (by
name, kind, then time — each file's receipts and failures without the rest
of its history; the place is read from the rows found, a few per name: two
indexes, the folded events' and the fresh ones', see :mod:`.folding`), a
route's deliveries (by place, then time),
retention (by time), and what one place did of one kind over a time —
files and bytes delivered per hour, the latest failures, the files
received and not delivered — read from the index alone (by place, kind
and time, holding the size and target).  Times are epoch seconds
(a float): the same type, and the same cheap comparisons, on SQLite and
PostgreSQL.

``entrepot_provenance_journals`` remembers, for each journal of a recorder
(:mod:`.recorder`), the last event written from it, in the same
transaction as the events: a journal read again after a crash adds only
what the database does not have yet.

``entrepot_provenance_hourly`` counts the events of each kind per hour
(files and bytes), kept by the recorder in the transaction that inserts
them (:func:`add_to_hours`): the dashboard's charts of the last 7 days
read 168 rows per kind instead of aggregating a million events on every
request.

The tables live in the ledger's database, versioned as their own
component (``provenance``), so the ledger's own schema is untouched.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from entrepot.db import Migration, ensure_schema
from entrepot.provenance.steps import Counts, tally

__all__ = [
    "BY_NAME_INDEXES",
    "FRESH_INDEX",
    "KIND_INDEX",
    "MIGRATIONS",
    "NAMES_INDEX",
    "add_to_hours",
    "ensure_tables",
    "events_table",
    "hourly_table",
    "journals_table",
    "metadata",
]

metadata = sa.MetaData()
#: By place, kind and time, covering size and target: counts per hour without the table.
KIND_INDEX = "ix_entrepot_provenance_kind"
#: By name, kind and time: a file's journey, a shipper's look-up of the files it takes —
#: of the events folded into it; the fresh ones are in :data:`FRESH_INDEX` (:mod:`.folding`).
NAMES_INDEX = "ix_entrepot_provenance_names"
FRESH_INDEX = "ix_entrepot_provenance_fresh"
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
    # A delivery's claim and the local step after it, kept in its row (see .steps).
    sa.Column("claimed_at", sa.Float),
    sa.Column("then_step", sa.Text),
    # 1 while the event is in the index of fresh events, NULL once folded (.folding).
    sa.Column("fresh", sa.SmallInteger),
    # A shipped file's receipt, kept in its delivery's row (see .steps).
    sa.Column("received_step", sa.Text),
    sa.Index("ix_entrepot_provenance_place", "place", "at"),
    sa.Index("ix_entrepot_provenance_at", "at"),
    sa.Index(KIND_INDEX, "place", "kind", "at", "size", "target"),
)

#: The two indexes on names, each partial (:mod:`.folding`): made by statements of their
#: own, the same on SQLite and PostgreSQL (as an ``sa.Index``, a ``WHERE`` is a keyword of
#: each database's dialect, and naming PostgreSQL's imports it, 20 ms of every command).
BY_NAME_INDEXES = {
    name: f"CREATE INDEX IF NOT EXISTS {name} ON entrepot_provenance (name, kind, at) WHERE {where}"
    for name, where in ((NAMES_INDEX, "fresh IS NULL"), (FRESH_INDEX, "fresh = 1"))
}

journals_table = sa.Table(
    "entrepot_provenance_journals",
    metadata,
    sa.Column("journal", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    # When it was last written: rows of long-gone journals are pruned with the events.
    sa.Column("at", sa.Float, nullable=False),
)


hourly_table = sa.Table(
    "entrepot_provenance_hourly",
    metadata,
    # epoch seconds // 3600 (UTC): the same number on every database.
    sa.Column("hour", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("files", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
)


def _create(conn: Connection) -> None:
    metadata.create_all(conn, checkfirst=True)


def _file_index(conn: Connection) -> None:
    # Version 1 indexed (name, at): a spool's look-up of the files it takes read
    # every event each name ever had, a cost growing with the ledger.
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_entrepot_provenance_name")
    for index in events_table.indexes:
        index.create(conn, checkfirst=True)


def _add_kind_index(conn: Connection) -> None:
    # Earlier versions create the tables as they are now: add the index only where missing.
    present = {index["name"] for index in sa.inspect(conn).get_indexes(events_table.name)}
    if KIND_INDEX not in present:
        next(i for i in events_table.indexes if i.name == KIND_INDEX).create(conn)


def _add_hours(conn: Connection) -> None:
    """The hourly counts, made from the events already recorded (one pass, once)."""
    hourly_table.create(conn, checkfirst=True)
    # SQLite's CAST truncates (times are positive); PostgreSQL's rounds, hence FLOOR there.
    hour = "FLOOR(at / 3600)" if conn.dialect.name == "postgresql" else "CAST(at / 3600 AS INTEGER)"
    conn.execute(sa.delete(hourly_table))
    conn.execute(
        sa.text(
            f"INSERT INTO {hourly_table.name} (hour, kind, files, bytes) "  # noqa: S608
            f"SELECT {hour}, kind, count(*), coalesce(sum(size), 0) "
            f"FROM {events_table.name} GROUP BY {hour}, kind"
        )
    )


def _add_steps(conn: Connection) -> None:
    # Earlier versions create the table as it is now: add the columns only where missing.
    present = {column["name"] for column in sa.inspect(conn).get_columns(events_table.name)}
    for name, kind in (("claimed_at", "FLOAT"), ("then_step", "TEXT")):
        if name not in present:
            conn.exec_driver_sql(f"ALTER TABLE {events_table.name} ADD COLUMN {name} {kind}")


def _narrow_names_index(conn: Connection) -> None:
    # Version 2's index on (name, place, kind, at) held each event's place, the
    # longest of its keys.  A run's rows land in it at as many places as the run
    # ships names — one page each once it is large — and every commit wrote those
    # pages: without the place, half as many.  The index without the place is
    # made by version 7 (partial, on a column of that version).
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_entrepot_provenance_file")


def _fresh_events(conn: Connection) -> None:
    # Up to version 6 every insert went into the index on names at the place of its
    # name: a run that ships the names an earlier run shipped wrote one page of it
    # per file.  Now events arrive in a small index of their own and are folded into
    # the large one in bulk (.folding).  The events already there are folded.
    present = {column["name"] for column in sa.inspect(conn).get_columns(events_table.name)}
    if "fresh" not in present:
        conn.exec_driver_sql(f"ALTER TABLE {events_table.name} ADD COLUMN fresh SMALLINT")
    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {NAMES_INDEX}")
    for statement in BY_NAME_INDEXES.values():
        conn.exec_driver_sql(statement)


def _add_receipts(conn: Connection) -> None:
    # Earlier versions create the table as it is now: add the column only where missing.
    present = {column["name"] for column in sa.inspect(conn).get_columns(events_table.name)}
    if "received_step" not in present:
        conn.exec_driver_sql(f"ALTER TABLE {events_table.name} ADD COLUMN received_step TEXT")


#: The provenance schema, version by version (see :func:`entrepot.db.ensure_schema`).
# Versions are numbered in the order they land on main; a branch whose migration
# meets another of the same number renumbers its own to follow (never edit a landed one).
MIGRATIONS = (
    Migration(1, "provenance events and recorder journals", _create),
    Migration(2, "events indexed by file: name, place, kind, time", _file_index),
    Migration(3, "events by place, kind and time (counts per hour)", _add_kind_index),
    Migration(4, "events counted per hour and kind", _add_hours),
    Migration(5, "a delivery's claim and its next step kept in its row", _add_steps),
    Migration(6, "events indexed by name, kind and time (the place left out)", _narrow_names_index),
    Migration(7, "fresh events indexed apart, folded into the index on names", _fresh_events),
    Migration(8, "a shipped file's receipt kept in its delivery's row", _add_receipts),
)

# Both databases take the same upsert (SQLite since 3.24).
_ADD = (
    f"INSERT INTO {hourly_table.name} (hour, kind, files, bytes) "  # noqa: S608
    "VALUES (:hour, :kind, :files, :bytes) ON CONFLICT (hour, kind) DO UPDATE SET "
    f"files = {hourly_table.name}.files + excluded.files, "
    f"bytes = {hourly_table.name}.bytes + excluded.bytes"
)


def add_to_hours(
    conn: Connection,
    rows: Sequence[Sequence[Any]],
    counts: Counts | None = None,
) -> None:
    """Count event ``rows`` (``at, kind, place, name, size, …``: :data:`~.journal.COLUMNS`)
    into their hours, each event a row stands for (:func:`~.steps.tally`) — or add
    ``counts``, when the caller counted them already."""
    if counts is None:
        counts = tally(rows)  # a delivery's row may stand for up to four events
    if counts:
        conn.execute(
            sa.text(_ADD),
            [
                {"hour": hour, "kind": kind, "files": files, "bytes": size}
                for (hour, kind), (files, size) in sorted(counts.items())
            ],
        )


#: Engines whose tables were brought up to date by this process.
_ready: weakref.WeakSet[Engine] = weakref.WeakSet()


def ensure_tables(engine: Engine) -> None:
    """Create or upgrade the provenance tables of ``engine``'s database (once per engine:
    every recorder and lookup asks, and each check is two short transactions)."""
    if engine not in _ready:
        ensure_schema(engine, "provenance", MIGRATIONS)
        _ready.add(engine)
