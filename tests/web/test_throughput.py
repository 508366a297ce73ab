"""Throughput per hour and per day: counted from the provenance index, hours that are over
kept for a while, the current hour always counted again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from entrepot.db import make_engine
from entrepot.provenance import Kind
from entrepot.provenance.schema import ensure_tables, events_table
from entrepot.web.throughput import OLDER_TTL, RECENT_TTL, HourCache, throughput

OUT = "/spool/out"
NOW = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", purpose="ledger")
    ensure_tables(engine)
    yield engine
    engine.dispose()


def _delivered(engine: sa.Engine, at: datetime, size: int, kind: Kind = Kind.DELIVERED) -> None:
    row = {"at": at.timestamp(), "kind": str(kind), "place": OUT, "name": f"{at}", "size": size,
           "target": "file:///p", "outcome": "ok", "details": "{}"}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(events_table.insert(), [row])


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_hours_and_days_are_counted(engine: sa.Engine) -> None:
    _delivered(engine, NOW - timedelta(minutes=5), 10)
    _delivered(engine, NOW - timedelta(hours=3), 20)
    _delivered(engine, NOW - timedelta(hours=3), 5, Kind.SKIPPED)
    _delivered(engine, NOW - timedelta(hours=3), 99, Kind.CLAIMED)
    _delivered(engine, NOW - timedelta(days=3), 30)
    _delivered(engine, NOW - timedelta(days=8), 40)
    found = throughput(engine, [OUT], None, HourCache(), now=NOW)
    assert len(found.hours) == 24 and len(found.days) == 7
    assert found.hours[-1].start == datetime(2026, 12, 5, 10, tzinfo=UTC)
    assert (found.hours[-1].files, found.hours[-1].bytes) == (1, 10)
    assert (found.hours[-4].files, found.hours[-4].bytes) == (2, 25)
    assert sum(t.files for t in found.hours) == 3
    assert [t.files for t in found.days] == [0, 0, 0, 1, 0, 0, 3]
    assert found.days[-1].start == datetime(2026, 12, 4, 11, tzinfo=UTC)
    other = throughput(engine, [OUT], "ftp://elsewhere/", HourCache(), now=NOW)
    assert sum(t.files for t in other.days) == 0


def test_past_hours_are_kept_for_a_while_and_the_current_one_never(engine: sa.Engine) -> None:
    clock = Clock()
    cache = HourCache(clock)
    throughput(engine, [OUT], None, cache, now=NOW)
    # Late events: one in the current hour, one an hour ago, one a day ago.
    _delivered(engine, NOW - timedelta(minutes=1), 1)
    _delivered(engine, NOW - timedelta(hours=1), 2)
    _delivered(engine, NOW - timedelta(days=1), 3)
    found = throughput(engine, [OUT], None, cache, now=NOW)
    assert sum(t.files for t in found.days) == 1  # the current hour only, for now
    clock.now = RECENT_TTL + 1
    found = throughput(engine, [OUT], None, cache, now=NOW)
    assert sum(t.files for t in found.days) == 2
    clock.now = OLDER_TTL + 1
    found = throughput(engine, [OUT], None, cache, now=NOW)
    assert sum(t.files for t in found.days) == 3
