"""A shipped file's three steps in one row: its claim, its delivery, its move.

Shipping a file takes three steps — ``claimed``, ``delivered`` (or
``skipped``), then ``moved`` into ``cur/`` (or ``deleted``) — and each is an
event.  Written as three rows they cost three inserts into a table with
four indexes; for small files that was most of what provenance cost a
shipment.  So the delivery's row keeps the other two:

* ``claimed_at`` — when the file was claimed (the claim has the delivery's
  size, checksum, job, host and try; no target, no details);
* ``then_step`` — the local step taken after the delivery, once it was
  taken: the JSON array ``[kind, at, details, attempt]`` (``details`` as
  the JSON text of an event's details).

Read back (:func:`unfolded`), such a row is the three events it stands for,
each with its own time: every reader of events — a trace, a receipt, the
dashboard — sees one event per step as before, and the hourly counts count
each (:func:`counted`).  Rows written before (three per file) and rows a
crash recovery writes from a journal read the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from entrepot.provenance.events import Event, Kind, Outcome
from entrepot.provenance.journal import COLUMNS, Row

__all__ = ["counted", "folded", "unfolded"]

_CLAIMED_AT = COLUMNS.index("claimed_at")
_DETAILS, _ATTEMPT = COLUMNS.index("details"), COLUMNS.index("attempt")
_THEN = COLUMNS.index("then_step")
_quoted = json.encoder.encode_basestring_ascii


def folded(delivery: Row, step: Row) -> Row:
    """``delivery``'s row keeping ``step`` (the event of the step taken after it)."""
    at, kind, details, attempt = step[0], step[1], step[_DETAILS], step[_ATTEMPT]
    # Written by hand, once per shipped file: the encoder's own call costs more.
    number = "null" if attempt is None else int(attempt)
    text = f"[{_quoted(kind)},{float(at)!r},{_quoted(details)},{number}]"
    return (*delivery[:_THEN], text)


def counted(row: Sequence[Any]) -> Iterator[tuple[float, str, int]]:
    """Each event ``row`` stands for, as (time, kind, bytes) for the hourly counts."""
    size = row[4] or 0
    if row[_CLAIMED_AT] is not None:
        yield row[_CLAIMED_AT], Kind.CLAIMED.value, size
    yield row[0], row[1], size
    if row[_THEN]:
        kind, at, _, _ = json.loads(row[_THEN])
        yield at, kind, 0


def unfolded(event: Event, row: Mapping[str, Any]) -> list[Event]:
    """The events the row of ``event`` stands for, in order (``event`` alone, mostly)."""
    claimed_at, then = row.get("claimed_at"), row.get("then_step")
    if claimed_at is None and not then:
        return [event]
    events = []
    if claimed_at is not None:
        at = datetime.fromtimestamp(claimed_at, UTC)
        events.append(
            replace(event, kind=Kind.CLAIMED, at=at, outcome=Outcome.OK, target=None, details={})
        )
    events.append(event)
    if then:
        kind, at, details, attempt = json.loads(then)
        events.append(
            replace(
                event, kind=Kind(kind), at=datetime.fromtimestamp(at, UTC), size=None,
                checksum=None, outcome=Outcome.OK, target=None, attempt=attempt,
                details=json.loads(details) if details else {},
            )
        )  # fmt: skip
    return events
