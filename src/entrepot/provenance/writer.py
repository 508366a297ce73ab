"""The thread that writes a recorder's full batches while the run goes on.

Each batch of events is handed to :class:`BatchWriter`, which writes them
in the order they were handed over, one at a time, with the function it
was given (one transaction per batch: see :mod:`.recorder`): the transfers
that record events do not wait for the database, unless it falls
``waiting`` batches behind.

Handing a batch over never waits, so a recorder can do it under its own
lock — the order in which batches are numbered is the order they are
written: a later batch committed first would mark an earlier one's journal
lines as recorded.  The wait for a writer that fell behind is separate
(:meth:`BatchWriter.wait`), for a caller that holds no lock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from entrepot.provenance.deliveries import Settled
from entrepot.provenance.journal import Row

__all__ = ["Batch", "BatchWriter"]

#: A batch of events: rows, and deliveries to make rows of (:mod:`.deliveries`).
Batch = tuple[list[Row], list[Settled]]
_Queued = tuple[Batch, int]


class BatchWriter:
    """Calls ``write(batch, seq)`` for each batch :meth:`put`, in order, in a thread."""

    def __init__(self, write: Callable[[Batch, int], None], *, waiting: int = 2) -> None:
        self._write = write
        self.waiting = waiting
        self._batches: deque[_Queued | None] = deque()
        #: Batches handed over and not yet written (or given back).
        self._unwritten = 0
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="entrepot-provenance", daemon=True)
        self._thread.start()

    def put(self, batch: Batch, seq: int) -> None:
        """Hand over a batch, written after those handed over before it; never waits."""
        with self._changed:
            self._batches.append((batch, seq))
            self._unwritten += 1
            self._changed.notify_all()

    def wait(self, most: int | None = None) -> None:
        """Wait until at most ``most`` batches (default: ``waiting``) are still unwritten."""
        limit = self.waiting if most is None else most
        with self._changed:
            while self._unwritten > limit:
                self._changed.wait()

    def drain(self) -> None:
        """Wait until every batch handed over so far was written (or given back)."""
        self.wait(0)

    def stop(self) -> None:
        """Write what is waiting, then end the thread."""
        with self._changed:
            self._batches.append(None)
            self._changed.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._batches:
                    self._changed.wait()
                item = self._batches.popleft()
            if item is None:
                return
            try:
                self._write(*item)
            finally:
                with self._changed:
                    self._unwritten -= 1
                    self._changed.notify_all()
