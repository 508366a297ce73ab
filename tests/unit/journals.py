"""A journal's writer killed, as the tests of recovery need it."""

from __future__ import annotations

import os

from entrepot.provenance.journal import Journal


def die(journal: Journal | None) -> None:
    """Let ``journal`` go as a process killed with ``kill -9`` would: its lines stay in the
    file (zeros after them included), its mapping and its lock go."""
    assert journal is not None and journal._fd is not None
    journal._unmap()
    os.close(journal._fd)
    journal._fd = None
