"""Reading events back: a file's journey, what was not delivered, a route's deliveries.

Every function takes an engine on the ledger's database and returns typed
:class:`~entrepot.provenance.events.Event` values in the order they happened.
Names are matched as shell globs (``report-*.csv``): the part before the first
wildcard narrows the search through the index on names, the rest is matched
here, so a lookup of one name among millions of events reads only its rows.
A pattern also matches the name it spells (:func:`matches`): ``report[1].csv``
finds the file of that name as well as ``report1.csv``.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Generator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select

from entrepot.provenance.events import DELIVERED, Event, FileHistory, Kind, Outcome
from entrepot.provenance.folding import FOLDED_SQL, FRESH_SQL, named
from entrepot.provenance.receipts import recorded_by_now
from entrepot.provenance.schema import ensure_tables, events_table
from entrepot.provenance.steps import unfolded
from entrepot.provenance.windows import spanning

__all__ = [
    "any_history",
    "by_file",
    "deliveries",
    "file_histories",
    "find",
    "matches",
    "undelivered",
    "verdict",
]

_WILDCARDS = "*?["
#: What a lookup returns at most unless asked otherwise.
LIMIT = 100_000
#: Rows a receipt reads at a time (:func:`deliveries`).
PAGE = 5_000


def find(
    engine: Engine,
    pattern: str | None = None,
    *,
    place: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: Sequence[Kind] | None = None,
    limit: int = LIMIT,
) -> list[Event]:
    """Events of files whose name matches ``pattern`` (a glob), oldest first.

    ``place`` keeps one spool (or data center); ``target`` keeps events whose
    target URL contains it; ``since``/``until`` bound the time.
    """
    ensure_tables(engine)
    t = events_table
    query = sa.select(t)
    glob = pattern is not None and any(c in pattern for c in _WILDCARDS)
    query = narrowed(
        query, pattern, place=place, target=target, since=since, until=until,
        steps=engine.dialect.name,
    )  # fmt: skip
    if kinds:
        # A receipt, a claim and the move after a delivery are kept in the delivery's row.
        stored = {*kinds, *(DELIVERED if set(kinds) & set(_FOLDED) else ())}
        query = query.where(t.c.kind.in_([str(kind) for kind in stored]))
    # With a name, sorted on ``at + 0``: the same order, but one the place's index
    # cannot give, which would tempt the planner into reading every event of the place.
    when = t.c.at + 0 if pattern is not None else t.c.at
    query = query.order_by(when, t.c.id).limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    events = [e for row in rows for e in events_of(row._mapping)]
    if len(events) > len(rows) or since or until:  # rows of several events, each at its time
        events = [
            e for e in events
            if (not kinds or e.kind in kinds)
            and (target is None or (e.target is not None and target in e.target))
            and (since is None or e.at >= since) and (until is None or e.at < until)
        ]  # fmt: skip
        events.sort(key=lambda e: e.at)  # stable: the rows' order among equal times
        events = events[:limit]
    if glob:
        assert pattern is not None
        events = [e for e in events if matches(e.name, pattern)]
    return events


def matches(name: str, pattern: str) -> bool:
    """Whether ``name`` matches the glob ``pattern``, or is the name it spells (a name may
    hold ``[``, ``*`` or ``?`` of its own)."""
    return name == pattern or fnmatch.fnmatchcase(name, pattern)


def narrowed(
    query: Select[Any],
    pattern: str | None,
    *,
    place: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    fresh: bool | None = None,
    steps: str | None = None,
) -> Select[Any]:
    """``query`` of the events table kept to the filters of :func:`find`; a glob
    ``pattern`` is narrowed to the names that start with its literal prefix only,
    through both indexes on names — or, with ``fresh``, only the fresh events' (True)
    or the folded ones' (False) (:mod:`.folding`).

    ``since``/``until`` bound the rows' times, or, given ``steps`` (the database's
    dialect), the times of every step a row keeps (:mod:`.steps`): a delivery after
    ``until`` whose receipt or claim came before it, a delivery before ``since``
    moved after it — whose events the caller then keeps by their own times."""
    t = events_table
    prefix = "" if pattern is None else literal_prefix(pattern)
    if prefix and prefix == pattern:
        query = query.where(named(t, t.c.name == pattern, fresh=fresh))
    elif prefix:
        # Everything that starts with the prefix sorts between it and prefix + U+10FFFF.
        last = prefix + "\U0010ffff"
        query = query.where(named(t, t.c.name >= prefix, t.c.name < last, fresh=fresh))
    if place is not None:
        # With a name, through the index on names (a few rows each), not every event of
        # the place: the place is then compared as an expression, which no index holds.
        query = query.where((t.c.place.concat("") if prefix else t.c.place) == place)
    if target is not None:
        query = query.where(t.c.target.contains(target, autoescape=True))
    if steps is not None:
        return query.where(*spanning(t, steps, bool(prefix), since, until))
    if since is not None:
        query = query.where(t.c.at >= since.timestamp())
    if until is not None:
        query = query.where(t.c.at < until.timestamp())
    return query


def literal_prefix(pattern: str) -> str:
    """The part of a glob before its first wildcard."""
    for index, char in enumerate(pattern):
        if char in _WILDCARDS:
            return pattern[:index]
    return pattern


def undelivered(
    engine: Engine,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    place: str | None = None,
) -> list[Event]:
    """The ``received`` events of files not delivered (nor skipped as identical) since.

    A file received twice under one name counts from its last receipt.
    """
    ensure_tables(engine)
    r = events_table.alias("r")
    query = sa.select(r).where(r.c.kind == str(Kind.RECEIVED), ~delivered_since(r))
    if since is not None:
        query = query.where(r.c.at >= since.timestamp())
    if until is not None:
        query = query.where(r.c.at < until.timestamp())
    if place is not None:
        query = query.where(r.c.place == place)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(r.c.at, r.c.id)).all()
    return [event_of(row._mapping) for row in rows]


def delivered_since(received: Any) -> Any:
    """The SQL test that the file of ``received`` (an alias of the events table) was
    delivered, or found identical on a target, at or after that event."""
    d = events_table.alias("d")
    kinds = [str(kind) for kind in DELIVERED]
    return sa.exists().where(
        named(d, d.c.name == received.c.name, d.c.kind.in_(kinds), d.c.at >= received.c.at),
        # An expression, which no index holds: by name, kind and time (a few rows), not
        # by place and time (every event of the spool since the receipt).
        d.c.place.concat("") == received.c.place,
    )


def deliveries(
    engine: Engine,
    place: str,
    *,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = PAGE,
) -> Generator[Event, None, None]:
    """What left ``place`` for a target (delivered, or found there identical), oldest first:
    every one, however many — read ``page`` rows at a time, each page in a read of its
    own: the connection goes back to the pool before the page's events are given, so a
    slow consumer (a download to a slow client) holds no connection nor transaction.
    Yet they are the deliveries recorded when the first page is read, each once
    (:func:`~.receipts.recorded_by_now`): none recorded meanwhile slips in.

    ``target``: only the deliveries to exactly this (masked) URL — a route's, not
    those of another route of the same spool.
    """
    ensure_tables(engine)
    t = events_table
    query = narrowed(sa.select(t), None, place=place, since=since, until=until)
    query = query.where(t.c.kind.in_([str(kind) for kind in DELIVERED]))
    if target is not None:
        query = query.where(t.c.target == target)
    paged = query = recorded_by_now(engine, query)
    while True:
        with engine.connect() as conn:
            rows = conn.execute(paged.order_by(t.c.at, t.c.id).limit(page)).all()
        for row in rows:
            # A delivery's row also holds its receipt, claim and move: its own event.
            yield from (e for e in events_of(row._mapping) if e.kind in DELIVERED)
        if len(rows) < page:
            return
        # After the last row read, by time then id: none read twice, none skipped.
        at, last = rows[-1].at, rows[-1].id
        paged = query.where(sa.or_(t.c.at > at, sa.and_(t.c.at == at, t.c.id > last)))


def file_histories(engine: Engine, place: str, names: Sequence[str]) -> dict[str, FileHistory]:
    """For each of ``names`` in ``place``: its checksum at its last receipt (if known) and
    how many deliveries of it failed since."""
    found: dict[str, FileHistory] = {}
    if not names:
        return found
    with engine.connect() as conn:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        rows = conn.exec_driver_sql(*histories_query(place, names, mark)).all()
    for name, kind, checksum, _, _ in sorted(rows, key=lambda row: (row[3], row[4])):
        if kind == Kind.RECEIVED:
            found[name] = FileHistory(checksum, 0)
        else:
            known = found.get(name, FileHistory(None, 0))
            found[name] = FileHistory(known.checksum, known.failures + 1)
    return found


def any_history(engine: Engine, place: str) -> bool:
    """Whether any file of ``place`` was ever received or failed to be delivered, in one
    look through the index by place and kind: if not, :func:`file_histories` has
    nothing to find (a spool filled by another program, no delivery failed yet) and
    a run spares its look-ups, one per few hundred names."""
    t = events_table
    kinds = (Kind.RECEIVED.value, Kind.FAILED.value)
    query = sa.select(sa.literal(1)).where(t.c.place == place, t.c.kind.in_(kinds)).limit(1)
    with engine.connect() as conn:
        return conn.execute(query).first() is not None


def histories_query(
    place: str, names: Sequence[str], mark: str = "?"
) -> tuple[str, tuple[str, ...]]:
    """The query of :func:`file_histories` and its parameters (``mark``: the driver's
    placeholder): each name's last receipt in ``place`` and the failures since, read
    through the index on names (name, kind, time) — never the rest of a name's
    history, which grows with every day a file of that name is shipped.  The last
    receipt is the newest of the name's receipts whose place is ``place``: read
    from the newest back, the first one in most cases.

    Written as SQL: a run asks it once per few hundred names, and the SQL
    expression layer would render its list of names parameter by parameter.
    """
    received, failed = Kind.RECEIVED.value, Kind.FAILED.value
    table = events_table.name
    listed = ", ".join(mark for _ in names)
    wanted = f"t.name IN ({listed}) AND t.kind IN ({mark}, {mark})"
    # Not ordered here: an ORDER BY on time tempts the planner into the
    # place's index (in time order, but every event the spool ever had).  The
    # place is compared as an expression for the same reason: on the place
    # and kinds, the index by place and kind holds every receipt of the spool.
    # Each test on names in two arms, one per index on names (.folding); the
    # last receipt is the later of the newest in each.
    last = [
        f"coalesce((SELECT r.at FROM {table} r WHERE r.name = t.name "  # noqa: S608
        f"AND r.kind = {mark} AND r.{arm} AND r.place = t.place ORDER BY r.at DESC LIMIT 1), 0.0)"
        for arm in (FOLDED_SQL, FRESH_SQL)
    ]
    sql = (
        f"SELECT t.name, t.kind, t.checksum, t.at, t.id FROM {table} t "  # noqa: S608 - names only
        f"WHERE (({wanted} AND t.{FOLDED_SQL}) OR ({wanted} AND t.{FRESH_SQL})) "
        f"AND (t.place || '') = {mark} AND t.at >= {last[0]} AND t.at >= {last[1]}"
    )
    arm = (*names, received, failed)
    return sql, (*arm, *arm, place, received, received)


def by_file(events: Iterable[Event]) -> dict[tuple[str, str], list[Event]]:
    """``events`` grouped by file (place, name), each group in order."""
    groups: dict[tuple[str, str], list[Event]] = {}
    for event in events:
        groups.setdefault((event.place, event.name), []).append(event)
    return groups


def verdict(journey: Sequence[Event]) -> str:
    """One line saying where the file of ``journey`` (its events, in order) stands: its
    latest copy — the steps from its last ``received`` on, a name put again being a new
    file whatever became of the copy before."""
    if not journey:
        return "no trace"
    journey = latest_copy(journey)
    delivered = [e for e in journey if e.kind in DELIVERED]
    imported = [e for e in journey if e.kind is Kind.IMPORTED]
    last = journey[-1]
    if delivered:
        return "; ".join(_delivered(e) for e in _last_per_target(delivered))
    if imported:
        e = imported[-1]
        d = e.details
        line = f"imported into {d.get('table')} at {clock(e.at)}: {d.get('rows_ok', 0)} rows ok"
        if d.get("rows_failed"):
            line += f", {d['rows_failed']} failed (in {d.get('pending')})"
        return line
    if last.kind is Kind.FAILED:
        reason = last.details.get("reason", "unknown reason")
        return f"not delivered: failed at {clock(last.at)} ({reason})"
    if last.kind is Kind.PRUNED and last.details.get("from") == "cur":
        # Only a file done with (delivered, or marked done) is in cur/: its earlier
        # events may be older than the history kept (retention), not its removal.
        return (
            f"pruned from cur/ at {clock(last.at)}, where files go once delivered or done "
            "with (its earlier events are older than the history kept)"
        )
    if last.kind in (Kind.DELETED, Kind.PRUNED, Kind.REMOVED):
        return f"{last.kind} at {clock(last.at)}, never delivered"
    return f"not delivered: {last.kind} at {clock(last.at)}"


def latest_copy(journey: Sequence[Event]) -> Sequence[Event]:
    """The events of ``journey`` from its last ``received`` on (all of them without one)."""
    for index in range(len(journey) - 1, -1, -1):
        if journey[index].kind is Kind.RECEIVED:
            return journey[index:]
    return journey


def _last_per_target(events: list[Event]) -> list[Event]:
    last: dict[str | None, Event] = {}
    for event in events:
        last[event.target] = event
    return list(last.values())


def _delivered(event: Event) -> str:
    where = event.target or "the target"
    if event.kind is Kind.SKIPPED:
        return f"already on {where} (identical) at {clock(event.at)}"
    if event.details.get("remote_checksum"):
        check = "checksum matches"
    else:
        check = "size matches (the protocol gives no checksum)"
    return f"delivered to {where} at {clock(event.at)}, {check}"


def clock(at: datetime) -> str:
    """A time as shown in traces: ``2026-12-05 02:14:03 UTC``."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


#: Kinds kept in a delivery's row (:mod:`.steps`).
_FOLDED = (Kind.RECEIVED, Kind.CLAIMED, Kind.MOVED, Kind.DELETED)


def events_of(row: Any) -> list[Event]:
    """The events stored in ``row``: one, or a delivery with its receipt, its claim and
    the move after it (:mod:`.steps`)."""
    return unfolded(event_of(row), row)


def event_of(row: Any) -> Event:
    """The event stored in ``row`` (a mapping of the events table's columns)."""
    details = json.loads(row["details"]) if row["details"] else {}
    return Event(
        kind=Kind(row["kind"]),
        place=row["place"],
        name=row["name"],
        at=datetime.fromtimestamp(row["at"], UTC),
        size=row["size"],
        checksum=row["checksum"],
        job_id=row["job_id"],
        host=row["host"],
        outcome=Outcome(row["outcome"]),
        target=row["target"],
        attempt=row["attempt"],
        details=details,
    )
