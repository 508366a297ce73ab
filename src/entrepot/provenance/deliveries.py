"""Deliveries kept short: a run's constants once, each file's own values apart.

Shipping a file records one row (its claim, delivery and move:
:mod:`.steps`), and most of that row is the same for every file of a run:
the place, target, job, host, kind and outcome, the step announced after
it, the fleet's instance.  So those are a :class:`Template`, and each file
is a :class:`Delivery` of its own values: name, size, checksum, times,
try, what the target said of its copy and the path it was claimed under.
A shipper thread does no more per file than build that tuple and write its
journal line; the rows are
made from both in one loop when a batch is written (:func:`rows_of`), which
also counts their events into their hours and writes each delivery's
details text from the remote's values (:func:`remote_details`): in that
loop, not in the shipper's thread, where the same few microseconds cost
several times more beside the transfers.  A delivery's times are whole
microseconds since the epoch (:func:`now`): cheap to write as text, and
read back as exactly the seconds its row keeps (``us / 1e6``).
Measured in whole ``entrepot ship`` commands, building a full row and
writing all of it to the journal for each file cost about as much again as
the rest of provenance together.

In a journal (:mod:`.journal`) a template is a line of its own,
``[0, "template", id, [fields…]]``, written before the first delivery that
names it (and again after the journal is emptied), and a delivery is the
line ``[seq, id, name, size, checksum, claimed_at, at, attempt,
remote_name, remote_size, remote_checksum, key, held]``.
:func:`~.journal_lines.read_journal` reads them back as the same event row,
with the step the delivery announced (:func:`then_of`), so that recovery
after a crash treats them like any other line — also the lines of the
release before, whose templates lack the instance and whose deliveries
carry their details as text (``[seq, id, name, size, checksum, claimed_at,
at, attempt, details, held]``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from entrepot.provenance.events import Kind
from entrepot.provenance.journal import COLUMNS, Row, Then
from entrepot.provenance.steps import Counts, receipt_text, step_parts, tally

if TYPE_CHECKING:
    from entrepot.provenance.held import HeldReceipts

__all__ = [
    "LINE_WIDTHS", "TEMPLATE", "Delivery", "Settled", "Template", "entry_of", "made_rows", "now",
    "remote_details", "rows_of", "then_of",
]  # fmt: skip

#: The second field of a template's journal line.
TEMPLATE = "template"
_CLAIMED, _RECEIVED = Kind.CLAIMED.value, Kind.RECEIVED.value
_DETAILS = COLUMNS.index("details")


class Template(NamedTuple):
    """What the deliveries of one route in one run share (texts as the rows keep them)."""

    kind: str
    outcome: str
    place: str
    target: str | None
    job_id: str | None
    host: str
    #: The step announced after each delivery: ``moved`` into ``area``, or ``deleted``.
    then_kind: str
    then_details: str
    area: str | None
    #: The run's try, which the step's event carries.
    attempt: int | None
    #: The instance named in the details (a fleet's), if any.
    instance: str | None = None


class Delivery(NamedTuple):
    """One file's own values in its delivery's row."""

    name: str
    size: int | None
    checksum: str | None
    #: When the file was claimed and delivered, in microseconds (:func:`now`).
    claimed_at: int | None
    at: int
    attempt: int | None
    #: What the target said of the copy it keeps (texts masked): its name, size and
    #: checksum, and its address (``s3://bucket/key``).
    remote_name: str | None
    remote_size: int | None
    remote_checksum: str | None
    key: str | None
    #: Where the file was while it was claimed (gone once the step is taken).
    held: str


#: The fields of a delivery's journal line, and of a template's, in the release before.
_OLD_DELIVERY, _OLD_TEMPLATE = 8, len(Template._fields) - 1
#: How many fields a delivery's journal line holds after its number and template's.
LINE_WIDTHS = frozenset({_OLD_DELIVERY, len(Delivery._fields)})
_quoted = json.encoder.encode_basestring


#: A delivery whose announced step was settled: taken at a time (microseconds), or not
#: taken (None).
Settled = tuple[Template, Delivery, int | None]
_HOUR = 3600 * 1_000_000


def now() -> int:
    """The time, in whole microseconds since the epoch."""
    return time.time_ns() // 1000


def then_of(template: Template, delivery: Delivery) -> Then:
    """The step ``delivery`` announced, as recovery checks it on the file system."""
    name, held = delivery.name, delivery.held
    if template.area is None:
        return Then(
            template.then_kind, template.then_details, [], [held, f"{template.place}/new/{name}"]
        )
    return Then(
        template.then_kind,
        template.then_details,
        [f"{template.place}/{template.area}/{name}"],
        [held],
    )


def rows_of(
    settled: Iterable[Settled], counts: Counts, held: HeldReceipts | None = None
) -> list[Row]:
    """The event rows of settled deliveries, each keeping its step if it was taken — and
    its file's receipt, if ``held`` has it (:mod:`.held`) — and their events counted
    into ``counts`` (as :func:`~.steps.tally` counts them).

    One loop for a whole batch, written out flat (it runs once per file
    shipped): the step's text is that of :func:`~.steps.step_text`, its
    constant parts made once per template; the events of a delivery
    mostly fall in one hour, counted together.
    """
    rows: list[Row] = []
    parts: dict[Template, tuple[str, str]] = {}
    # Per hour, kind and size: how many (the bytes are worked out once, at the end).
    seen: dict[tuple[int, str, int], int] = {}
    for template, delivery, taken in settled:
        name, size, checksum, claimed, at, attempt, remote, remote_size, remote_sum, where, _ = (
            delivery
        )
        details = remote_details(remote, remote_size, remote_sum, template.instance, where)
        kind, known = template.kind, size or 0
        hour = at // _HOUR
        key = (hour, kind, known)
        seen[key] = seen.get(key, 0) + 1
        if claimed is not None:
            key = (claimed // _HOUR, _CLAIMED, known)
            seen[key] = seen.get(key, 0) + 1
        step = None
        if taken is not None:
            around = parts.get(template)
            if around is None:
                around = parts[template] = step_parts(
                    template.then_kind, template.then_details, template.attempt
                )
            # The seconds as decimal text (not ``repr`` of a float, which costs more):
            # read back, exactly the float ``taken / 1e6``.
            step = f"{around[0]}{taken // 1_000_000}.{taken % 1_000_000:06d}{around[1]}"
            key = (taken // _HOUR, template.then_kind, 0)
            seen[key] = seen.get(key, 0) + 1
        receipt = None
        if held is not None:
            kept = held.take(template.place, name, size, checksum)
            if kept is not None:
                receipt = receipt_text(kept[0], kept[11], kept[6], kept[7])
                key = (int(kept[0] // 3600), _RECEIVED, known)
                seen[key] = seen.get(key, 0) + 1
        rows.append((
            at / 1e6, kind, template.place, name, size, checksum, template.job_id,
            template.host, template.outcome, template.target, attempt, details,
            None if claimed is None else claimed / 1e6, step, receipt,
        ))  # fmt: skip
    for (hour, kind, size), files in seen.items():
        found = counts.setdefault((hour, kind), [0, 0])
        found[0] += files
        found[1] += files * size
    return rows


def remote_details(
    name: str | None,
    size: int | None,
    checksum: str | None,
    instance: str | None,
    key: str | None,
) -> str:
    """The details of a delivery as :func:`~entrepot.provenance.journal.details_text`
    writes them (keys sorted), its texts masked already: written directly, once per
    file shipped."""
    fleet = ""
    if instance:
        fleet += f'"instance":{_quoted(instance)},'
    if key:
        fleet += f'"key":{_quoted(key)},'
    remote_checksum = "null" if checksum is None else _quoted(checksum)
    remote_size = "null" if size is None else int(size)
    remote_name = "null" if name is None else _quoted(name)
    return (
        f'{{{fleet}"remote_checksum":{remote_checksum},"remote_name":{remote_name},'
        f'"remote_size":{remote_size}}}'
    )


def made_rows(
    rows: list[Row], settled: list[Settled], kept: HeldReceipts | None = None
) -> tuple[list[Row], Counts]:
    """A batch's rows: ``rows``, those of ``settled`` deliveries (each with its file's
    receipt, if ``kept`` has it) and the receipts ``kept`` has left; and all their events
    counted."""
    counts = tally(rows)
    made = rows + rows_of(settled, counts, kept)
    if kept is not None:
        rest = kept.rest()
        for key, (files, size) in tally(rest).items():
            found = counts.setdefault(key, [0, 0])
            found[0] += files
            found[1] += size
        made += rest
    return made, counts


def entry_of(template: Sequence[Any], fields: Sequence[Any]) -> tuple[Row, Then] | None:
    """A delivery's row and announced step from a journal's template and delivery fields
    (as JSON read them back, in this release's shape or the one before); None if they
    do not have the shape written."""
    if len(template) == _OLD_TEMPLATE:
        template = [*template, None]
    details = None
    if len(fields) == _OLD_DELIVERY:  # its details as text, in place of the remote's values
        details = fields[6]
        fields = [*fields[:6], None, None, None, None, fields[7]]
    if len(template) != len(Template._fields) or len(fields) != len(Delivery._fields):
        return None
    made, delivery = Template(*template), Delivery(*fields)
    texts = (made.kind, made.place, made.then_kind, delivery.name, delivery.held)
    times = (delivery.at, delivery.claimed_at or 0)
    if (
        not all(isinstance(text, str) for text in texts)
        or not all(isinstance(value, int) and not isinstance(value, bool) for value in times)
        or (details is not None and not isinstance(details, str))
    ):
        return None  # not as a release writes them: a damaged line
    row = rows_of([(made, delivery, None)], {})[0]
    if details is not None:
        row = (*row[:_DETAILS], details, *row[_DETAILS + 1 :])
    return row, then_of(made, delivery)
