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
  taken but not recorded — the file system tells (:class:`~.journal.Then`;
  :mod:`.announced`).

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
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from entrepot.db import groups, write_transaction
from entrepot.logs import log_event
from entrepot.provenance.announced import NAMES, follow_up, name_groups, taken
from entrepot.provenance.deadjournals import Dead, journals_in, read_dead, unlock
from entrepot.provenance.events import Kind
from entrepot.provenance.held import HeldReceipts, holdable
from entrepot.provenance.inserts import insert_rows
from entrepot.provenance.journal import Entry, Row
from entrepot.provenance.schema import ensure_tables, events_table, journals_table
from entrepot.provenance.seals import unrecorded
from entrepot.provenance.shared import take_all

__all__ = ["RECOVERED", "Receipts", "discard", "mark_recovered", "recover_journals", "set_seq"]

logger = logging.getLogger(__name__)

#: The sequence number of a journal whose events were all recovered.
RECOVERED = -1
#: Receipts collected at most (:class:`Receipts`); past that, the look-ups ask the database.
KEPT_RECEIPTS = 200_000

_RECEIVED = Kind.RECEIVED.value
#: Journals recovered in one transaction at most, and lines (:func:`recover_journals`).
_GROUP = 256
_GROUP_ENTRIES = 50_000
#: What the journals of a transaction know is recorded: the events present (by
#: :func:`_identity`, with the step each row keeps) and, of those added, the latest
#: time of each place, name and kind.
_Known = tuple[dict[tuple[Any, ...], str], dict[tuple[str, str, str], float]]


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
    engine: Engine,
    folder: str | os.PathLike[str],
    receipts: Receipts | None = None,
    *,
    behind: list[threading.Thread] | None = None,
    held: HeldReceipts | None = None,
) -> int:
    """Add the events of journals in ``folder`` whose recorder died; return how many.

    A journal whose lock is held belongs to a live recorder and is left alone.
    The dead ones are added together, up to :data:`_GROUP` journals (or
    :data:`_GROUP_ENTRIES` lines) in one transaction: a program that puts
    files one at a time leaves a journal per file, and a transaction of
    their own took 1.5 ms a journal (3 s for 2,000).  ``receipts``: where to
    keep the receipts added.

    Once added, the journals are deleted, then forgotten (:func:`discard`).
    ``behind``: by a thread appended to it, instead of before this returns
    — their events are committed, and a journal left by a crash meanwhile
    adds nothing when read again.  Deleting a file costs the file system
    15–100 µs: a shipment deletes the journals of 2,000 puts while its
    transfers go on.

    ``held``: where a shipment keeps the journals of receipts alone, to add
    them with its own commit instead (:mod:`.held`; their receipts are in
    ``receipts`` all the same).
    """
    take_all(folder)  # what commands appended to the shared files: journals now
    journals = journals_in(Path(folder))
    if not journals:
        return 0
    ensure_tables(engine)
    added, lines = 0, 0
    recorded: list[Path] = []
    group: list[Dead] = []
    keeping: list[Dead] = []
    try:
        for journal in journals:
            dead = read_dead(journal)
            if dead is None:
                continue
            if held is not None and held.room(keeping, dead[2]) and holdable(dead[2]):
                keeping.append(dead)
                continue
            group.append(dead)
            lines += len(dead[2])
            if len(group) >= _GROUP or lines >= _GROUP_ENTRIES:
                added += _add_group(engine, group, recorded, receipts)
                lines = 0
        if keeping:
            assert held is not None
            _keep(engine, keeping, held, group, receipts)
        added += _add_group(engine, group, recorded, receipts)
    finally:
        unlock(keeping)
        unlock(group)  # not added (an error is on its way): left for the next reader
        if recorded and behind is not None:
            thread = threading.Thread(
                target=discard, args=(engine, recorded), name="entrepot-journals", daemon=True
            )
            thread.start()
            behind.append(thread)
        elif recorded:
            discard(engine, recorded)
    if added:
        log_event(logger, "provenance.recovered", events=added, folder=str(folder))
    return added


def _add_group(
    engine: Engine, group: list[Dead], recorded: list[Path], receipts: Receipts | None
) -> int:
    """Add the events of the dead journals ``group`` in one transaction, append them to
    ``recorded`` and release them (``group`` is emptied); return how many were added."""
    if not group:
        return 0
    added = _import(engine, {path.stem: entries for path, _, entries in group}, receipts)
    recorded += [path for path, _, _ in group]
    unlock(group)
    return added


def _keep(
    engine: Engine,
    keeping: list[Dead],
    held: HeldReceipts,
    group: list[Dead],
    receipts: Receipts | None,
) -> None:
    """Move the journals of ``keeping`` into ``held`` — those that no recorder committed
    from; the others into ``group``, added as any other (``keeping`` is emptied)."""
    t = journals_table
    tokens = [path.stem for path, _, _ in keeping]
    with engine.connect() as conn:
        known = set(conn.execute(sa.select(t.c.journal).where(t.c.journal.in_(tokens))).scalars())
    for dead in keeping:
        if dead[0].stem in known:
            group.append(dead)
            continue
        rows = held.keep(dead)
        if receipts is not None:
            receipts.note(rows)
    keeping.clear()


