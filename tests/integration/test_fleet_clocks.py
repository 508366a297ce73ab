"""Instances whose clocks are wrong, on a real PostgreSQL ledger.

The fleet view used to judge each beat, stamped by its instance's own clock,
by the reader's clock: an instance ten minutes fast stayed ``alive`` (shown
``-599400ms ago``) for ten minutes after it died, one ten minutes slow was
shown ``silent`` while it worked, a name last beaten by a fast clock was
refused to a new process for ten minutes, and nothing said the clocks were
off.

Now each beat reads the database's clock in its transaction and records how
far its instance's clock is from it; the view judges beats by the database's
clock moved by that offset, lists the clocks further off than a quarter of
the lease (``status --fleet`` exits 1), and the instance itself logs
``service.clock_skew``, once in a while.  Here one ledger at a time reads a
clock moved by ten minutes; PostgreSQL's stays right.
"""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from entrepot.db import schema_version
from entrepot.jobs import Ledger
from entrepot.jobs.clock import SystemClock
from entrepot.jobs.ledger import MIGRATIONS
from entrepot.service.fleetview import fleet_view
from entrepot.service.heartbeat import Heartbeat
from entrepot.service.loading import load_config

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("postgres")]

SKEW = 600.0


class ShiftedClock(SystemClock):
    """The machine's clock moved by ``seconds``, as a host whose wall clock is wrong
    (its monotonic clock is right)."""

    def __init__(self, seconds: float) -> None:
        self.shift = timedelta(seconds=seconds)

    def now(self) -> datetime:
        return super().now() + self.shift


def _beat(ledger: Ledger, every: float = 10.0) -> float | None:
    return ledger.beat(started_at=ledger.clock.now(), generation=1, every=every, lease=60,
                       report={})  # fmt: skip


def _view(ledger: Ledger) -> dict[str, Any]:
    return fleet_view(ledger.instances(), datetime.now(UTC), silent_after=3, stuck_after=3600,
                      clock_limit=15, database_now=ledger.database_now())  # fmt: skip


def test_each_beat_records_how_far_its_clock_is_from_the_databases(postgres_url: str) -> None:
    with (
        Ledger(postgres_url, instance="right") as right,
        Ledger(postgres_url, clock=ShiftedClock(SKEW), instance="fast") as fast,
        Ledger(postgres_url, clock=ShiftedClock(-SKEW), instance="slow") as slow,
    ):
        offsets = {name: _beat(ledger) for name, ledger in
                   (("right", right), ("fast", fast), ("slow", slow))}  # fmt: skip
        recorded = {record.name: record.clock_offset for record in right.instances()}
        view = _view(slow)  # whoever reads, the same answer
    assert recorded == offsets
    for name, expected in (("right", 0.0), ("fast", SKEW), ("slow", -SKEW)):
        assert recorded[name] == pytest.approx(expected, abs=2)
    shown = {i["name"]: i for i in view["instances"]}
    assert {name: i["state"] for name, i in shown.items()} == dict.fromkeys(shown, "alive")
    assert all(0 <= i["seconds_since_beat"] < 5 for i in shown.values())
    assert (shown["fast"]["clock"], shown["slow"]["clock"]) == ("+10m", "-10m")
    assert sorted(c["instance"] for c in view["clocks"]) == ["fast", "slow"]


def test_a_dead_fast_instance_is_silent_and_a_working_slow_one_alive(
    postgres_url: str, cli: Any
) -> None:
    with (
        Ledger(postgres_url, clock=ShiftedClock(SKEW), instance="fast") as fast,
        Ledger(postgres_url, clock=ShiftedClock(-SKEW), instance="slow") as slow,
    ):
        _beat(fast, every=0.2)  # then it is killed
        for _ in range(8):
            _beat(slow, every=0.2)
            time.sleep(0.15)
        view = _view(fast)
    states = {i["name"]: (i["state"], i["beat_age"]) for i in view["instances"]}
    assert states["fast"][0] == "silent" and states["fast"][1].endswith(" ago")
    assert states["slow"][0] == "alive"
    code, out, _ = cli("status", "--fleet", "--ledger", postgres_url, "--json")
    shown = json.loads(out)
    assert (code, shown["silent"]) == (1, ["fast"])
    offsets = {i["name"]: i["clock_offset"] for i in shown["instances"]}
    assert offsets == {"fast": pytest.approx(SKEW, abs=2), "slow": pytest.approx(-SKEW, abs=2)}
    code, out, _ = cli("status", "--fleet", "--ledger", postgres_url)
    assert code == 1
    assert "Clocks" in out and "10m ahead of the database's" in out
    assert re.search(r"-\d\S* ago", out) is None  # no negative age


def test_a_clock_in_sync_is_not_flagged_and_a_right_fleet_exits_0(
    postgres_url: str, cli: Any
) -> None:
    with Ledger(postgres_url, instance="right") as right:
        offset = _beat(right)
    assert offset is not None and abs(offset) < 2
    code, out, _ = cli("status", "--fleet", "--ledger", postgres_url, "--json")
    assert (code, json.loads(out)["clocks"]) == (0, [])


def test_a_name_last_beaten_by_a_fast_clock_is_free_once_silent_by_the_databases(
    postgres_url: str,
) -> None:
    with Ledger(postgres_url, clock=ShiftedClock(SKEW), instance="twin") as before:
        _beat(before, every=0.2)
        with before.engine.begin() as conn:  # that process ran on another host
            conn.execute(sa.text("UPDATE entrepot_instances SET host = 'elsewhere'"))
    time.sleep(0.8)
    with Ledger(postgres_url, instance="twin") as again:
        assert again.twin(3) is None


def test_the_instance_warns_of_its_own_clock_once_in_a_while(
    postgres_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "entrepot.toml"
    path.write_text(f'[service]\nstate = "{tmp_path / "state"}"\n'
                    '[service.fleet]\nheartbeat = "1s"\nlease = "8s"\n')  # fmt: skip
    config = load_config(path)
    caplog.set_level(logging.WARNING, logger="entrepot.service")
    for shift, warnings in ((SKEW, 1), (0.0, 0)):
        caplog.clear()
        with Ledger(postgres_url, clock=ShiftedClock(shift), instance="beating") as ledger:
            heart = Heartbeat(ledger, lambda: config, lambda: 1, lambda ids: None)
            heart.beat()
            heart.beat()
        skewed = [r.getMessage() for r in caplog.records if "service.clock_skew" in r.getMessage()]
        assert len(skewed) == warnings, skewed
        assert heart.clock_offset == pytest.approx(shift, abs=2)
    assert "side=ahead" in caplog.text or warnings == 0


def test_a_postgresql_ledger_of_version_5_gets_the_instances_clock_offset(
    postgres_url: str,
) -> None:
    with Ledger(postgres_url) as ledger, ledger.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE entrepot_instances DROP COLUMN clock_offset"))
        conn.execute(sa.text("UPDATE entrepot_schema SET version = 5 WHERE component = 'ledger'"))
    with Ledger(postgres_url) as ledger:
        assert schema_version(ledger.engine, "ledger") == MIGRATIONS[-1].version >= 6
        assert _beat(ledger) is not None
        assert ledger.instances()[0].clock_offset is not None
