"""Recording events: buffered, written in one transaction per batch, journaled.

A :class:`Recorder` keeps the events of a run in memory and writes them to
the database in one transaction per batch (``batch`` events, and whatever is
left when it is flushed or closed) — never one transaction per file, which
would cost more than the transfer of a small file.  A full batch is written
by a thread of the recorder's own while the run goes on (the transfers do
not wait for the database); :meth:`Recorder.flush` waits for it.

Events still in memory would be lost with the process (``kill -9``) while
their work was done: a file moved to ``cur/`` is never shipped again, so its
delivery would never be recorded.  Hence each event is also appended, as
one JSON line, to the recorder's *journal* in the state folder — copied
into a mapped file, which the kernel keeps when the process dies (only a
power cut can lose it, like the last ledger transaction).  The journal is
emptied once its events are committed durably: at each :meth:`~Recorder.flush`
(the end of a run), not after the batches written meanwhile, whose commits
do not wait for the disk.  A recorder holds an
exclusive ``flock`` on its journal while it lives; :func:`recover_journals`
(run whenever a recorder opens) adds the events of journals whose owner
died and deletes them (:mod:`.recovery`).  Each journal's last covered
line number is stored with its events, so a journal read again after a
crash between the commit and the emptying adds nothing twice.

A delivery's row is held until the move after it is settled, then written
keeping it (:mod:`.steps`): one row per shipped file.  While rows are held,
a batch covers the journal only up to the line before the oldest of them.
A shipper gives a delivery as a template and its file's own values
(:meth:`Recorder.deliver`, :mod:`.deliveries`): the rows are made when
their batch is written, not in the threads that transfer the files.  A
shipment's recorder (``hold_receipts``) keeps the receipts that puts left
in journals for its first flush, which writes each in its delivery's row
(:mod:`.held`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from entrepot.db import write_transaction
from entrepot.logs import log_event
from entrepot.provenance.deliveries import Delivery, Settled, Template, made_rows
from entrepot.provenance.events import Kind, Outcome
from entrepot.provenance.folding import fold_behind
from entrepot.provenance.held import HeldReceipts
from entrepot.provenance.inserts import insert_rows
from entrepot.provenance.journal import JOURNAL_DIR, Journal, Row, Then, event_row
from entrepot.provenance.recovery import RECOVERED, Receipts, recover_journals, set_seq
from entrepot.provenance.schema import ensure_tables
from entrepot.provenance.steps import Counts
from entrepot.provenance.writer import Batch, BatchWriter

__all__ = ["BATCH", "Recorder", "recover_journals"]

logger = logging.getLogger(__name__)

#: Rows per transaction.  A full batch is written by the recorder's thread
#: while the transfers go on; the rest, as the run ends, while nothing else
#: happens.  The writing thread competes with the transfers for the
#: processor and the interpreter: shipping 2,000 files of 4 KiB (one row per
#: file) with against without provenance, batches of 500 rows — four written
#: during the run — gave 0.90–0.91 to S3 and 0.83–0.89 to a local folder
#: (12 rounds each, the S3 server on the same two cores), batches of 1,000
#: 0.90 and 0.88, batches of 5,000 — everything written at the end — 0.95–0.98
#: to S3 and 0.87–0.90 to a local folder.  Held in memory meanwhile: a few
#: megabytes.
BATCH = 5000


class Recorder:
    """Records events for one job (or one command); see the module docstring.

    Thread-safe: parallel transfers record through one recorder.  Use it as
    a context manager, or call :meth:`close`; :attr:`attempt` is the try of
    the run the next events belong to.  Without ``state_dir`` there is no
    journal: events not yet flushed die with the process.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        state_dir: str | os.PathLike[str] | None = None,
        job_id: str | None = None,
        batch: int = BATCH,
        hold_receipts: bool = False,
    ) -> None:
        ensure_tables(engine)
        self.engine = engine
        self.job_id = job_id
        self.attempt: int | None = None
        self.batch = batch
        self._lock = threading.Lock()
        self._rows: list[Row] = []
        #: Deliveries whose step was settled, made into rows when they are written.
        self._deliveries: list[Settled] = []
        self._journal: Journal | None = None
        self._intents = 0
        self._writer: BatchWriter | None = None
        #: Batches given to the writer and not yet written (or given back).
        self._queued = 0
        #: Events a failed write gave back, in order, before those of ``_rows``; while
        #: there are any, the writer adds its batches here (see :meth:`_write_batch`).
        self._unwritten: list[Row] = []
        #: Deliveries (:meth:`deliver`) waiting for the step their line announced, by
        #: ticket, with their line's number.
        self._held: dict[int, tuple[int, tuple[Template, Delivery]]] = {}
        self._tickets = 0
        #: The steps settled after deliveries, ``(ticket, time or None)``, appended without
        #: the lock (one call per shipped file) and matched with their deliveries under
        #: it (:meth:`_match`) when a batch is written.
        self._moves: deque[tuple[int, int | None]] = deque()
        #: A batch was committed without waiting for the disk since the last flush.
        self._relaxed = False
        #: The receipts that this recorder added from journals as it opened (files put
        #: into spools since the ledger was last opened), for a shipment's look-up.
        self.receipts = Receipts()
        #: Deleting the journals recovered as it opened, while the run goes on; joined
        #: as it closes.
        self._discarding: list[threading.Thread] = []
        #: The journals of receipts kept for the first flush (:mod:`.held`).
        self._kept = HeldReceipts() if hold_receipts else None
        if state_dir is not None:
            folder = Path(state_dir) / JOURNAL_DIR
            try:
                recover_journals(
                    engine, folder, self.receipts, behind=self._discarding, held=self._kept
                )
                self._journal = Journal(state_dir)
            except BaseException:
                if self._kept is not None:
                    self._kept.release()
                raise
            if self._kept is not None:
                self._kept.expire(self._lock, engine, self._discarding)
        #: The fold of the events made fresh by earlier runs, if they are many, while this
        #: run goes on (:func:`~.folding.fold_behind`); joined before the first flush.
        self._folding: threading.Thread | None = fold_behind(engine)

    def record(
        self,
        kind: Kind | str,
        place: str,
        name: str,
        *,
        size: int | None = None,
        checksum: str | None = None,
        outcome: Outcome = Outcome.OK,
        target: str | None = None,
        attempt: int | None = None,
        details: Mapping[str, Any] | str | None = None,
        then: Then | None = None,
        journaled: bool = True,
    ) -> None:
        """Add one event (written with its batch); secrets in any text are masked.

        ``attempt`` defaults to :attr:`attempt`, the try of the run.
        ``details`` may be given as JSON text already (a constant of the caller).

        ``then`` announces the next step of the file, about to be taken
        outside the database (a local move): once it is done, :meth:`settle`
        records its event; also call it when the step failed.  A process
        killed in between leaves the announcement in its journal, and
        recovery records the step if it did happen (see
        :class:`~.journal.Then`).  Until every announced step is settled the
        journal is not emptied.  ``journaled=False`` leaves the event out of
        the journal.
        """
        row = event_row(
            kind, place, name, size=size, checksum=checksum, job_id=self.job_id,
            outcome=outcome, target=target, attempt=attempt or self.attempt, details=details,
        )  # fmt: skip
        self.add((row,), then, journaled=journaled)

    def add(self, rows: Sequence[Row], then: Then | None = None, *, journaled: bool = True) -> None:
        """Add the events ``rows`` of one file (:func:`~.journal.event_row`), in one journal
        line; ``then`` and ``journaled`` as for :meth:`record` (``then`` follows the last).

        The line is numbered under the recorder's lock and written after it
        (threads do not queue behind each other's ``write``): a batch may
        be committed, and the journal emptied, before the line of one of
        its events is written.  That line, left behind, numbers events the
        database has, which recovery never adds again (:mod:`.recovery`).
        """
        journal = self._journal if journaled else None
        with self._lock:
            if then is not None:
                self._intents += 1  # settled by settle()
            seq = journal.number() if journal is not None else 0
            self._rows += rows
            handed = self._hand_over()
        if journal is not None:
            journal.write(seq, rows, then)
        if handed is not None:
            handed.wait()

    def deliver(self, template: Template, delivery: Delivery) -> int:
        """Add a delivery, held until :meth:`settle` with the ticket returned says whether
        the step its template announces was taken; written as one short journal line
        (:mod:`.deliveries`), which announces the step.  Until then the batches record
        the journal as covered only up to the line before its own."""
        journal = self._journal
        handed = None
        with self._lock:
            self._intents += 1
            seq = journal.number() if journal is not None else 0
            self._tickets += 1
            ticket = self._tickets
            held = self._held
            held[ticket] = (seq, (template, delivery))
            if len(held) >= self.batch:  # settled ones among them: a batch may be full
                self._match()
                handed = self._hand_over()
        if journal is not None:
            journal.write_delivery(seq, template, delivery)
        if handed is not None:
            handed.wait()
        return ticket

    def _covered(self) -> int:
        """The last journal line whose events are all in memory or written (lock held)."""
        if self._journal is None:
            return 0
        waiting = [seq for seq, _ in self._held.values()]
        return min(waiting) - 1 if waiting else self._journal.seq

    def _hand_over(self) -> BatchWriter | None:
        """Give a full batch to the writing thread (lock held): the writer, else None."""
        if len(self._rows) + len(self._deliveries) < self.batch:
            return None
        batch = (self._rows, self._deliveries)
        self._rows, self._deliveries = [], []
        self._queued += 1
        if self._writer is None:
            self._writer = BatchWriter(self._write_batch)
        self._writer.put(batch, self._covered())
        return self._writer

    def settle(self, step: Row | int | None = None, *, ticket: int | None = None) -> None:
        """A step announced was taken — ``step``, its event — or did not happen (None).

        ``ticket``: the delivery :meth:`deliver` held for this step, recorded
        with the next batch written, its row keeping the step (:mod:`.steps`)
        taken at ``step``, a time in microseconds (:func:`~.deliveries.now`);
        noted without the recorder's lock, once per shipped file.  Without a ticket,
        the step announced by :meth:`record` or :meth:`add` with ``then``:
        its event ``step`` (if given) is recorded without a journal line —
        the announcement stands for it.
        """
        if ticket is not None:
            # One call, no lock: a deque's append is safe from any thread.
            self._moves.append((ticket, step if isinstance(step, int) else None))
            return
        with self._lock:
            self._intents -= 1
            if isinstance(step, tuple):
                self._rows.append(step)
            handed = self._hand_over()
        if handed is not None:
            handed.wait()

    def _match(self) -> None:
        """Record the deliveries whose step was settled, in the order they were (lock held)."""
        moves, held, deliveries = self._moves, self._held, self._deliveries
        while moves:
            ticket, taken = moves.popleft()
            self._intents -= 1
            deliveries.append((*held.pop(ticket)[1], taken))

    def flush(self, *, last: bool = False) -> None:
        """Write every buffered event (after the batches given to the writing thread), in
        one transaction, then empty the journal.

        ``last`` (from :meth:`close`) marks the journal as fully recorded in
        the same transaction: it is about to be deleted, and if it were
        read again nothing in it would be added.
        """
        self._folded()
        while True:
            if self._writer is not None:
                self._writer.drain()
            with self._lock:
                if self._queued:
                    continue  # a batch handed over meanwhile: written first
                self._match()
                kept = self._kept if self._kept else None
                rows, counts = made_rows(self._unwritten + self._rows, self._deliveries, kept)
                self._unwritten, self._rows, self._deliveries = [], [], []
                if not rows and not self._relaxed and not kept:
                    return  # (else a commit of nothing makes the batches' commits durable)
                seq = RECOVERED if last and not self._held else self._covered()
                try:
                    self._commit(rows, counts, seq, durable=True, kept=kept is not None)
                except BaseException:
                    self._unwritten = rows  # for the next flush; the journal has them too
                    raise
                if kept is not None:
                    kept.recorded(self.engine, self._discarding)
                self._relaxed = False
                self._committed(seq)
                return

    def _commit(
        self, rows: list[Row], counts: Counts, seq: int, *, durable: bool, kept: bool = False
    ) -> None:
        """Insert ``rows`` (their events ``counts``) and note the journal's ``seq`` as
        recorded — and, if ``kept``, those of receipts kept — in one transaction that
        waits for the disk if ``durable`` (see :meth:`_write_batch`)."""
        with write_transaction(self.engine, durable=durable) as conn:
            insert_rows(conn, rows, counts)
            if self._journal is not None:
                set_seq(conn, self._journal.token, seq)
            if kept and self._kept is not None:
                self._kept.mark(conn)

    def _folded(self) -> None:
        """Wait for the fold started when the recorder opened, if it still runs."""
        folding, self._folding = self._folding, None
        if folding is not None:
            folding.join()

    def _write_batch(self, batch: Batch, seq: int) -> None:
        """Write a full batch (in the writer's thread): its rows and settled deliveries.

        Its commit does not wait for the disk, and the journal is kept: a
        crash of the machine may lose the batch, never its events, which the
        journal still has.  The next :meth:`flush` (at the end of each run)
        commits durably — which makes the earlier commits durable too — and
        only then empties the journal.  So a run's batches sync the ledger's
        log once, at its end, not while the transfers sync their own files.

        A batch that fails, and every batch after it, goes back to
        ``_unwritten`` without being tried — a later batch committed first
        would mark the journal's earlier events as recorded — for the next
        :meth:`flush` to write.
        """
        try:
            rows, counts = made_rows(*batch)
            with self._lock:
                behind = bool(self._unwritten)
            if not behind:
                try:
                    self._commit(rows, counts, seq, durable=False)
                # Whatever the failure, the rows go back and the flush raises it again.
                except Exception as exc:  # noqa: BLE001
                    log_event(logger, "provenance.write_failed", logging.WARNING, error=exc)
                else:
                    with self._lock:
                        self._relaxed = True
                    return
            with self._lock:
                self._unwritten += rows
        finally:
            with self._lock:
                self._queued -= 1

    def _committed(self, seq: int) -> None:
        """Empty the journal if the events up to ``seq`` are all it holds (lock held)."""
        journal = self._journal
        if journal is not None and not self._intents and seq in (journal.seq, RECOVERED):
            journal.empty()

    def close(self) -> None:
        """Flush, then delete the journal (its events are all in the database).

        When the flush fails the journal stays, for the next recorder to recover.
        """
        if self._kept is not None:
            self._kept.stop()
        try:
            self.flush(last=True)
        finally:
            if self._kept is not None:
                self._kept.release()  # not committed: left for the next recorder
            for thread in self._discarding:
                thread.join()
            if self._writer is not None:
                self._writer.stop()
            journal, self._journal = self._journal, None
            if journal is not None:
                unwritten = self._rows or self._deliveries or self._unwritten or self._held
                journal.close(remove=not unwritten)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
