"""The backlog's depth over time: one row per hour, written by the running service.

How many jobs wait in the backlog (or lie dead) is a state, not an event:
the ledger knows it now, not what it was yesterday at noon.  The service
samples it every few minutes (:func:`record_depth`) into
``entrepot_backlog_depth``: per hour, the deepest backlog and the most
dead jobs seen in it.  The dashboard draws the last 24 hours and 7 days
from these rows (:func:`depth_history`, 168 rows at most) — reading the
jobs table itself for each hour would cost a scan per hour drawn.

An hour is ``epoch seconds // 3600`` (UTC), the same number on every
database; hours without a sample (no service running) have no row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from entrepot.errors import JobError
from entrepot.jobs.schema import UTCDateTime, metadata
from entrepot.jobs.states import JobState
from entrepot.jobs.summary import Rows, state_counts
from entrepot.redact import mask_secrets

__all__ = ["DEPTH_EVERY", "Depth", "depth_history", "depth_table", "hour_of", "record_depth"]

#: Seconds between two samples taken by the service.
DEPTH_EVERY = 300.0

depth_table = sa.Table(
    "entrepot_backlog_depth",
    metadata,
    sa.Column("hour", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("backlog", sa.Integer, nullable=False),
    sa.Column("dead", sa.Integer, nullable=False),
    sa.Column("sampled_at", UTCDateTime, nullable=False),
)

#: Deepest backlog and most dead jobs of one hour.
Depth = tuple[int, int]


def hour_of(moment: datetime | float) -> int:
    """The hour (``epoch seconds // 3600``) ``moment`` falls in."""
    seconds = moment.timestamp() if isinstance(moment, datetime) else moment
    return int(seconds // 3600)


def record_depth(engine: sa.Engine, rows: Rows, now: datetime) -> Depth:
    """Sample the backlog now: keep the hour's deepest figures; return the current ones.

    Every instance of a fleet samples into the same rows: the hour's row is
    written in one statement (an insert that, when the row is there, keeps
    the larger figures), so two samples at once neither collide nor lose
    one.  A database error is raised as :class:`~entrepot.errors.JobError`
    with the driver's first line — never the statement.
    """
    from entrepot.db import write_transaction

    counts = state_counts(rows)
    current = (counts[JobState.BACKLOG], counts[JobState.DEAD])
    values = {"hour": hour_of(now), "backlog": current[0], "dead": current[1], "sampled_at": now}
    try:
        with write_transaction(engine) as conn:
            conn.execute(_upsert(conn.dialect.name).values(**values))
    except sa.exc.DBAPIError as exc:
        lines = str(exc.orig).strip().splitlines()
        reason = mask_secrets(lines[0] if lines else type(exc.orig).__name__)
        raise JobError(f"the backlog's depth was not recorded: {reason}") from exc
    return current


def _upsert(dialect: str) -> Any:
    """An insert of the hour's row that, when it is there, keeps the larger figures."""
    from sqlalchemy.dialects import postgresql, sqlite

    statement: Any = (postgresql if dialect == "postgresql" else sqlite).insert(depth_table)
    t, new = depth_table.c, statement.excluded
    larger = {
        column: sa.case((new[column] > t[column], new[column]), else_=t[column])
        for column in ("backlog", "dead")
    }
    return statement.on_conflict_do_update(
        index_elements=[t.hour], set_={**larger, "sampled_at": new.sampled_at}
    )


def depth_history(rows: Rows, since_hour: int) -> dict[int, Depth]:
    """The sampled hours from ``since_hour`` on: hour → (backlog, dead)."""
    sql = f"SELECT hour, backlog, dead FROM {depth_table.name} WHERE hour >= :since"  # noqa: S608
    return {int(h): (int(b), int(d)) for h, b, d in rows(sql, {"since": since_hour})}
