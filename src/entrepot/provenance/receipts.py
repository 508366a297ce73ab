"""Delivery receipts: what a place delivered, where, when, with checksums, as CSV or JSON.

The manifest an operator sends a partner who says a file never arrived:
one line per delivery (or copy found identical on the target) with the
file's name, size and SHA-256, the time, the target, the remote name, size
and checksum, the job and the try.  ``entrepot receipt`` and the dashboard
write the same text (:func:`write_receipt`, :func:`receipt_pieces`), a
delivery at a time as it is read: the deliveries recorded when it began
(:func:`recorded_by_now`), each once, however many are recorded meanwhile.

The names come from whoever named the files.  The CSV form is opened in
spreadsheets: a text that one would run as a formula is written with an
apostrophe in front (:func:`~entrepot.redact.defuse_formula`, the rule of
the data center's files), which the spreadsheet shows as the text itself.
The JSON form keeps every text as it is.

>>> from datetime import UTC, datetime
>>> at = datetime(2026, 12, 5, 2, 14, 3, tzinfo=UTC)
>>> sent = Event(Kind.DELIVERED, "/srv/out", '=HYPERLINK("http://x")', at, size=3,
...              target="ftp://partner/in", details={"remote_name": "-x"})
>>> print(receipt_text([sent]).splitlines()[1])
"'=HYPERLINK(""http://x"")",3,,2026-12-05T02:14:03+00:00,delivered,ftp://partner/in,'-x,,,,
>>> json.loads(receipt_text([sent], "json"))[0]["name"]
'=HYPERLINK("http://x")'
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections.abc import Iterable, Iterator
from datetime import UTC
from typing import IO, Any, Literal, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select

from entrepot.errors import ConfigError
from entrepot.provenance.events import Event, Kind
from entrepot.provenance.schema import events_table
from entrepot.redact import defuse_formula

__all__ = [
    "RECEIPT_COLUMNS", "ReceiptFormat", "receipt_format", "receipt_pieces", "receipt_row",
    "receipt_text", "recorded_by_now", "write_receipt",
]  # fmt: skip

ReceiptFormat = Literal["csv", "json"]

#: Receipt columns, in order.
RECEIPT_COLUMNS = (
    "name",
    "size",
    "sha256",
    "delivered_at",
    "result",
    "target",
    "remote_name",
    "remote_size",
    "remote_checksum",
    "job_id",
    "attempt",
)

#: The columns whose texts others chose (names, a target's URL, a remote's checksum).
_NAMED_BY_OTHERS = ("name", "target", "remote_name", "remote_checksum")


def receipt_format(text: str) -> ReceiptFormat:
    """``text`` as a receipt format; :class:`~entrepot.errors.ConfigError` if it is none."""
    if text not in ("csv", "json"):
        raise ConfigError(f"unknown receipt format {text!r}: use csv or json")
    return cast(ReceiptFormat, text)


def recorded_by_now(engine: Engine, query: Select[Any]) -> Select[Any]:
    """``query`` (of the events table) kept to the rows recorded by now, found by the
    highest event id there is: a receipt read a page at a time, each page in a read of
    its own, is still one list — the deliveries recorded when it began, each once.

    Rows are only ever added, and numbered in the order they are: one recorded while
    the pages are read has a higher id, whatever its time (before or after the page
    in hand), and is left to the next receipt.  (On PostgreSQL, a write still being
    committed as the receipt begins may hold lower ids: its rows may be listed too.)
    """
    t = events_table
    with engine.connect() as conn:
        newest = conn.execute(sa.select(sa.func.max(t.c.id))).scalar()
    return query.where(t.c.id <= (newest or 0))


def receipt_row(event: Event) -> dict[str, Any]:
    """One delivery as a receipt line."""
    d = event.details
    checksum = event.checksum or ""
    return {
        "name": event.name,
        "size": event.size,
        "sha256": checksum.removeprefix("sha256:"),
        "delivered_at": event.at.astimezone(UTC).isoformat(),
        "result": "identical, kept" if event.kind is Kind.SKIPPED else "delivered",
        "target": event.target,
        "remote_name": d.get("remote_name"),
        "remote_size": d.get("remote_size"),
        "remote_checksum": d.get("remote_checksum"),
        "job_id": event.job_id,
        "attempt": event.attempt,
    }


def receipt_text(events: Iterable[Event], output_format: ReceiptFormat = "csv") -> str:
    """The receipt of ``events`` (deliveries, oldest first) as CSV with a header, or JSON."""
    return "".join(receipt_pieces(events, output_format))


def write_receipt(events: Iterable[Event], output_format: ReceiptFormat, out: IO[str]) -> int:
    """Write the receipt of ``events`` to ``out`` a line at a time (a route's deliveries of
    months are never held at once); return how many deliveries it lists."""
    count = 0

    def counted() -> Iterator[Event]:
        nonlocal count
        for event in events:
            count += 1
            yield event

    for piece in receipt_pieces(counted(), output_format):
        out.write(piece)
    return count


def receipt_pieces(events: Iterable[Event], output_format: ReceiptFormat) -> Iterator[str]:
    """The receipt of ``events`` as text, one piece per delivery (the header, the closing
    bracket apart), each given as soon as its event is read: what a download streams.

    The JSON is the text ``json.dumps`` gives the whole list, indented by two.
    """
    if output_format == "json":
        first = True
        for event in events:
            row = json.dumps(receipt_row(event), ensure_ascii=False, indent=2)
            yield ("[\n" if first else ",\n") + textwrap.indent(row, "  ")
            first = False
        yield "[]\n" if first else "\n]\n"
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, RECEIPT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    yield _taken(buffer)
    for event in events:
        line = receipt_row(event)
        for column in _NAMED_BY_OTHERS:
            value = line[column]
            if isinstance(value, str):
                line[column] = defuse_formula(value)
        writer.writerow(line)
        yield _taken(buffer)


def _taken(buffer: io.StringIO) -> str:
    """What ``buffer`` holds, which it then forgets."""
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
