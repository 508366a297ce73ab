"""What a spool tells provenance: one ``received`` event for each file it publishes.

A :class:`~entrepot.spool.Spool` given a provenance journal (``provenance=``
a state folder, or an open :class:`~entrepot.provenance.journal.Journal`)
appends a ``received`` event — size, SHA-256 of the bytes as they were
written or copied (none for a hard link: no byte passes), and where the
file came from — to that journal as each file is published, singly or in a
batch.  Writing a journal needs no database: the next command that opens
the ledger (``entrepot ship``, ``trace``…) records what it holds, as for
``entrepot spool put``.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from entrepot.provenance.journal import Journal

__all__ = ["Receipts"]


class Receipts:
    """A spool's journal of received files; thread-safe like the spool."""

    def __init__(self, where: str | os.PathLike[str] | Journal) -> None:
        from entrepot.provenance.journal import Journal

        #: Opened here (from a state folder), so closed with the spool.
        self.owned = not isinstance(where, Journal)
        self.journal = Journal(where) if not isinstance(where, Journal) else where
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
        """Release a journal this object opened (it waits there to be recorded)."""
        if self.owned:
            self.journal.close(remove=False)
