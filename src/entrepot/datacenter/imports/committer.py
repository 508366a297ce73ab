"""Committing an import's chunks: several whole chunks per transaction, with their bookkeeping rows.

A transaction takes chunks as they come — each is written while the next
one is read and checked — until it holds ``commit_rows`` rows, then it
commits them together with one bookkeeping row per chunk.  So the set of
bookkeeping rows still says exactly which rows are in the database: a run
killed at any point leaves whole chunks committed, and the next run redoes
the others.  As on SQLite (``synchronous=NORMAL``, see :mod:`entrepot.db`),
these commits do not wait for the disk on PostgreSQL either
(``synchronous_commit`` off): one lost to a crash of the machine loses
whole chunks with their bookkeeping rows, which the next run redoes, and
the commit that ends the import's ``produce`` stage — the barrier before
any file moves — waits for all of them.

When reading the file fails (a cell over the limit, say), the chunks
written before it are committed first, as if each had had a transaction of
its own, and then the failure is raised.

On PostgreSQL another session may write a key between a look-up and the
write; the database then refuses the transaction, and its chunks are
written again, in a new one, under :data:`CHUNK_RETRY`, with the
database's verdicts of the failed try forgotten.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from entrepot.datacenter.imports.chunk_writer import ChunkWriter
from entrepot.datacenter.imports.header import HeaderPlan
from entrepot.datacenter.imports.record import ImportRecord
from entrepot.datacenter.imports.row_checks import CheckedChunk
from entrepot.datacenter.imports.source import NumberedChunk
from entrepot.errors import ImportFailed
from entrepot.jobs.retry import RetryPolicy
from entrepot.logs import log_event

logger = logging.getLogger(__name__)


def _raced(error: BaseException) -> bool:
    """Whether writing the chunks again may succeed: another writer got in between.

    A lost connection is not such a case: the import's job retries it later.
    """
    if isinstance(error, IntegrityError):
        return True
    return isinstance(error, OperationalError) and not error.connection_invalidated


#: Tries of one transaction, at once one after the other: a race is over when it is seen.
CHUNK_RETRY = RetryPolicy.fixed(3, 0.0, retryable=_raced)


@dataclass
class _Held:
    """A chunk written in the open transaction."""

    number: int
    chunk: CheckedChunk
    #: The chunk's problems before the database's verdicts, for a second try.
    checked: dict[int, list[str]]
    #: Rows stored.
    ok: int = 0
    reported: bool = False


class _Source:
    """The chunks to write, in order; those committed before only count as read."""

    def __init__(self, chunks: Iterable[NumberedChunk], on_read: Callable[[int], None]) -> None:
        self._chunks: Iterator[NumberedChunk] = iter(chunks)
        self._on_read = on_read
        #: Why reading stopped early, raised once what was written is committed.
        self.failure: ImportFailed | None = None

    def next(self) -> _Held | None:
        while self.failure is None:
            try:
                number, size, chunk = next(self._chunks)
            except StopIteration:
                return None
            except ImportFailed as exc:
                self.failure = exc
                return None
            if chunk is not None:
                checked = {pos: list(problems) for pos, problems in chunk.errors.items()}
                return _Held(number, chunk, checked)
            self._on_read(size)
        return None

    def written(self, held: _Held) -> None:
        if not held.reported:
            held.reported = True
            self._on_read(held.chunk.size)


class Committer:
    """Writes and commits the chunks of one import, ``commit_rows`` rows per transaction."""

    def __init__(
        self,
        writer: ChunkWriter,
        record: ImportRecord,
        plan: HeaderPlan,
        commit_rows: int,
        elapsed: Callable[[], float],
    ) -> None:
        self.writer = writer
        self.db = writer.db
        self.record = record
        self.plan = plan
        self.commit_rows = commit_rows
        self.elapsed = elapsed

    def run(self, chunks: Iterable[NumberedChunk], on_read: Callable[[int], None]) -> None:
        """Write and commit ``chunks``; ``on_read`` gets each chunk's row count once it is done."""
        source = _Source(chunks, on_read)
        while (first := source.next()) is not None:
            group = [first]
            try:
                with self.db.begin() as conn:
                    self._fill(conn, group, source)
                    self._record(conn, group)
            except (IntegrityError, OperationalError) as exc:
                self._rewrite(group, exc)
            for held in group:
                source.written(held)
            log_event(
                logger,
                "datacenter.chunks_committed",
                logging.DEBUG,
                job=self.record.import_id,
                chunks=f"{group[0].number}-{group[-1].number}",
                ok=sum(held.ok for held in group),
            )
        if source.failure is not None:
            raise source.failure

    def _begin(self, conn: Connection) -> None:
        """The start of a transaction of chunks."""
        if self.db.is_postgres:
            # A commit that does not wait for the disk (see the module's notes).
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO off")
        self.writer.begin()

    def _fill(self, conn: Connection, group: list[_Held], source: _Source) -> None:
        """Write ``group``'s chunk, then the next ones, until the transaction is full."""
        self._begin(conn)
        rows = 0
        while True:
            held = group[-1]
            held.ok = self.writer.write(conn, held.chunk, self.plan)
            source.written(held)
            rows += held.chunk.size
            if rows >= self.commit_rows or (following := source.next()) is None:
                return
            group.append(following)

    def _record(self, conn: Connection, group: list[_Held]) -> None:
        self.record.add_chunks(conn, [(held.number, held.chunk, held.ok) for held in group])
        self.record.update(conn, duration=self.elapsed())

    def _rewrite(self, group: list[_Held], error: IntegrityError | OperationalError) -> None:
        """Write ``group`` again in a new transaction, after ``error`` refused it."""
        policy = CHUNK_RETRY
        while True:
            decision = policy.increment(error, step="commit")
            if not decision.retry or self.record.chunk_committed(group[0].number):
                raise error
            policy = decision.policy
            log_event(
                logger,
                "datacenter.chunk_retry",
                logging.WARNING,
                job=self.record.import_id,
                chunks=f"{group[0].number}-{group[-1].number}",
                error=error,
            )
            try:
                with self.db.begin() as conn:
                    self._begin(conn)
                    for held in group:
                        held.chunk.errors = {pos: list(p) for pos, p in held.checked.items()}
                        held.ok = self.writer.write(conn, held.chunk, self.plan)
                    self._record(conn, group)
            except (IntegrityError, OperationalError) as exc:
                error = exc
                continue
            return
