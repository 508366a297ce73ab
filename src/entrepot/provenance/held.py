"""Receipts kept for a shipment's commit: a file's arrival written in its delivery's row.

``entrepot spool put`` (or a spool's publish) writes each file's
``received`` event into a journal, without a database; the next recorder
to open adds such journals to the ledger (:mod:`.recovery`).  That next
recorder is usually the shipment that takes the files, and adding the
receipts first cost it two inserts per file put and shipped: the receipt's
row, then the delivery's.  A shipment's recorder (``hold_receipts``) keeps
those journals instead, locked, until its first commit that waits for the
disk (the end of its run): there each delivered file's receipt is written
in its delivery's row (``received_step``, :mod:`.steps`), the receipts of
files it did not deliver as rows of their own, and the journals are marked
recovered in that same transaction — then deleted.

A journal is kept only if it holds nothing but receipts (no step announced,
none of an archive's hand-off, whose events may be journaled twice:
:mod:`.seals`) and no recorder ever committed from it (nothing of it can be
in the database yet).  If the process dies before that commit, the kernel
drops its locks and the next recorder adds the journals as any dead one: a
receipt is written only in the commit that marks its journal recovered, so
once either way.  At most :data:`KEPT` journals are kept (each holds a
descriptor open), of :data:`KEPT_ROWS` receipts in all (held in memory for
the whole run); the others are added as the recorder opens, as before.

While they are kept, ``entrepot trace`` does not see those receipts (their
journals are locked, as a live recorder's are).  So they are kept for
:data:`KEEP_FOR` seconds at most: a run that lasts longer commits them
then, as rows of their own (:meth:`HeldReceipts.expire`), and writes its
later deliveries without them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from sqlalchemy.engine import Connection, Engine

from entrepot.db import write_transaction
from entrepot.logs import log_event
from entrepot.provenance.deadjournals import Dead, unlock
from entrepot.provenance.events import Kind
from entrepot.provenance.inserts import insert_rows
from entrepot.provenance.journal import COLUMNS, Entry, Row

__all__ = ["KEEP_FOR", "KEPT", "KEPT_ROWS", "HeldReceipts", "holdable"]

logger = logging.getLogger(__name__)

#: Journals kept at most by one recorder (one open descriptor each), and receipts.
KEPT, KEPT_ROWS = 256, 200_000
#: Seconds the receipts are kept at most, unseen by a trace meanwhile.
KEEP_FOR = 30.0
_RECEIVED = Kind.RECEIVED.value
_DETAILS = COLUMNS.index("details")


def holdable(entries: Sequence[Entry]) -> bool:
    """Whether a dead journal's ``entries`` are receipts alone, which a shipment may keep."""
    return bool(entries) and all(
        entry.then is None
        and entry.row[1] == _RECEIVED
        and '"archive":' not in (entry.row[_DETAILS] or "")
        for entry in entries
    )


class HeldReceipts:
    """The receipts of the journals a recorder keeps, by place and name, until its commit."""

    def __init__(self) -> None:
        #: The newest receipt of each file, and the older ones (a name put twice).
        self._newest: dict[tuple[str, str], Row] = {}
        self._older: list[Row] = []
        self._journals: list[Dead] = []
        self._rows = 0
        self._timer: threading.Timer | None = None

    def __len__(self) -> int:
        return len(self._journals)

    def room(self, waiting: Sequence[Dead], entries: Sequence[Entry]) -> bool:
        """Whether a journal of ``entries`` may be kept besides these and those ``waiting``
        to be."""
        rows = self._rows + sum(len(dead[2]) for dead in waiting) + len(entries)
        return len(self) + len(waiting) < KEPT and rows <= KEPT_ROWS

    def keep(self, dead: Dead) -> list[Row]:
        """Keep the dead journal ``dead`` (locked) and its receipts; return them."""
        rows = [entry.row for entry in dead[2]]
        self._rows += len(rows)
        newest = self._newest
        for row in rows:
            key = (row[2], row[3])
            known = newest.get(key)
            if known is None or known[0] <= row[0]:
                if known is not None:
                    self._older.append(known)
                newest[key] = row
            else:
                self._older.append(row)
        self._journals.append(dead)
        return rows

    def take(self, place: str, name: str, size: int | None, checksum: str | None) -> Row | None:
        """The receipt of ``name`` in ``place`` — taken out — if it describes the same bytes
        as its delivery (its size and checksum); else None, and it stays."""
        key = (place, name)
        row = self._newest.get(key)
        if row is None or row[4] != size or row[5] != checksum:
            return None
        del self._newest[key]
        return row

    def rest(self) -> list[Row]:
        """The receipts not taken, as rows of their own — taken out."""
        rows = [*self._older, *self._newest.values()]
        self._older, self._newest = [], {}
        return rows

    def mark(self, conn: Connection) -> None:
        """Mark the kept journals as recovered, in the transaction of their receipts."""
        from entrepot.provenance.recovery import mark_recovered

        mark_recovered(conn, [path.stem for path, _, _ in self._journals])

    def recorded(self, engine: Engine, behind: list[threading.Thread]) -> None:
        """The receipts are committed, the journals marked: delete and forget them in a
        thread appended to ``behind``, and release them."""
        from entrepot.provenance.recovery import discard

        paths = [path for path, _, _ in self._journals]
        self.release()
        thread = threading.Thread(
            target=discard, args=(engine, paths), name="entrepot-journals", daemon=True
        )
        thread.start()
        behind.append(thread)

    def expire(self, lock: threading.Lock, engine: Engine, behind: list[threading.Thread]) -> None:
        """Commit the receipts still kept :data:`KEEP_FOR` seconds from now, as rows of
        their own, holding ``lock`` (the recorder's: its flush takes them otherwise) —
        in a timer's thread, until :meth:`stop`."""
        if self._journals:
            self._timer = threading.Timer(KEEP_FOR, self._expired, (lock, engine, behind))
            self._timer.name, self._timer.daemon = "entrepot-receipts", True
            self._timer.start()

    def _expired(
        self, lock: threading.Lock, engine: Engine, behind: list[threading.Thread]
    ) -> None:
        with lock:
            if not self._journals:
                return  # the flush took them
            rows = [*self._older, *self._newest.values()]
            try:
                with write_transaction(engine) as conn:
                    insert_rows(conn, rows)
                    self.mark(conn)
            # Whatever the failure, they stay kept: the flush writes them, or raises it.
            except Exception as exc:  # noqa: BLE001
                log_event(logger, "provenance.write_failed", logging.WARNING, error=exc)
                return
            self._older, self._newest = [], {}
            self.recorded(engine, behind)
            log_event(logger, "provenance.receipts_committed", receipts=len(rows))

    def stop(self) -> None:
        """No commit after :data:`KEEP_FOR` (the recorder closes)."""
        if self._timer is not None:
            self._timer.cancel()

    def release(self) -> None:
        """Release the journals still kept (their receipts not committed): the next recorder
        adds them."""
        unlock(self._journals)
