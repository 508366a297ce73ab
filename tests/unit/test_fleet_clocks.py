"""The fleet view when an instance's clock is wrong.

Each heartbeat is stamped by its instance's own clock, and the fleet view used
to judge it by the reader's: a beat stamped ten minutes ahead was shown as
``-599400ms ago`` and the instance stayed ``alive`` for ten minutes after it
died, while a working instance ten minutes behind was shown ``silent``.
Nothing compared the clocks.

Now each beat on PostgreSQL records how far its instance's clock is from the
database's (``clock_offset``; the real-server tests are in
``tests/integration/test_fleet_clocks.py``) and the view judges beats by the
database's clock moved by that offset.  A beat stamped in the future (where
no offset is measured, SQLite) reads ``in 9m``, never a negative age, and an
instance whose clock is further off than a quarter of the lease is listed
under "Clocks": ``status --fleet`` exits 1 for it, as for a silent instance.
Negative durations format as ``-10m`` everywhere.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from entrepot.db import schema_version
from entrepot.jobs import FakeClock, Ledger, ledger_url
from entrepot.jobs.fleet import InstanceRecord, skew_limit
from entrepot.jobs.ledger import MIGRATIONS
from entrepot.service.fleetview import fleet_view
from entrepot.units import format_duration

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _record(name: str, beat_at: datetime, offset: float | None) -> InstanceRecord:
    return InstanceRecord(name, "host-" + name, 1, "1.0", 1, NOW - timedelta(hours=1), beat_at,
                          10.0, None, {}, clock_offset=offset)  # fmt: skip


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-600, "-10m"), (-599.4, "-9m59s"), (-0.25, "-250ms"), (-0.0001, "0ms"), (-5400, "-1h30m")],
)
def test_negative_durations_keep_their_sign_in_front_of_the_same_units(
    seconds: float, text: str
) -> None:
    assert format_duration(seconds) == text


def test_a_beat_stamped_in_the_future_is_shown_as_such_and_its_clock_flagged() -> None:
    ahead = _record("fast", NOW + timedelta(seconds=599.4), None)
    view = fleet_view([ahead], NOW, silent_after=3, stuck_after=3600, clock_limit=15)
    (shown,) = view["instances"]
    assert (shown["state"], shown["beat_age"], shown["clock"]) == ("alive", "in 9m59s",
                                                                   "not measured")  # fmt: skip
    assert "ms" not in shown["beat_age"] and shown["clock_skewed"]
    assert [(c["instance"], c["offset"]) for c in view["clocks"]] == [("fast", None)]
    assert "9m59s ahead" in view["clocks"][0]["reason"]


def test_beats_are_judged_by_the_database_clock_moved_by_each_instances_offset() -> None:
    database_now = NOW
    # Ten minutes fast, killed a minute ago: its last beat is stamped 9 minutes ahead.
    dead_fast = _record("fast", NOW - timedelta(seconds=60) + timedelta(minutes=10), 600.0)
    # Ten minutes slow, beat a second ago.
    working_slow = _record("slow", NOW - timedelta(seconds=1) - timedelta(minutes=10), -600.0)
    right = _record("right", NOW - timedelta(seconds=2), 0.004)
    reader = NOW + timedelta(minutes=3)  # the reader's own clock is off too: not used
    view = fleet_view([dead_fast, working_slow, right], reader, silent_after=3,
                      stuck_after=3600, clock_limit=15, database_now=database_now)  # fmt: skip
    shown = {i["name"]: (i["state"], i["beat_age"], i["clock"]) for i in view["instances"]}
    assert shown == {
        "fast": ("silent", "1m ago", "+10m"),
        "slow": ("alive", "1s ago", "-10m"),
        "right": ("alive", "2s ago", "+4ms"),
    }
    assert view["silent"] == ["fast"]
    reasons = {c["instance"]: c["reason"] for c in view["clocks"]}
    assert reasons == {
        "fast": "its clock is 10m ahead of the database's",
        "slow": "its clock is 10m behind the database's",
    }


def test_a_clock_within_a_quarter_of_the_lease_is_not_flagged() -> None:
    assert skew_limit(60) == 15
    near = _record("near", NOW, 14.0)
    far = _record("far", NOW, -16.0)
    view = fleet_view([near, far], NOW, silent_after=3, stuck_after=3600,
                      clock_limit=skew_limit(60), database_now=NOW)  # fmt: skip
    assert [c["instance"] for c in view["clocks"]] == ["far"]


def test_a_ledger_of_version_5_gets_the_instances_clock_offset(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger, ledger.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE entrepot_instances DROP COLUMN clock_offset"))
        conn.execute(sa.text("UPDATE entrepot_schema SET version = 5 WHERE component = 'ledger'"))
    with Ledger.open(tmp_path) as ledger:
        assert schema_version(ledger.engine, "ledger") == MIGRATIONS[-1].version >= 6
        columns = sa.inspect(ledger.engine).get_columns("entrepot_instances")
        assert "clock_offset" in {c["name"] for c in columns}
        offset = ledger.beat(started_at=NOW, generation=1, every=10, lease=60, report={})
        # SQLite has no clock of its own: not measured, nor is the database's time known.
        assert (offset, ledger.database_now()) == (None, None)
        assert ledger.instances()[0].clock_offset is None


def test_status_fleet_lists_a_clock_ahead_and_exits_1(tmp_path: Path, cli: Any) -> None:
    url = ledger_url(tmp_path / "state")
    (tmp_path / "state").mkdir()
    ahead = datetime.now(UTC) + timedelta(minutes=9, seconds=30)
    with (
        Ledger(url, instance="edge-1") as right,
        Ledger(url, clock=FakeClock(ahead), instance="edge-2") as fast,
    ):
        right.beat(started_at=NOW, generation=1, every=3600, lease=60, report={})
        fast.beat(started_at=ahead, generation=1, every=3600, lease=60, report={})
    code, out, _ = cli("status", "--fleet", "--state", tmp_path / "state")
    assert code == 1
    assert "Clocks" in out and "in 9m" in out
    assert re.search(r"-\d\S* ago", out) is None  # no negative age
    code, out, _ = cli("status", "--fleet", "--json", "--state", tmp_path / "state")
    view = json.loads(out)
    assert (code, view["silent"], [c["instance"] for c in view["clocks"]]) == (1, [], ["edge-2"])
    assert {i["name"]: i["clock_offset"] for i in view["instances"]} == {
        "edge-1": None,
        "edge-2": None,
    }
