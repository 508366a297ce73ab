"""Provenance: where every file went, step by step, in the ledger.

Every step Entrepôt takes with a file — received into a spool, claimed,
delivered (or failed, or skipped as identical), moved to ``cur/`` or
deleted, uploaded to and imported by the data center — is one
:class:`Event`, recorded in batches by a :class:`Recorder` into the ledger's
database (SQLite or PostgreSQL) and read back by the functions of
:mod:`.reader`::

    from entrepot.provenance import find, verdict

    journey = find(ledger.engine, "report-2026-12-05.csv")
    print(verdict(journey))   # delivered to ftp://partner@… at …, checksum matches

``entrepot trace`` and ``entrepot receipt`` show the same.  See
``docs/provenance.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from entrepot.provenance.events import DELIVERED, Event, Kind, Outcome

if TYPE_CHECKING:
    from entrepot.provenance.reader import by_file, deliveries, find, undelivered, verdict
    from entrepot.provenance.recorder import Recorder, recover_journals

# The events are light; the recorder and the reader need SQLAlchemy, imported
# only when they are used (a ``ship`` with nothing waiting never needs them).
_LAZY = {
    "Recorder": "recorder",
    "recover_journals": "recorder",
    "by_file": "reader",
    "deliveries": "reader",
    "find": "reader",
    "undelivered": "reader",
    "verdict": "reader",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "DELIVERED",
    "Event",
    "Kind",
    "Outcome",
    "Recorder",
    "by_file",
    "deliveries",
    "find",
    "recover_journals",
    "undelivered",
    "verdict",
]