def discard(engine: Engine, recorded: list[Path]) -> None:
    """Delete the journals ``recorded`` (marked as such in the database), then forget them;
    a journal that cannot be deleted is told, and kept with its mark."""
    gone = []
    for path in recorded:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            log_event(
                logger, "provenance.journal_kept", logging.WARNING, journal=str(path), error=exc
            )
            continue
        gone.append(path.stem)
    if gone:
        _forget(engine, gone)


def _import(
    engine: Engine, journals: dict[str, list[Entry]], receipts: Receipts | None = None
) -> int:
    """Add what the database lacks of dead journals' entries (by token); return how many.

    Of each journal, the events numbered after its last commit go in, and
    so do the intents that were neither recorded nor contradicted by the
    file system.  The journals are then marked :data:`RECOVERED`, in the
    same transaction: read again (a crash before their files were deleted),
    they add nothing.  The journals are taken in order, each one's events
    counted as recorded for those after it, as if each had its own
    transaction.
    """
    tokens = [token for token, entries in journals.items() if entries]
    if not tokens:
        return 0
    added: list[Row] = []
    with write_transaction(engine) as conn:
        t = journals_table
        query = sa.select(t.c.journal, t.c.seq).where(t.c.journal.in_(tokens))
        done: dict[str, int] = dict(conn.execute(query).all())
        # Each journal not recovered yet, with the number of its last line committed.
        pending = {token: done.get(token) or 0 for token in tokens}
        pending = {token: last for token, last in pending.items() if last != RECOVERED}
        wanted = [
            entry.row
            for token, last in pending.items()
            for entry in journals[token]
            if entry.seq > last or entry.then
        ]
        known: _Known = (_present(conn, wanted), {})
        for token, last in pending.items():
            added += _missing(conn, journals[token], last, known)
        added = unrecorded(conn, added)  # an archive's hand-off may be journaled twice
        insert_rows(conn, added)
        _mark_recovered(conn, tokens, done)
    if receipts is not None:  # committed
        receipts.note(added)
    return len(added)


def _missing(conn: Connection, entries: list[Entry], last: int, known: _Known) -> list[Row]:
    """The rows one journal's ``entries`` add: those numbered after ``last`` and not
    known, and the steps announced, taken and not recorded.  ``known`` is given
    them, for the journals after this one."""
    present, steps = known
    fresh = []
    # The last line of each step (lines are numbered in order, not always written in
    # order): a step announced is recorded if a later line has it.
    latest: dict[tuple[Any, ...], int] = {}
    for entry in entries:
        if entry.seq > last and _identity(entry.row) not in present:
            fresh.append(entry.row)
        if entry.seq > latest.get(entry.key, -1):
            latest[entry.key] = entry.seq
    # Nothing announced, or the step kept in its row: recorded (see .steps).
    announced = [
        entry
        for entry in entries
        if entry.then is not None and not present.get(_identity(entry.row))
    ]
    fresh += [follow_up(entry) for entry in taken(conn, announced, latest, steps)]
    for row in fresh:
        present[_identity(row)] = row[13] or ""
        step = (row[2], row[3], row[1])
        steps[step] = max(steps.get(step, row[0]), row[0])
    return fresh


def _identity(row: Row) -> tuple[Any, ...]:
    """What names an event exactly: place, name, kind and time."""
    return row[2], row[3], row[1], row[0]


def _present(conn: Connection, rows: Sequence[Row]) -> dict[tuple[Any, ...], str]:
    """Which of ``rows`` the database has (by :func:`_identity`), each with the step its
    row keeps (``then_step``, or ``""``)."""
    t = events_table
    found: dict[tuple[Any, ...], str] = {}
    for place, listed, since in name_groups((row[2], row[3], row[0]) for row in rows):
        query = sa.select(t.c.name, t.c.kind, t.c.at, t.c.then_step).where(
            t.c.place == place, t.c.name.in_(listed), t.c.at >= since
        )
        for name, kind, at, then in conn.execute(query):
            found[place, name, kind, at] = then or ""
    return found


def set_seq(conn: Connection, token: str, seq: int) -> None:
    values = {"seq": seq, "at": time.time()}
    updated = conn.execute(
        journals_table.update().where(journals_table.c.journal == token).values(**values)
    ).rowcount
    if not updated:
        conn.execute(journals_table.insert().values(journal=token, **values))


def mark_recovered(conn: Connection, tokens: list[str]) -> None:
    """Mark the journals ``tokens``, which have no row yet, :data:`RECOVERED`."""
    _mark_recovered(conn, tokens, {})


def _mark_recovered(conn: Connection, tokens: list[str], known: dict[str, int]) -> None:
    """Mark the journals ``tokens`` :data:`RECOVERED` (``known``: those with a row)."""
    t, at = journals_table, time.time()
    rows = [token for token in tokens if token in known]
    if rows:
        conn.execute(t.update().where(t.c.journal.in_(rows)).values(seq=RECOVERED, at=at))
    new = [{"journal": token, "seq": RECOVERED, "at": at} for token in tokens if token not in known]
    if new:
        conn.execute(t.insert(), new)


def _forget(engine: Engine, tokens: list[str]) -> None:
    # Only bookkeeping: rows left behind by a failure here cost nothing (retention
    # prunes them).
    t = journals_table
    with contextlib.suppress(sa.exc.SQLAlchemyError), write_transaction(engine) as conn:
        for listed in groups(tokens, NAMES):
            conn.execute(t.delete().where(t.c.journal.in_(listed)))
