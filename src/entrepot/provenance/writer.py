"""The thread that writes a recorder's full batches while the run goes on.

Each batch of events is handed to :class:`BatchWriter`, which writes them
in order, one at a time, with the function it was given (one transaction
per batch: see :mod:`.recorder`): the transfers that record events do not
wait for the database, unless it falls two batches behind.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from entrepot.provenance.journal import Row

__all__ = ["BatchWriter"]


class BatchWriter:
    """Calls ``write(rows, seq)`` for each batch :meth:`put`, in order, in a thread."""

    def __init__(self, write: Callable[[list[Row], int], None], *, waiting: int = 2) -> None:
        self._write = write
        self._queue: queue.Queue[tuple[list[Row], int] | None] = queue.Queue(maxsize=waiting)
        self._thread = threading.Thread(target=self._run, name="entrepot-provenance", daemon=True)
        self._thread.start()

    def put(self, rows: list[Row], seq: int) -> None:
        """Hand over a batch (waits while ``waiting`` batches are already waiting)."""
        self._queue.put((rows, seq))

    def drain(self) -> None:
        """Wait until every batch handed over so far was written (or given back)."""
        self._queue.join()

    def stop(self) -> None:
        """Write what is waiting, then end the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                self._write(*item)
            finally:
                self._queue.task_done()
        self._queue.task_done()
