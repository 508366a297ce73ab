"""Deliveries kept short: a run's constants once, each file's own values apart.

Shipping a file records one row (its claim, delivery and move:
:mod:`.steps`), and most of that row is the same for every file of a run:
the place, target, job, host, kind and outcome, the step announced after
it.  So those are a :class:`Template`, and each file is a
:class:`Delivery` of its own values: name, size, checksum, times, try,
details and the path it was claimed under.  A shipper thread does no more
per file than build that tuple and write its journal line; the rows are
made from both in one loop when a batch is written (:func:`rows_of`).
Measured in whole ``entrepot ship`` commands, building a full row and
writing all of it to the journal for each file cost about as much again as
the rest of provenance together.

In a journal (:mod:`.journal`) a template is a line of its own,
``[0, "template", id, [fields…]]``, written before the first delivery that
names it (and again after the journal is emptied), and a delivery is the
line ``[seq, id, name, size, checksum, claimed_at, at, attempt, details,
held]``.  :func:`~.journal.read_journal` reads them back as the same event
row, with the step the delivery announced (:func:`then_of`), so that
recovery after a crash treats them like any other line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from entrepot.provenance.journal import Row, Then

__all__ = ["TEMPLATE", "Delivery", "Settled", "Template", "entry_of", "rows_of", "then_of"]

#: The second field of a template's journal line.
TEMPLATE = "template"
_quoted = json.encoder.encode_basestring_ascii


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


class Delivery(NamedTuple):
    """One file's own values in its delivery's row."""

    name: str
    size: int | None
    checksum: str | None
    claimed_at: float | None
    at: float
    attempt: int | None
    details: str
    #: Where the file was while it was claimed (gone once the step is taken).
    held: str


#: A delivery whose announced step was settled: taken at a time, or not taken (None).
Settled = tuple[Template, Delivery, float | None]


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


def _row(template: Template, delivery: Delivery, step: str | None) -> Row:
    return (
        delivery.at, template.kind, template.place, delivery.name, delivery.size,
        delivery.checksum, template.job_id, template.host, template.outcome, template.target,
        delivery.attempt, delivery.details, delivery.claimed_at, step,
    )  # fmt: skip


def rows_of(settled: Iterable[Settled]) -> list[Row]:
    """The event rows of settled deliveries, each keeping its step if it was taken.

    One loop for a whole batch; the step's text is that of
    :func:`~.steps.step_text`, its constant parts made once per template.
    """
    rows: list[Row] = []
    parts: dict[Template, tuple[str, str]] = {}
    for template, delivery, taken in settled:
        step = None
        if taken is not None:
            around = parts.get(template)
            if around is None:
                number = "null" if template.attempt is None else int(template.attempt)
                around = parts[template] = (
                    f"[{_quoted(template.then_kind)},",
                    f",{_quoted(template.then_details)},{number}]",
                )
            step = f"{around[0]}{float(taken)!r}{around[1]}"
        rows.append(_row(template, delivery, step))
    return rows


def entry_of(template: Sequence[Any], fields: Sequence[Any]) -> tuple[Row, Then] | None:
    """A delivery's row and announced step from a journal's template and delivery fields
    (as JSON read them back); None if they do not have the shape written."""
    if len(template) != len(Template._fields) or len(fields) != len(Delivery._fields):
        return None
    made, delivery = Template(*template), Delivery(*fields)
    return _row(made, delivery, None), then_of(made, delivery)
