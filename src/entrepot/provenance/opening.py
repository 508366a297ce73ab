"""What a recorder does as it opens: recover dead journals, fold fresh events.

A recorder that opens adds the events of journals whose recorder died
(:mod:`.recovery`: files put into spools since the ledger was last opened,
runs killed before their commit) and folds the fresh events if they are
many (:mod:`.folding`).  :class:`Opening` does both, in that order — now,
in the caller's thread, or *beside* the run, in a thread of its own, while
the run connects and transfers.

Beside the run, a shipment waits for the receipts it uses (each file's
checksum at receipt) only until they are read, not until they are in the
database: a journal of 2,000 receipts is read in about 15 ms and added in
about 30 ms more.  What asks the database about the files (their history,
the recorder's commits) waits for the whole recovery: :meth:`recovered`,
:meth:`done`.

A recovery that fails beside the run is told (``provenance.recovery_failed``)
and the run goes on without what it would have known: its dead journals
stay, released, for the next recorder to add; the receipts noted are
dropped (the files' checksums are then taken from their uploads).
"""

from __future__ import annotations

import logging
import os
import threading

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from entrepot.logs import log_event
from entrepot.provenance.folding import fold_behind, fold_if_many
from entrepot.provenance.recovery import Receipts, recover_journals

__all__ = ["Opening"]

logger = logging.getLogger(__name__)


class Opening:
    """Recovery of the dead journals in ``folder`` (None: none to look for), then the
    fold if due; ``beside``: in a thread of its own, started by :meth:`start` (or by
    the first wait for it), else done before this returns.

    ``receipts`` collects the receipts recovered; ``behind``: where the recovery
    appends the thread that deletes the journals it added (see
    :func:`~.recovery.recover_journals`).
    """

    def __init__(
        self,
        engine: Engine,
        folder: str | os.PathLike[str] | None,
        receipts: Receipts,
        behind: list[threading.Thread],
        *,
        beside: bool = False,
    ) -> None:
        self.receipts = receipts
        self._known = threading.Event()
        self._recovered = threading.Event()
        self._thread: threading.Thread | None = None
        if beside and isinstance(engine.pool, sa.pool.SingletonThreadPool):
            beside = False  # one connection per thread (SQLite in memory): now, here
        if not beside:
            if folder is not None:
                recover_journals(engine, folder, receipts, behind=behind)
            self._known.set()
            self._recovered.set()
            self._thread = fold_behind(engine)
            return
        self._thread = threading.Thread(
            target=self._open, args=(engine, folder, behind), name="entrepot-opening", daemon=True
        )
        self._started = threading.Lock()

    def start(self) -> None:
        """Start the work beside the run now, unless it was started already."""
        thread = self._thread
        if thread is None or self._recovered.is_set():
            return
        with self._started:
            if thread.ident is None:
                thread.start()

    def _open(
        self, engine: Engine, folder: str | os.PathLike[str] | None, behind: list[threading.Thread]
    ) -> None:
        try:
            if folder is not None:
                recover_journals(engine, folder, self.receipts, behind=behind, known=self._known)
        except Exception as exc:  # noqa: BLE001  (a thread's error would be printed, not told)
            if not self._known.is_set():  # maybe not the newest: the uploads will say
                self.receipts.clear()
            log_event(logger, "provenance.recovery_failed", logging.WARNING, error=exc)
        finally:
            self._known.set()
            self._recovered.set()
        fold_if_many(engine)

    def receipts_known(self) -> Receipts:
        """The receipts, once every receipt the recovery notes is in them."""
        self.start()
        self._known.wait()
        return self.receipts

    def recovered(self) -> None:
        """Wait until the dead journals are added (or their recovery failed)."""
        self.start()
        self._recovered.wait()

    def done(self) -> None:
        """Wait for the recovery and the fold."""
        self.start()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        self._recovered.wait()
