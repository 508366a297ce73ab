"""Whether the steps that dead journals announced were taken: the events recovery adds.

A journal line may announce the step that follows its event — a delivered
file's move into ``cur/``, say — without a line of its own: the step's
event goes to the database with a later batch, or into the event's own
row (:mod:`.steps`).  When the process died in between, recovery decides
from what is left.  The step is recorded if a later line of the journal
has it, if a journal recovered before it in the same transaction added
it, or if the database has an event of that kind for the file at or after
the announcement; otherwise it was taken if the file system shows it (the
paths it leaves are there, those it removes are gone), and its event is
added (:func:`follow_up`).

The database is asked once per place and few hundred files for all the
steps a journal announced, not once per step: a shipment of many files
killed before its commit is recovered in a few queries.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from entrepot.db import groups
from entrepot.provenance.folding import named
from entrepot.provenance.journal import Entry, Row
from entrepot.provenance.schema import events_table

__all__ = ["NAMES", "follow_up", "name_groups", "taken"]

#: Files per query (under SQLite's oldest limit of 999 values, with the kinds).
NAMES = 400

#: A step as the database is asked about it: its place, file and kind.
_Step = tuple[str, str, str]


def taken(
    conn: Connection,
    entries: Sequence[Entry],
    latest: dict[tuple[Any, ...], int],
    added: dict[_Step, float] | None = None,
) -> list[Entry]:
    """Those of ``entries`` (each announcing a step that its row does not keep) whose
    step was taken and is recorded nowhere, in order.

    ``latest``: the number of the last line of each step in the journal
    (by :attr:`~.journal.Entry.key`); ``added``: the latest time of each
    place, file and kind among the events that the journals recovered
    before this one in the same transaction add.
    """
    unsure: list[tuple[Entry, _Step, float]] = []
    for entry in entries:
        then = entry.then
        assert then is not None, "an entry that announces no step"
        key = (then.kind, *entry.key[1:])
        if latest.get(key, -1) > entry.seq:
            continue  # a later line of the journal has it
        step, at = (key[1], key[2], then.kind), entry.row[0]
        if added and added.get(step, at - 1) >= at:
            continue  # added by a journal recovered with this one
        unsure.append((entry, step, at))
    recorded = _latest_recorded(conn, unsure)
    return [
        entry for entry, step, at in unsure if recorded.get(step, at - 1) < at and _shown(entry)
    ]


def _shown(entry: Entry) -> bool:
    """Whether the file system shows the step ``entry`` announced as taken."""
    then = entry.then
    assert then is not None
    return all(os.path.lexists(path) for path in then.present) and not any(
        os.path.lexists(path) for path in then.absent
    )


def _latest_recorded(
    conn: Connection, unsure: Sequence[tuple[Entry, _Step, float]]
) -> dict[_Step, float]:
    """The time of the latest event in the database of each step of ``unsure``, among
    those at or after the earliest announcement of its place (absent: none)."""
    kinds: dict[str, set[str]] = {}
    for _, (place, _, kind), _ in unsure:
        kinds.setdefault(place, set()).add(kind)
    t = events_table
    found: dict[_Step, float] = {}
    for place, listed, since in name_groups((step[0], step[1], at) for _, step, at in unsure):
        terms = (t.c.name.in_(listed), t.c.kind.in_(sorted(kinds[place])), t.c.at >= since)
        query = (
            sa.select(t.c.name, t.c.kind, sa.func.max(t.c.at))
            # On the names' indexes: the place, compared as text, is not an index's.
            .where(named(t, *terms), t.c.place.concat("") == place)
            .group_by(t.c.name, t.c.kind)
        )
        for name, kind, at in conn.execute(query):
            found[place, name, kind] = at
    return found


def name_groups(
    files: Iterable[tuple[str, str, float]],
) -> Iterator[tuple[str, Sequence[str], float]]:
    """``files`` (place, name, time) as the database is asked about them: each place's
    names, sorted, at most :data:`NAMES` at a time, with the place's earliest time."""
    names: dict[str, set[str]] = {}
    since: dict[str, float] = {}
    for place, name, at in files:
        names.setdefault(place, set()).add(name)
        since[place] = min(since.get(place, at), at)
    for place, wanted in names.items():
        for listed in groups(sorted(wanted), NAMES):
            yield place, listed, since[place]


def follow_up(entry: Entry) -> Row:
    """The row of the step ``entry`` announced: same file, job, try and time."""
    then = entry.then
    assert then is not None
    at, _, place, name, _, _, job_id, host, _, _, attempt = entry.row[:11]
    return (
        at, then.kind, place, name, None, None, job_id, host, "ok", None, attempt,
        then.details, None, None, None,
    )  # fmt: skip
