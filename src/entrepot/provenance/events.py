"""The provenance event: one step in the life of one file.

Every step Entrepôt takes with a file is one :class:`Event`: the file's
identity (where it lives — a spool, a data center, an archive folder — and
its name), its size and content checksum when known, when the step happened,
which job and host took it, how it ended, and the step's own details (the
target, the remote copy, the attempt, a failure's reason and code, an
import's table and rows).  Events are plain values: the recorder writes
them, the reader returns them.

Nothing secret is ever kept: :func:`Event.safe` masks passwords in every
text field (URLs, reasons), so an event can be shown or sent to a partner
as it is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

from entrepot.redact import mask_secrets, storable_text

__all__ = ["DELIVERED", "Event", "FileHistory", "Kind", "Outcome", "place_of"]


class Kind(StrEnum):
    """What happened to the file."""

    RECEIVED = "received"
    """Arrived in a spool (``details["source"]``: where from — put, fetch, batch)."""
    CLAIMED = "claimed"
    """Taken by a shipper for delivery."""
    DELIVERED = "delivered"
    """Published on a target and verified there."""
    FAILED = "failed"
    """A delivery (or import) that did not succeed; ``reason`` and ``code`` say why."""
    SKIPPED = "skipped"
    """Already on the target, identical: nothing was sent."""
    MOVED = "moved"
    """Moved within its spool after delivery (``details["to"]``: ``cur`` or ``archive``)."""
    DELETED = "deleted"
    """Deleted locally after delivery."""
    ARCHIVED = "archived"
    """Written into an archive."""
    SEALED = "sealed"
    """An archive sealed (records and checksum in the details)."""
    HANDED_OFF = "handed_off"
    """A sealed archive given to a spool for delivery."""
    UPLOADED = "uploaded"
    """Stored in the data center, waiting to be imported."""
    IMPORTED = "imported"
    """Imported into a table (table, mode, rows ok and failed, pending file)."""
    RETIRED = "retired"
    """A processed data center file moved to its backup."""
    REMOVED = "removed"
    """A data center file removed with its backup."""
    PRUNED = "pruned"
    """Deleted by retention."""


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


def place_of(folder: str | os.PathLike[str]) -> str:
    """How a spool or data center folder is named in events: its real, absolute path — a
    byte of it that is not UTF-8 written as ``\\xNN`` (:func:`~entrepot.redact.storable_text`):
    the name a database can store and every reader shows."""
    return storable_text(os.path.realpath(folder))


#: Kinds that mean "the partner has it".
DELIVERED = (Kind.DELIVERED, Kind.SKIPPED)


@dataclass(frozen=True)
class Event:
    """One step of one file; see the module docstring.

    ``place`` is where the file lives (a spool's or data center's absolute
    path); ``checksum`` is ``"sha256:<hex>"`` of the local content;
    ``target`` is the masked URL a delivery went to; ``details`` holds what
    is particular to the step (``remote_name``, ``remote_size``,
    ``remote_checksum``, ``reason``, ``code``, ``table``, ``rows_ok``…).
    """

    kind: Kind
    place: str
    name: str
    at: datetime
    size: int | None = None
    checksum: str | None = None
    job_id: str | None = None
    host: str | None = None
    outcome: Outcome = Outcome.OK
    target: str | None = None
    attempt: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def safe(self) -> Event:
        """The event with every secret masked (target URL, reasons, details)."""
        return replace(
            self,
            target=mask_secrets(self.target) if self.target else self.target,
            details=_masked(self.details),
        )

    def as_json(self) -> dict[str, Any]:
        """The event as JSON-ready values (the time in ISO 8601, UTC)."""
        return {
            "kind": str(self.kind),
            "place": self.place,
            "name": self.name,
            "at": self.at.astimezone(UTC).isoformat(),
            "size": self.size,
            "checksum": self.checksum,
            "job_id": self.job_id,
            "host": self.host,
            "outcome": str(self.outcome),
            "target": self.target,
            "attempt": self.attempt,
            "details": dict(self.details),
        }

    def details_text(self) -> str:
        return json.dumps(dict(self.details), sort_keys=True, separators=(",", ":"))


def _masked(details: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: mask_secrets(value) if isinstance(value, str) else value
        for key, value in details.items()
    }


class FileHistory(NamedTuple):
    """What a shipper needs to know of a file before it sends it."""

    checksum: str | None
    """``sha256:<hex>`` computed when the file was received, if it was."""
    failures: int
    """Failed deliveries since then: the next one is try ``failures + 1``."""
