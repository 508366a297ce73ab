"""A shipped file's steps in one row: its receipt, its claim, its delivery, its move.

Shipping a file takes three steps — ``claimed``, ``delivered`` (or
``skipped``), then ``moved`` into ``cur/`` (or ``deleted``) — and each is an
event.  Written as three rows they cost three inserts into a table with
four indexes; for small files that was most of what provenance cost a
shipment.  So the delivery's row keeps the other two, and the file's
``received`` event too when the shipment recorded it (a receipt that
``entrepot spool put`` left in a journal, added with the run's commit:
:mod:`.held`):

* ``received_step`` — the receipt: the JSON array ``[at, details, job_id,
  host]`` (``details`` as the JSON text of its details); its place, name,
  size and checksum are the delivery's, its outcome ``ok``;

* ``claimed_at`` — when the file was claimed (the claim has the delivery's
  size, checksum, job, host and try; no target, no details);
* ``then_step`` — the local step taken after the delivery, once it was
  taken: the JSON array ``[kind, at, details, attempt]`` (``details`` as
  the JSON text of an event's details).

Read back (:func:`unfolded`), such a row is the events it stands for,
each with its own time: every reader of events — a trace, a receipt, the
dashboard — sees one event per step as before, and the hourly counts count
each (:func:`tally`).  Rows written before (three per file) and rows a
crash recovery writes from a journal read the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from entrepot.provenance.events import Event, Kind, Outcome
from entrepot.provenance.journal import COLUMNS

__all__ = [
    "Counts", "receipt_text", "step_of", "step_parts", "step_text", "tally", "unfolded",
]  # fmt: skip

_CLAIMED_AT = COLUMNS.index("claimed_at")
_THEN = COLUMNS.index("then_step")
_RECEIPT = COLUMNS.index("received_step")
_quoted = json.encoder.encode_basestring_ascii
_CLAIMED, _RECEIVED = Kind.CLAIMED.value, Kind.RECEIVED.value


def receipt_text(at: float, details: str, job_id: str | None, host: str | None) -> str:
    """The ``received_step`` text of a receipt at ``at`` (``details``: JSON text), written
    by hand: once per file shipped with its receipt."""
    job = "null" if job_id is None else _quoted(job_id)
    where = "null" if host is None else _quoted(host)
    return f"[{float(at)!r},{_quoted(details)},{job},{where}]"


def step_text(kind: str, at: float, details: str, attempt: int | None) -> str:
    """The ``then_step`` text of a step of ``kind`` taken at ``at`` (``details``: JSON text)."""
    head, tail = step_parts(kind, details, attempt)
    return f"{head}{float(at)!r}{tail}"


def step_parts(kind: str, details: str, attempt: int | None) -> tuple[str, str]:
    """What comes before and after the time in a :func:`step_text`: written by hand, once
    per shipped file (the encoder's own call costs more), or once per run's template."""
    number = "null" if attempt is None else int(attempt)
    return f"[{_quoted(kind)},", f",{_quoted(details)},{number}]"


def step_of(text: str) -> tuple[str, float]:
    """The kind and time of a ``then_step`` text, read without the JSON decoder where
    :func:`step_text` wrote it (once per shipped file, when the hours are counted)."""
    end = text.find('",', 2)
    comma = text.find(",", end + 2)
    if text.startswith('["') and end > 0 and comma > 0 and "\\" not in text[2:end]:
        try:
            return text[2:end], float(text[end + 2 : comma])
        except ValueError:
            pass
    kind, at, _, _ = json.loads(text)
    return kind, at


#: Events counted by hour (since the epoch) and kind: ``[files, bytes]`` each.
Counts = dict[tuple[int, str], list[int]]


def tally(rows: Iterable[Sequence[Any]]) -> Counts:
    """The events that ``rows`` stand for, counted by hour (since the epoch) and kind:
    ``[files, bytes]`` each; a move after a delivery counts no bytes."""
    counts: Counts = {}

    def add(at: float, kind: str, size: int) -> None:
        key = (int(at // 3600), kind)
        found = counts.get(key)
        if found is None:
            counts[key] = [1, size]
        else:
            found[0] += 1
            found[1] += size

    for row in rows:
        size = row[4] or 0
        if len(row) > _RECEIPT and row[_RECEIPT]:
            add(json.loads(row[_RECEIPT])[0], _RECEIVED, size)
        if row[_CLAIMED_AT] is not None:
            add(row[_CLAIMED_AT], _CLAIMED, size)
        add(row[0], row[1], size)
        if row[_THEN]:
            kind, at = step_of(row[_THEN])
            add(at, kind, 0)
    return counts


def unfolded(event: Event, row: Mapping[str, Any]) -> list[Event]:
    """The events the row of ``event`` stands for, in order (``event`` alone, mostly)."""
    claimed_at, then = row.get("claimed_at"), row.get("then_step")
    receipt = row.get("received_step")
    if claimed_at is None and not then and not receipt:
        return [event]
    events = []
    if receipt:
        at, details, job_id, host = json.loads(receipt)
        events.append(
            replace(
                event, kind=Kind.RECEIVED, at=datetime.fromtimestamp(at, UTC), job_id=job_id,
                host=host, outcome=Outcome.OK, target=None, attempt=None,
                details=json.loads(details) if details else {},
            )
        )  # fmt: skip
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
