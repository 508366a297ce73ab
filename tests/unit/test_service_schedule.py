"""Interval and cron triggers on an injected clock: the scheduler alone, then the daemon."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from entrepot.jobs import FakeClock, Ledger
from entrepot.service.daemon import Daemon
from entrepot.service.loading import load_config
from entrepot.service.schedule import Scheduler, Triggers
from entrepot.spool import Spool

START = datetime(2026, 3, 1, 1, 58, tzinfo=UTC)


def test_every_runs_at_start_then_at_a_fixed_rate_without_making_up_missed_slots() -> None:
    clock = FakeClock(START)
    scheduler = Scheduler(clock, tz=UTC)
    scheduler.set("r", Triggers(every=300))
    assert scheduler.due() == [("r", "every")]
    assert scheduler.due() == []
    clock.advance(299)
    assert scheduler.due() == []
    assert scheduler.seconds_to_next() == pytest.approx(1)
    clock.advance(1)
    assert scheduler.due() == [("r", "every")]
    clock.advance(3 * 300 + 10)  # three slots missed (a busy or sleeping machine): one run
    assert scheduler.due() == [("r", "every")]
    assert scheduler.next_due("r") == START + timedelta(seconds=5 * 300)


def test_cron_fires_on_its_minutes_in_the_time_zone_given() -> None:
    clock = FakeClock(START)
    scheduler = Scheduler(clock, tz=UTC)
    scheduler.set("nightly", Triggers(cron="0 2 * * *"))
    scheduler.set("quarter", Triggers(cron="*/15 * * * *"))
    assert scheduler.due() == []
    clock.advance(120)  # 02:00
    assert sorted(scheduler.due()) == [("nightly", "cron"), ("quarter", "cron")]
    clock.advance(15 * 60)
    assert scheduler.due() == [("quarter", "cron")]
    assert scheduler.next_due("nightly") == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    clock.advance(3 * 86400)  # days missed: one run, then the next slot to come
    assert sorted(scheduler.due()) == [("nightly", "cron"), ("quarter", "cron")]
    assert scheduler.next_due("nightly") == datetime(2026, 3, 5, 2, 0, tzinfo=UTC)


def test_a_hold_defers_timers_until_the_backlog_job_is_due() -> None:
    clock = FakeClock(START)
    scheduler = Scheduler(clock, tz=UTC)
    scheduler.set("r", Triggers(every=60, on_arrival=True))
    scheduler.due()
    scheduler.hold("r", START + timedelta(seconds=600))
    clock.advance(120)
    assert scheduler.held("r") and scheduler.due() == []
    assert scheduler.next_due("r") == START + timedelta(seconds=600)
    clock.advance(480)
    assert not scheduler.held("r")
    assert scheduler.due() == [("r", "every")]


def test_changing_triggers_keeps_the_timers_of_unchanged_ones() -> None:
    clock = FakeClock(START)
    scheduler = Scheduler(clock, tz=UTC)
    scheduler.set("r", Triggers(every=600))
    scheduler.due()
    clock.advance(60)
    scheduler.set("r", Triggers(every=600))  # a reload with the same settings
    assert scheduler.due() == []
    scheduler.set("r", Triggers(every=600, cron="0 3 * * *"))
    assert scheduler.due() == []  # the interval keeps its phase
    scheduler.remove("r")
    assert scheduler.names() == [] and scheduler.seconds_to_next() is None


# -- the daemon on an injected clock --------------------------------------------------------

CONFIG = """\
[service]
state = "state"
scan_every = "1h"

[spools.hourly]
path = "hourly"

[spools.nightly]
path = "nightly"

[targets.local]
url = "{url}"

[routes.hourly]
spool = "hourly"
target = "local"
every = "1h"

[routes.nightly]
spool = "nightly"
target = "local"
cron = "0 2 * * *"
"""


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Daemon, FakeClock, Path]]:
    delivered = tmp_path / "delivered"
    delivered.mkdir()
    (tmp_path / "entrepot.toml").write_text(CONFIG.format(url=delivered.as_uri()))
    clock = FakeClock(START)
    service = Daemon(load_config(tmp_path / "entrepot.toml"), clock=clock, hints=False, tz=UTC)
    service.start()
    try:
        yield service, clock, delivered
    finally:
        service.request_stop()
        service.shutdown()


def _names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_the_daemon_runs_interval_and_cron_routes_when_the_clock_says(
    daemon: tuple[Daemon, FakeClock, Path], tmp_path: Path
) -> None:
    service, clock, delivered = daemon
    service.tick()
    assert service.wait_idle(20)
    Spool(tmp_path / "hourly").publish_bytes(b"h1", "h1.txt")
    Spool(tmp_path / "nightly").publish_bytes(b"n1", "n1.txt")
    service.tick()
    assert service.wait_idle(20)
    assert _names(delivered) == []  # neither timer has come: files wait

    clock.advance(120)  # 02:00: the cron route runs, not the hourly one
    service.tick()
    assert service.wait_idle(20)
    assert _names(delivered) == ["n1.txt"]

    clock.advance(3600 - 120)  # an hour after the start
    service.tick()
    assert service.wait_idle(20)
    assert _names(delivered) == ["h1.txt", "n1.txt"]
    status = service.status()
    assert status["routes"]["hourly"]["next_due"] == "2026-03-01T03:58:00+00:00"
    assert status["routes"]["nightly"]["next_due"] == "2026-03-02T02:00:00+00:00"

    # Runs that found nothing were not recorded; the two that shipped were.
    with Ledger.open(tmp_path / "state") as ledger:
        assert len(ledger.jobs(kind="ship")) == 2


def test_routes_removed_by_reloads_leave_no_lane_behind(
    daemon: tuple[Daemon, FakeClock, Path], tmp_path: Path
) -> None:
    service, _, _ = daemon
    file = tmp_path / "entrepot.toml"
    full = file.read_text()
    without = full.split("[routes.nightly]")[0]
    service.reread = lambda: load_config(file)
    for _ in range(10):  # the nightly route goes and comes back, ten times
        file.write_text(without)
        assert service.reload()
        file.write_text(full)
        assert service.reload()
    assert service.wiring is not None
    assert len(service.wiring.retired) <= 1  # only the last, if its thread has not ended yet
