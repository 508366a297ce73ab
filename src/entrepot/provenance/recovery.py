"""Recovering journals whose recorder died: their events, added once each.

A recorder (:mod:`.recorder`) appends every event to its journal before
the step it records is visible, and stores with each batch the number of
its journal's last line that the batch covers.  When its process dies,
the next recorder or trace to open the ledger adds, from the journal:

* the lines numbered after the last one stored — except those whose
  events the database has already (a line may be written after its
  batch was committed, and a delivery's row is added once its move is
  settled, which can be after later lines: see :mod:`.steps`);
* the steps announced by a line (the move after a delivery) that were
  taken but not recorded — the file system tells (:class:`~.journal.Then`).

The journal is then marked :data:`RECOVERED` in the same transaction: read
again (a crash before its file was deleted), it adds nothing.

The receipts added this way (``received`` events: files that ``entrepot
spool put`` or a spool's publish wrote into a journal, with their
checksums) can be collected as they go in (:class:`Receipts`): the
shipment that opened the ledger then knows each file's checksum without
asking the database for what it has just written there.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from entrepot.db import write_transaction
from entrepot.logs import log_event
from entrepot.provenance.events import Kind
from entrepot.provenance.folding import named
from entrepot.provenance.inserts import insert_rows
from entrepot.provenance.journal import SUFFIX, Entry, Row, read_journal
from entrepot.provenance.schema import ensure_tables, events_table, journals_table
from entrepot.provenance.seals import unrecorded

__all__ = ["RECOVERED", "Receipts", "recover_journals", "set_seq"]

logger = logging.getLogger(__name__)

#: The sequence number of a journal whose events were all recovered.
RECOVERED = -1
#: Seconds an empty journal is left alone: its writer may not have locked it yet.
_YOUNG = 60.0
#: Names per query when a journal's events are looked for in the database.
_NAMES = 400
#: Receipts collected at most (:class:`Receipts`); past that, the look-ups ask the database.
KEPT_RECEIPTS = 200_000

_RECEIVED = Kind.RECEIVED.value


class Receipts(dict[tuple[str, str], tuple[float, "str | None"]]):
    """The receipts recovered from journals, the newest per file: ``(place, name)`` →
    ``(time, checksum or None)``.  Files past the first :data:`KEPT_RECEIPTS` are not
    kept: a file missing here is looked up in the database."""

    def note(self, rows: Sequence[Row]) -> None:
        """Keep the receipts among ``rows`` (rows just added to the database)."""
        for row in rows:
            if row[1] != _RECEIVED:
                continue
            key = (row[2], row[3])
            known = self.get(key)
            if known is None and len(self) >= KEPT_RECEIPTS:
                continue
            if known is None or known[0] <= row[0]:
                self[key] = (row[0], row[5])


def recover_journals(
    engine: Engine, folder: str | os.PathLike[str], receipts: Receipts | None = None
) -> int:
    """Add the events of journals in ``folder`` whose recorder died; return how many.

    A journal whose lock is held belongs to a live recorder and is left alone.
    ``receipts``: where to keep the receipts added.
    """
    added = 0
    path = Path(folder)
    journals = sorted(path.glob(f"*{SUFFIX}")) if path.is_dir() else []
    if journals:
        ensure_tables(engine)
    for journal in journals:
        try:
            fd = os.open(journal, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its recorder is alive
            with os.fdopen(os.dup(fd), "rb") as lines:
                entries = list(read_journal(lines))
            if not entries and time.time() - os.fstat(fd).st_mtime < _YOUNG:
                continue  # maybe just created, its writer about to lock it
            added += _import(engine, journal.stem, entries, receipts)
            journal.unlink(missing_ok=True)
            _forget(engine, journal.stem)
        finally:
            os.close(fd)
    if added:
        log_event(logger, "provenance.recovered", events=added, folder=str(path))
    return added


def _import(
    engine: Engine, token: str, entries: list[Entry], receipts: Receipts | None = None
) -> int:
    """Add what the database lacks of a dead journal's ``entries``; return how many.

    Events numbered after the journal's last commit go in, and so do the
    intents that were neither recorded nor contradicted by the file system.
    The journal is then marked :data:`RECOVERED`: read again (a crash
    before its file was deleted), it adds nothing.
    """
    if not entries:
        return 0
    with write_transaction(engine) as conn:
        done = conn.execute(
            sa.select(journals_table.c.seq).where(journals_table.c.journal == token)
        ).scalar()
        if done == RECOVERED:
            return 0
        after = [e for e in entries if e.seq > (done or 0)]
        present = _present(conn, [e.row for e in entries if e.seq > (done or 0) or e.then])
        fresh = [e.row for e in after if _identity(e.row) not in present]
        for entry in entries:
            if entry.then is None or present.get(_identity(entry.row)):
                continue  # nothing announced, or kept in its row: recorded (see .steps)
            if _happened(conn, entry, entries):
                fresh.append(_follow_up(entry))
        fresh = unrecorded(conn, fresh)  # an archive's hand-off may be journaled twice
        insert_rows(conn, fresh)
        set_seq(conn, token, RECOVERED)
    if receipts is not None:  # committed
        receipts.note(fresh)
    return len(fresh)


def _identity(row: Row) -> tuple[Any, ...]:
    """What names an event exactly: place, name, kind and time."""
    return row[2], row[3], row[1], row[0]


def _present(conn: Connection, rows: Sequence[Row]) -> dict[tuple[Any, ...], str]:
    """Which of ``rows`` the database has (by :func:`_identity`), each with the step its
    row keeps (``then_step``, or ``""``)."""
    t = events_table
    found: dict[tuple[Any, ...], str] = {}
    names: dict[str, set[str]] = {}
    for row in rows:
        names.setdefault(row[2], set()).add(row[3])
    since = min((row[0] for row in rows), default=0.0)
    for place, wanted in names.items():
        listed = sorted(wanted)
        for start in range(0, len(listed), _NAMES):
            query = sa.select(t.c.name, t.c.kind, t.c.at, t.c.then_step).where(
                t.c.place == place, t.c.name.in_(listed[start : start + _NAMES]), t.c.at >= since
            )
            for name, kind, at, then in conn.execute(query):
                found[place, name, kind, at] = then or ""
    return found


def _happened(conn: Connection, entry: Entry, entries: list[Entry]) -> bool:
    """Whether the step ``entry`` announced was taken but not recorded before its process died.

    The step's own event is not journaled (the announcement stands for it):
    it is looked for in the database, where a batch may have taken it.
    """
    then = entry.then
    assert then is not None
    key = (then.kind, *entry.key[1:])
    if any(e.key == key and e.seq > entry.seq for e in entries):
        return False  # recorded
    t = events_table
    recorded = conn.execute(
        sa.select(t.c.id).where(
            named(t, t.c.name == key[2], t.c.kind == then.kind, t.c.at >= entry.row[0]),
            t.c.place.concat("") == key[1],
        ).limit(1)
    ).first()  # fmt: skip
    if recorded is not None:
        return False
    present = all(os.path.lexists(path) for path in then.present)
    return present and not any(os.path.lexists(path) for path in then.absent)


def _follow_up(entry: Entry) -> Row:
    """The row of the step ``entry`` announced: same file, job, try and time."""
    then = entry.then
    assert then is not None
    at, _, place, name, _, _, job_id, host, _, _, attempt = entry.row[:11]
    return (
        at, then.kind, place, name, None, None, job_id, host, "ok", None, attempt,
        then.details, None, None,
    )  # fmt: skip


def set_seq(conn: Connection, token: str, seq: int) -> None:
    values = {"seq": seq, "at": time.time()}
    updated = conn.execute(
        journals_table.update().where(journals_table.c.journal == token).values(**values)
    ).rowcount
    if not updated:
        conn.execute(journals_table.insert().values(journal=token, **values))


def _forget(engine: Engine, token: str) -> None:
    # Only bookkeeping: a row left behind by a failure here costs nothing.
    with contextlib.suppress(sa.exc.SQLAlchemyError), write_transaction(engine) as conn:
        conn.execute(journals_table.delete().where(journals_table.c.journal == token))
