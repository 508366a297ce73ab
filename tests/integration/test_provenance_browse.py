"""Reading provenance a page at a time (``entrepot.provenance.browse``), on SQLite and a
real PostgreSQL: globs matched by the database, the newest events of a place, counts per
hour from the index, and undelivered files in bounded pages."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from entrepot.db import ensure_schema, make_engine, schema_version
from entrepot.provenance import Kind
from entrepot.provenance.browse import latest, matching_names, recent_undelivered, totals
from entrepot.provenance.reader import find
from entrepot.provenance.schema import KIND_INDEX, MIGRATIONS, ensure_tables, events_table
from tests.integration import test_jobs_ledger_backends as backends

url = backends.url
OUT, IN = "/spool/out", "/spool/in"
PARTNER = "ftp://partner@ftp.example.org/in"
T0 = datetime(2026, 12, 5, tzinfo=UTC)


@pytest.fixture
def engine(url: str) -> Iterator[sa.Engine]:
    engine = make_engine(url, purpose="ledger")
    ensure_tables(engine)
    yield engine
    engine.dispose()


def _add(engine: sa.Engine, *events: tuple[float, Kind, str, str, int | None, str | None]) -> None:
    rows = [
        {"at": (T0 + timedelta(seconds=at)).timestamp(), "kind": str(kind), "place": place,
         "name": name, "size": size, "target": target, "outcome": "ok", "details": "{}"}
        for at, kind, place, name, size, target in events
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(events_table.insert(), rows)


NAMES = [
    "a.csv", "ab.csv", "b.csv", "b[1].csv", "^x.csv", "c!d.txt", "dot.in.name", "e*.csv",
    "orders-1.csv", "orders-2.csv", "orders-10.json", "Orders-3.csv", "semi;colon.csv",
]  # fmt: skip
PATTERNS = [
    "*.csv", "orders-*", "orders-?.csv", "[ab]*", "[!ab]*", "[^]x.csv", "*[.]in*", "b[[]1].csv",
    "*!*", "e[*].csv", "*", "ORDERS-*", "[]]*", "semi;*", "x", "a.csv", "b[1].csv", "e*.csv",
]  # fmt: skip


def test_globs_match_as_fnmatch_does_and_find_the_name_they_spell(engine: sa.Engine) -> None:
    _add(engine, *((n, Kind.RECEIVED, OUT, name, 1, None) for n, name in enumerate(NAMES)))
    for pattern in PATTERNS:
        expected = sorted(
            name for name in NAMES if name == pattern or fnmatch.fnmatchcase(name, pattern)
        )
        assert matching_names(engine, pattern) == expected, pattern
        assert sorted({e.name for e in find(engine, pattern)}) == expected, pattern
    # A name holding "[" is found as it is, which fnmatch alone would never match.
    assert matching_names(engine, "b[1].csv") == ["b[1].csv"]
    assert [e.name for e in find(engine, "b[1].csv")] == ["b[1].csv"]


def test_names_are_paged_in_order_and_filtered(engine: sa.Engine) -> None:
    events = [(n, Kind.RECEIVED, OUT, f"f{n:03d}.csv", 10, None) for n in range(30)]
    events += [(100 + n, Kind.DELIVERED, OUT, f"f{n:03d}.csv", 10, PARTNER) for n in range(10)]
    events += [(200, Kind.RECEIVED, IN, "f999.csv", 1, None)]
    _add(engine, *events)
    first = matching_names(engine, "f*.csv", limit=12)
    second = matching_names(engine, "f*.csv", offset=12, limit=12)
    assert first == [f"f{n:03d}.csv" for n in range(12)]
    assert second[0] == "f012.csv" and len(second) == 12
    assert matching_names(engine, "f*.csv", place=IN) == ["f999.csv"]
    assert len(matching_names(engine, "f*", target="partner@")) == 10
    later = T0 + timedelta(seconds=150)
    assert matching_names(engine, "f*", since=later) == ["f999.csv"]
    assert len(matching_names(engine, "f*", until=T0 + timedelta(seconds=5))) == 5


def test_latest_events_of_a_place_newest_first(engine: sa.Engine) -> None:
    _add(engine, *((n, Kind.RECEIVED, OUT, f"r{n}", 1, None) for n in range(20)))
    _add(engine, (30, Kind.FAILED, OUT, "r3", 1, PARTNER), (40, Kind.FAILED, IN, "z", 1, None))
    assert [e.name for e in latest(engine, OUT, limit=3)] == ["r3", "r19", "r18"]
    failed = latest(engine, OUT, kinds=[Kind.FAILED])
    assert [(e.name, e.kind, e.target) for e in failed] == [("r3", Kind.FAILED, PARTNER)]


def test_totals_per_hour_from_the_kind_index(engine: sa.Engine) -> None:
    hour = 3600
    _add(
        engine,
        (10, Kind.DELIVERED, OUT, "a", 100, PARTNER),
        (20, Kind.SKIPPED, OUT, "b", 50, PARTNER),
        (30, Kind.CLAIMED, OUT, "a", 100, None),
        (hour + 5, Kind.DELIVERED, OUT, "c", 7, "file:///elsewhere"),
        (2 * hour + 5, Kind.DELIVERED, IN, "d", 1000, PARTNER),
    )
    found = totals(engine, [OUT], since=T0, until=T0 + timedelta(hours=3))
    assert [(t.start, t.files, t.bytes) for t in found] == [
        (T0, 2, 150),
        (T0 + timedelta(hours=1), 1, 7),
        (T0 + timedelta(hours=2), 0, 0),
    ]
    to_partner = totals(engine, [OUT, IN], since=T0, until=T0 + timedelta(hours=3), target=PARTNER)
    assert [t.files for t in to_partner] == [2, 0, 1]
    delivered = totals(engine, [OUT], since=T0, until=T0 + timedelta(days=1),
                       step=timedelta(days=1), kinds=[Kind.DELIVERED])  # fmt: skip
    assert [(t.files, t.bytes) for t in delivered] == [(2, 107)]
    assert totals(engine, [], since=T0, until=T0 + timedelta(hours=1))[0].files == 0


def test_the_kind_index_is_added_to_an_older_table(url: str) -> None:
    engine = make_engine(url, purpose="ledger")
    try:
        ensure_tables(engine)
        # The tables as version 2 (the file index) left them: without this index.
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP INDEX {KIND_INDEX}")
            conn.execute(
                sa.text("UPDATE entrepot_schema SET version = :v WHERE component = 'provenance'"),
                {"v": 2},
            )
        ensure_schema(engine, "provenance", MIGRATIONS)
        assert schema_version(engine, "provenance") == len(MIGRATIONS)
        names = {i["name"] for i in sa.inspect(engine).get_indexes(events_table.name)}
        assert KIND_INDEX in names
    finally:
        engine.dispose()


def test_undelivered_pages_examine_a_bounded_number_of_receipts(engine: sa.Engine) -> None:
    events = [(n, Kind.RECEIVED, OUT, f"f{n:02d}", 1, None) for n in range(40)]
    # Every third file was delivered; f05 was received again after its delivery.
    events += [(100 + n, Kind.DELIVERED, OUT, f"f{n:02d}", 1, PARTNER) for n in range(0, 40, 3)]
    events += [(200, Kind.RECEIVED, OUT, "f03", 1, None), (5, Kind.RECEIVED, IN, "g", 1, None)]
    _add(engine, *events)
    waiting = {f"f{n:02d}" for n in range(40) if n % 3} | {"f03"}
    seen: list[str] = []
    until = None
    pages = 0
    while True:
        page = recent_undelivered(engine, [OUT], until=until, limit=100, scan=8)
        seen += [e.name for e in page.events]
        pages += 1
        if page.before is None:
            break
        assert page.events == [] or page.events[-1].at >= page.before
        until = page.before
    assert sorted(seen) == sorted(waiting) and len(seen) == len(waiting)
    assert pages >= 5  # 41 receipts, 8 at a time
    one = recent_undelivered(engine, [OUT, IN], limit=3)
    assert [e.name for e in one.events] == ["f03", "f38", "f37"]
    assert one.before == one.events[-1].at
    since = recent_undelivered(engine, [OUT, IN], since=T0 + timedelta(seconds=38))
    assert [e.name for e in since.events] == ["f03", "f38"] and since.before is None


def test_a_pattern_without_a_literal_prefix_searches_the_latest_events(engine: sa.Engine) -> None:
    _add(engine, *((n, Kind.RECEIVED, OUT, f"f{n}.csv", 1, None) for n in range(10)))
    assert matching_names(engine, "*.csv", recent=3) == ["f7.csv", "f8.csv", "f9.csv"]
    assert matching_names(engine, "*[0-2].csv", recent=3) == []
    assert len(matching_names(engine, "*.csv")) == 10
    # A literal prefix reads the index on names: every event is searched.
    assert len(matching_names(engine, "f*.csv", recent=3)) == 10
