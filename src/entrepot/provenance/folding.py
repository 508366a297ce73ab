"""Fresh events: indexed apart by name, then folded into the index on names in bulk.

A file's events are found by name through an index on (name, kind, time).
One index for every event would take each new event at the place of its
name: a run that ships 2,000 names shipped before writes 2,000 pages of it
(one per file, 8 MB with SQLite's pages of 4 KiB) into the database's log,
and then into the database, on every run — the index is as wide as the
history of names, the run's events land all over it.

So an event arrives *fresh* (its ``fresh`` column 1): it goes into a small
index of its own, :data:`~.schema.FRESH_INDEX` (partial: only fresh events),
which holds the last few runs' events and stays a few hundred pages.  Once
:data:`FOLD_AT` events are fresh, the next recorder to open folds them into
the index on names, :data:`~.schema.NAMES_INDEX` (partial: only folded
events) — one statement, in a transaction of its own, in a thread of its
own while the run's transfers go on (:func:`fold_behind`; the run's
commit waits for it).  A fold that fails is told and left to the next run;
the events stay fresh, found all the same.  Each page of the large index
is written once for all the runs since the last fold, not once per run.

Folding at the end of a run, as the first releases with fresh events did,
held up one run in ten by the fold (120–250 ms for 20,000 events, as long
as the insert of a whole run's events ten times over); at the start, in a
thread, it overlaps the transfers — the database does the work with the
interpreter's lock released, and SQLite's readers do not wait for it.

Every look-up by name asks both indexes: :func:`named` writes a test on
names as two arms, one per index (``fresh IS NULL`` / ``fresh = 1``, written
as literals so that the planner can prove each arm's index applies), which
SQLite and PostgreSQL answer with one search in each.  A row's events are
the same whether fresh or folded; folding changes no event.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from entrepot.db import write_transaction
from entrepot.logs import log_event
from entrepot.provenance.schema import events_table

__all__ = [
    "FOLDED_SQL",
    "FOLD_AT",
    "FRESH_SQL",
    "fold",
    "fold_apart",
    "fold_behind",
    "fold_due",
    "fold_if_due",
    "fresh_count",
    "named",
]

logger = logging.getLogger(__name__)

#: Fresh events at which a durable commit folds them into the index on names: a
#: few runs of a few thousand files.  Their index then holds 20,000 entries, some
#: 200 pages, which is what a run's events land on.
FOLD_AT = 20_000
#: PostgreSQL's advisory lock of a fold (a constant of this module's own).
_LOCK = 0x656E_7472_666F_6C64  # "entrfold"
#: The two arms' tests, as SQL text (the events table's own columns).
FOLDED_SQL = "fresh IS NULL"
FRESH_SQL = "fresh = 1"


def named(table: Any, *terms: Any, fresh: bool | None = None) -> Any:
    """``terms`` (on a name, and a kind and a time) as a test the planner answers from
    the indexes on names of ``table`` (the events table or an alias): one arm per
    index — or only the arm of the fresh events (``fresh`` True) or of the folded
    ones (False)."""
    fresh_arm = sa.and_(*terms, _is_fresh(table))
    folded_arm = sa.and_(*terms, table.c.fresh.is_(None))
    if fresh is None:
        return sa.or_(folded_arm, fresh_arm)
    return fresh_arm if fresh else folded_arm


def _is_fresh(table: Any) -> Any:
    # The literal 1, not a parameter: the planner proves the fresh events' index applies.
    return table.c.fresh == sa.literal_column("1")


def fresh_count(conn: Connection) -> int:
    """How many events are fresh (read from their index alone)."""
    t = events_table
    found = conn.execute(sa.select(sa.func.count()).select_from(t).where(_is_fresh(t))).scalar()
    return int(found or 0)


def fold(conn: Connection) -> int:
    """Fold every fresh event into the index on names, in the caller's transaction;
    how many."""
    t = events_table
    done = conn.execute(sa.update(t).where(_is_fresh(t)).values(fresh=None))
    return int(done.rowcount or 0)


def fold_due(conn: Connection, at: int | None = None) -> bool:
    """Whether ``at`` (:data:`FOLD_AT`) events or more are fresh."""
    return fresh_count(conn) >= (FOLD_AT if at is None else at)


def fold_apart(engine: Engine) -> int:
    """:func:`fold_if_due` in a transaction of its own; how many were folded.  A fold
    that fails is told (``provenance.fold_failed``) and left to the next: the events
    stay fresh, and every read finds them."""
    try:
        with write_transaction(engine) as conn:
            return fold_if_due(conn)
    except sa.exc.SQLAlchemyError as exc:
        log_event(logger, "provenance.fold_failed", logging.WARNING, error=exc)
        return 0


def fold_behind(engine: Engine) -> threading.Thread | None:
    """:func:`fold_apart` if due, in a thread of its own, started now: join it before the
    caller's next commit (so the two do not take turns at the database's lock).

    An engine whose connections each belong to one thread (SQLite in memory: another
    thread would open another, empty database) folds in the caller's thread, now.
    """
    if isinstance(engine.pool, sa.pool.SingletonThreadPool):
        _fold_if_many(engine)
        return None
    thread = threading.Thread(target=_fold_if_many, args=(engine,), name="entrepot-fold")
    thread.daemon = True  # a process that ends meanwhile leaves the fold to the next run
    thread.start()
    return thread


def _fold_if_many(engine: Engine) -> None:
    # Counted in a read first: a write transaction would hold up other writers for nothing.
    try:
        with engine.connect() as conn:
            due = fold_due(conn)
        if due:
            fold_apart(engine)
    except Exception as exc:  # noqa: BLE001  (a thread's error would be printed, not told)
        log_event(logger, "provenance.fold_failed", logging.WARNING, error=exc)


def fold_if_due(conn: Connection, at: int | None = None) -> int:
    """:func:`fold` once ``at`` (:data:`FOLD_AT`) events or more are fresh; how many
    were folded.

    On PostgreSQL, where two recorders commit at once, one folds and the
    other leaves it to it (two folds would lock the same rows, maybe in two
    orders): a lock of the transaction, taken if free.  SQLite's writers
    take turns.
    """
    if not fold_due(conn, at):
        return 0
    if conn.dialect.name == "postgresql":
        free = conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _LOCK})
        if not free.scalar():
            return 0
    return fold(conn)
