"""The ledger's schema, version by version (see :func:`entrepot.db.ensure_schema`)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from entrepot.db import Migration
from entrepot.jobs.claims import add_landing
from entrepot.jobs.depth import depth_table
from entrepot.jobs.fleet import add_clock_offset, add_fleet
from entrepot.jobs.schema import IDENTITY_INDEX, jobs_table, metadata, runs_table

__all__ = ["MIGRATIONS"]


def _add_identity(conn: Connection) -> None:
    # A ledger made by this release already has the column (version 1 creates
    # the tables as they are now): add it only where it is missing.
    columns = {column["name"] for column in sa.inspect(conn).get_columns(jobs_table.name)}
    if "identity" not in columns:
        conn.execute(sa.text(f"ALTER TABLE {jobs_table.name} ADD COLUMN identity VARCHAR(64)"))
    indexes = {index["name"] for index in sa.inspect(conn).get_indexes(jobs_table.name)}
    if IDENTITY_INDEX not in indexes:
        conn.execute(
            sa.text(f"CREATE INDEX {IDENTITY_INDEX} ON {jobs_table.name} (identity, state)")
        )


def _add_dashboard(conn: Connection) -> None:
    """The backlog's depth table, and the indexes the dashboard's and ``status``'s route
    figures read (version 1 of this release makes them already: only where missing)."""
    depth_table.create(conn, checkfirst=True)
    for table in (jobs_table, runs_table):
        present = {index["name"] for index in sa.inspect(conn).get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in present:
                index.create(conn)


#: The ledger's migrations, in order.
# Versions are numbered in the order they land on main; a branch whose migration
# meets another of the same number renumbers its own to follow (never edit a landed one).
MIGRATIONS = (
    Migration(1, "jobs and runs", lambda conn: metadata.create_all(conn, checkfirst=True)),
    Migration(2, "job identities (one waiting job per route)", _add_identity),
    Migration(3, "fleets: instances, heartbeats, leases and claims", add_fleet),
    Migration(
        4, "the backlog's depth hour by hour; routes' newest jobs and failures", _add_dashboard
    ),
    Migration(5, "claims landing: in doubt once lapsed, never taken over", add_landing),
    Migration(
        6, "instances' clock offsets from the database's, measured by each beat", add_clock_offset
    ),
)
