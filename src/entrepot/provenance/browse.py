"""Reading events a page at a time: what a dashboard shows without scanning the record.

:mod:`.reader` answers one question completely (a file's whole journey, a
route's whole receipt).  The functions here answer the questions a page asks
of millions of events, each in a bounded number of index reads:

* :func:`matching_names` — one page of the file names that match a glob,
  in name order; the journey of each is then :func:`.reader.find`'s;
* :func:`latest` — the newest events of a place (optionally of some kinds);
* :func:`totals` — files and bytes of some kinds per period (delivered per
  hour), read from the index on place, kind and time alone;
* :func:`recent_undelivered` — files received and not delivered, newest
  first, looking at a bounded number of receipts per call and saying where
  to carry on.

The glob is matched by the database (``GLOB`` on SQLite, a regular
expression on PostgreSQL) so that a page of names costs a page of rows, not
every name that shares the pattern's literal prefix.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from entrepot.provenance.events import DELIVERED, Event, Kind
from entrepot.provenance.reader import delivered_since, events_of, literal_prefix, narrowed
from entrepot.provenance.schema import ensure_tables, events_table

__all__ = ["Total", "Undelivered", "latest", "matching_names", "recent_undelivered", "totals"]

#: Receipts :func:`recent_undelivered` examines per place and call.
SCAN = 5_000


def matching_names(
    engine: Engine,
    pattern: str,
    *,
    place: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
    recent: int | None = None,
) -> list[str]:
    """Distinct names of events matching ``pattern`` (a shell glob) and the filters, sorted.

    The filters are those of :func:`.reader.find`; ``offset`` and ``limit``
    choose the page.  A pattern that starts with a wildcard cannot use the
    index on names: with ``recent``, only the latest ``recent`` events are
    searched for it (a bounded read of the table's newest rows).  A pattern
    with a prefix reads each index on names in order (:mod:`.folding`), up to
    the page asked, and the two lists are merged.
    """
    ensure_tables(engine)
    t = events_table
    name: Any = t.c.name
    bounded = recent is not None and not literal_prefix(pattern)
    if bounded:
        # ``name || ''`` is the name, but no index of it: the newest rows are read by id.
        name = (t.c.name + sa.literal_column("''")).label("name")
    arms: tuple[bool | None, ...] = (False, True) if literal_prefix(pattern) else (None,)
    found: set[str] = set()
    for fresh in arms:
        query = sa.select(name).distinct()
        query = narrowed(
            query, pattern, place=place, target=target, since=since, until=until, fresh=fresh,
            steps=engine.dialect.name,
        )  # fmt: skip
        if literal_prefix(pattern) != pattern:  # a glob, which also matches the name it spells
            query = query.where(sa.or_(name == pattern, _glob(name, pattern, engine.dialect.name)))
        if bounded:
            assert recent is not None
            newest = sa.select(sa.func.max(t.c.id)).scalar_subquery()
            query = query.where(t.c.id > newest - recent)
        query = query.order_by(name).limit(offset + limit)
        with engine.connect() as conn:
            found.update(row[0] for row in conn.execute(query))
    return sorted(found)[offset : offset + limit]


def _glob(column: Any, pattern: str, dialect: str) -> Any:
    """The SQL test of ``column`` against a shell glob, as :func:`fnmatch.fnmatchcase` reads it."""
    if dialect == "sqlite":
        return column.op("GLOB")(_sqlite_glob(pattern))
    return column.regexp_match(_posix_regex(pattern))


def _classes(pattern: str) -> list[tuple[str, str]]:
    """``pattern`` split into ``("*"|"?"|"[]"|"", text)`` parts, as fnmatch splits it."""
    parts: list[tuple[str, str]] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char in "*?":
            parts.append((char, char))
            continue
        if char == "[":
            end = index
            if end < len(pattern) and pattern[end] == "!":
                end += 1
            if end < len(pattern) and pattern[end] == "]":
                end += 1
            end = pattern.find("]", end)
            if end >= 0:
                parts.append(("[]", pattern[index:end]))
                index = end + 1
                continue
        parts.append(("", char))
    return parts


def _sqlite_glob(pattern: str) -> str:
    out = []
    for kind, text in _classes(pattern):
        if kind == "[]":
            negate = text.startswith("!")
            body = text[1:] if negate else text
            if body == "^" and not negate:
                out.append("^")  # outside a class GLOB reads it as itself
                continue
            if body.startswith("^"):
                # fnmatch reads a leading ^ as itself, GLOB as a negation: move it back.
                body = body[1:] + "^"
            out.append("[" + ("^" if negate else "") + body + "]")
        elif kind == "" and text in "[]":
            out.append(f"[{text}]")
        else:
            out.append(text)
    return "".join(out)


def _posix_regex(pattern: str) -> str:
    out = ["^"]
    for kind, text in _classes(pattern):
        if kind == "*":
            out.append(".*")
        elif kind == "?":
            out.append(".")
        elif kind == "[]":
            negate = text.startswith("!")
            body = text[1:] if negate else text
            body = body.replace("\\", "\\\\")
            if body.startswith("^"):
                body = "\\" + body
            out.append("[" + ("^" if negate else "") + body + "]")
        else:
            out.append(re.sub(r"([^A-Za-z0-9_])", r"\\\1", text))
    out.append("$")
    return "".join(out)


def latest(
    engine: Engine,
    place: str,
    *,
    kinds: Sequence[Kind] | None = None,
    limit: int = 50,
) -> list[Event]:
    """The newest ``limit`` events of ``place`` (of ``kinds`` only, if given), newest first."""
    ensure_tables(engine)
    t = events_table
    newest = sa.select(t).where(t.c.place == place)
    # One query per kind, each naming its kind exactly and ordered by time alone: SQLite
    # then reads the newest first from the index on place, kind and time (with a list of
    # kinds, or the id as a tie-break, it may walk every event of the place instead).
    queries = [
        newest.where(t.c.kind == str(kind)).order_by(t.c.at.desc()) for kind in kinds or ()
    ] or [newest.order_by(t.c.at.desc(), t.c.id.desc())]
    rows: list[Any] = []
    with engine.connect() as conn:
        for query in queries:
            rows += [row._mapping for row in conn.execute(query.limit(limit))]
    rows.sort(key=lambda row: (row["at"], row["id"]), reverse=True)
    events = [e for row in rows[:limit] for e in reversed(events_of(row))]
    if kinds:  # a delivery's row also holds its claim and its move (see .steps)
        events = [e for e in events if e.kind in kinds]
    return sorted(events, key=lambda e: e.at, reverse=True)[:limit]


@dataclass(frozen=True)
class Total:
    """What one period saw: how many events (files) of the kinds asked, and their bytes."""

    start: datetime
    files: int
    bytes: int


def totals(
    engine: Engine,
    places: Sequence[str],
    *,
    since: datetime,
    until: datetime,
    step: timedelta = timedelta(hours=1),
    kinds: Sequence[Kind] = DELIVERED,
    target: str | None = None,
) -> list[Total]:
    """Files and bytes of ``kinds`` in ``places`` per ``step`` from ``since`` to ``until``.

    ``target``, when given, keeps the events that went to that (masked) URL
    exactly.  Each period is one count over the index on place, kind and
    time, which holds the size and the target: the table itself is not read.
    """
    ensure_tables(engine)
    t = events_table
    found: list[Total] = []
    with engine.connect() as conn:
        start = since
        while start < until:
            end = min(start + step, until)
            query = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(t.c.size), 0)).where(
                t.c.place.in_(list(places)),
                t.c.kind.in_([str(kind) for kind in kinds]),
                t.c.at >= start.timestamp(),
                t.c.at < end.timestamp(),
            )
            if target is not None:
                query = query.where(t.c.target == target)
            files, size = conn.execute(query).one() if places else (0, 0)
            found.append(Total(start, int(files), int(size)))
            start = end
    return found


@dataclass(frozen=True)
class Undelivered:
    """A page of :func:`recent_undelivered`."""

    events: list[Event]
    """The ``received`` events of files not delivered since, newest first."""
    before: datetime | None
    """Where the next page starts (its ``until``); ``None`` when nothing older is left."""


def recent_undelivered(
    engine: Engine,
    places: Sequence[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    scan: int = SCAN,
) -> Undelivered:
    """Files of ``places`` received in ``[since, until)`` and not delivered (nor skipped as
    identical) since, newest first — the question :func:`.reader.undelivered` answers, asked
    of at most ``scan`` receipts per place, so that a page costs the same at any size.
    """
    ensure_tables(engine)
    r = events_table.alias("r")
    later = delivered_since(r)
    found: list[Any] = []
    # Every receipt at or after ``floor`` was examined, in every place.
    floor: float | None = None
    with engine.connect() as conn:
        for place in places:
            recent = sa.select(r.c.id, r.c.at).where(
                r.c.place == place, r.c.kind == str(Kind.RECEIVED)
            )
            if since is not None:
                recent = recent.where(r.c.at >= since.timestamp())
            if until is not None:
                recent = recent.where(r.c.at < until.timestamp())
            # The window's times and ids come from the index alone (see :func:`latest`).
            window = recent.order_by(r.c.at.desc()).limit(scan).subquery("r")
            oldest = conn.execute(sa.select(sa.func.min(window.c.at), sa.func.count())).one()
            if oldest[1] == scan:
                floor = oldest[0] if floor is None else max(floor, oldest[0])
            rows = conn.execute(
                sa.select(r)
                .where(r.c.id.in_(sa.select(window.c.id)), ~later)
                .order_by(r.c.at.desc(), r.c.id.desc())
                .limit(limit)
            ).all()
            found += [row._mapping for row in rows]
    found.sort(key=lambda row: (row["at"], row["id"]), reverse=True)
    if floor is not None:
        found = [row for row in found if row["at"] >= floor]
    before = floor
    if len(found) > limit:
        found = found[:limit]
        before = found[-1]["at"]
    events = [e for row in found for e in events_of(row)]
    return Undelivered(events, datetime.fromtimestamp(before, UTC) if before is not None else None)
