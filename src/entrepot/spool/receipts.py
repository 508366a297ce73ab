"""What a spool tells provenance: one ``received`` event for each file it publishes.

A :class:`~entrepot.spool.Spool` given ``provenance=`` appends a
``received`` event — size, SHA-256 of the bytes as they were written or
copied (none for a hard link: no byte passes), and where the file came from
— as each file is published, singly or in a batch: given a state folder, to
the receipts file that every spool and ``entrepot spool put`` of that state
folder shares (:mod:`entrepot.provenance.shared`); given an open journal
(:class:`~entrepot.provenance.journal.Journal`, or a
:class:`~entrepot.provenance.shared.SharedJournal`), to that.  Neither needs a
database: the next command that opens the ledger (``entrepot ship``,
``trace``…) records what they hold.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from entrepot.provenance.journal import Arrivals
    from entrepot.provenance.shared import SharedJournal

__all__ = ["Receipts"]


class Receipts:
    """A spool's journal of received files; thread-safe like the spool."""

    def __init__(self, where: str | os.PathLike[str] | Arrivals) -> None:
        from entrepot.provenance.journal import Arrivals
        from entrepot.provenance.shared import SharedJournal

        self.journal: Arrivals
        #: Opened here (from a state folder), so closed with the spool.
        self.owned: SharedJournal | None = None
        if isinstance(where, Arrivals):
            self.journal = where
        else:
            self.journal = self.owned = SharedJournal(where)
        self._lock = threading.Lock()

    @staticmethod
    def digest() -> Any:
        """A fresh :mod:`hashlib` object for the bytes of one file."""
        return hashlib.sha256()

    def received(self, root: str | os.PathLike[str], file: str, digest: Any, source: str) -> None:
        """Journal that ``file`` was published into the spool at ``root``, from ``source``."""
        from entrepot.provenance.events import Kind

        with self._lock:  # one sequence of numbers in the journal
            self.journal.arrived(Kind.RECEIVED, root, file, digest, {"source": source})

    def close(self) -> None:
        """Release the shared receipts file if this object opened it (its lines wait there
        to be recorded)."""
        if self.owned is not None:
            self.owned.close()
