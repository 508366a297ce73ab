"""``every`` intervals and a wall clock that steps.

What was wrong: the scheduler kept an ``every`` route's next slot as a
wall-clock time, so a clock stepped back an hour (an NTP correction, a
virtual machine resumed) stopped an ``every = "5m"`` route for an hour and
five minutes, and a clock stepped forward ran it early.  Now intervals are
measured on the clock's monotonic time; ``cron`` still follows the wall clock.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from entrepot.service.schedule import Scheduler, Triggers

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class SteppingClock:
    """A clock whose wall time can be stepped apart from its monotonic time."""

    def __init__(self) -> None:
        self.wall = START
        self.ticks = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self.wall

    def monotonic(self) -> float:
        with self._lock:
            return self.ticks

    def sleep(self, seconds: float) -> None:
        self.advance(max(seconds, 0.0))

    def advance(self, seconds: float) -> None:
        """Real time passes: both clocks move."""
        with self._lock:
            self.wall += timedelta(seconds=seconds)
            self.ticks += seconds

    def step(self, seconds: float) -> None:
        """The wall clock alone is set (NTP); monotonic time goes on."""
        with self._lock:
            self.wall += timedelta(seconds=seconds)


def _runs_over(scheduler: Scheduler, clock: SteppingClock, seconds: int, tick: int = 5) -> int:
    runs = 0
    for _ in range(seconds // tick):
        clock.advance(tick)
        runs += len(scheduler.due())
    return runs


def test_an_interval_goes_on_when_the_wall_clock_steps_back_an_hour() -> None:
    clock = SteppingClock()
    scheduler = Scheduler(clock, tz=UTC)
    scheduler.set("r", Triggers(every=300))
    assert scheduler.due() == [("r", "every")]
    clock.advance(300)
    assert scheduler.due() == [("r", "every")]
    clock.step(-3600)
    assert _runs_over(scheduler, clock, 3600) == 12  # one every five minutes, as before
    # What service.json shows is on the wall clock of now.
    assert scheduler.next_due("r") == clock.now() + timedelta(seconds=300)


def test_an_interval_does_not_run_early_when_the_wall_clock_steps_forward() -> None:
    clock = SteppingClock()
    scheduler = Scheduler(clock, tz=UTC)
    scheduler.set("r", Triggers(every=300))
    scheduler.due()
    clock.step(3600)
    assert scheduler.due() == []
    assert scheduler.seconds_to_next() == 300
    clock.advance(299)
    assert scheduler.due() == []
    clock.advance(1)
    assert scheduler.due() == [("r", "every")]


def test_cron_still_follows_the_wall_clock() -> None:
    clock = SteppingClock()
    scheduler = Scheduler(clock, tz=UTC)
    scheduler.set("nightly", Triggers(cron="0 2 * * *"))
    clock.step(14 * 3600 - 1)  # the wall clock jumps to 01:59:59 the next day
    assert scheduler.due() == []
    clock.advance(1)
    assert scheduler.due() == [("nightly", "cron")]
