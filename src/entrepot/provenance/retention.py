"""Retention of provenance events: old ones go in short batches.

Events are kept as long as the ledger's finished runs (the service's
``retention.runs`` setting, :mod:`entrepot.service.retention`), so a trace
never outlives the runs it names by much, nor the other way round.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from entrepot.db import groups, write_transaction
from entrepot.provenance.schema import ensure_tables, events_table, hourly_table, journals_table

__all__ = ["prune_events"]


def prune_events(engine: Engine, before: datetime, *, batch: int = 1000) -> int:
    """Delete one batch of at most ``batch`` rows of events older than ``before``; return
    how many events went (a shipped file's row holds up to four: see :mod:`.steps`).

    Call it until it returns 0.  The oldest go first, found at the front of
    the index on time.
    """
    ensure_tables(engine)
    t = events_table
    cutoff = before.timestamp()
    with write_transaction(engine) as conn:
        found = conn.execute(
            sa.select(t.c.id, t.c.claimed_at, t.c.then_step, t.c.received_step)
            .where(t.c.at < cutoff)
            .order_by(t.c.at)
            .limit(batch)
        ).all()
        ids = [row.id for row in found]
        if not ids:
            # The events are gone: so are the bookkeeping rows of journals as old,
            # and the hours they were counted in (the hour of the cut-off stays).
            conn.execute(journals_table.delete().where(journals_table.c.at < cutoff))
            conn.execute(hourly_table.delete().where(hourly_table.c.hour < int(cutoff // 3600)))
            return 0
        for group in groups(ids):
            conn.execute(t.delete().where(t.c.id.in_(group)))
        return sum(
            1 + (row.claimed_at is not None) + bool(row.then_step) + bool(row.received_step)
            for row in found
        )
