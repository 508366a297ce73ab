"""The daemon's parts: lanes merge kicks and stop cleanly, the instance lock and service.json,
systemd notifications, the wake-up pipe, and runs stopped mid-way recorded as interrupted."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from entrepot.interrupts import Terminated
from entrepot.jobs import FakeClock, JobState, Ledger, Outcome, Runner, SystemClock
from entrepot.jobs.testing import ScriptedJob
from entrepot.service.instance import AlreadyRunning, InstanceLock, StateFile, read_state
from entrepot.service.interrupting import StopAware, StoppableClock
from entrepot.service.lanes import Lane
from entrepot.service.notify import SystemdNotifier
from entrepot.service.waking import Waker


class Slow:
    """A work that takes ``seconds`` per run and records its triggers."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.triggers: list[str] = []
        self.interrupted = threading.Event()

    def run(self, trigger: str) -> None:
        self.triggers.append(trigger)
        self.interrupted.wait(self.seconds)

    def interrupt(self) -> None:
        self.interrupted.set()


def test_kicks_during_a_run_merge_into_one_more_run() -> None:
    work = Slow(0.3)
    lane = Lane("t", work).start()
    lane.kick("arrival")
    time.sleep(0.05)
    for _ in range(20):
        lane.kick("arrival")
    assert lane.wait_idle(5)
    assert work.triggers == ["arrival", "arrival"]
    lane.stop()
    assert lane.join(2)


def test_stopping_a_lane_interrupts_its_run_and_takes_no_more() -> None:
    work = Slow(30)
    lane = Lane("t", work).start()
    lane.kick("every")
    time.sleep(0.05)
    lane.kick("every")
    started = time.monotonic()
    lane.stop()
    assert lane.join(5) and time.monotonic() - started < 5
    assert work.triggers == ["every"]
    lane.kick("every")  # ignored once stopped
    assert work.triggers == ["every"]


def test_one_lock_per_state_folder_and_service_json(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with InstanceLock(state):
        with pytest.raises(AlreadyRunning, match=f"PID {os.getpid()}"):
            InstanceLock(state).acquire()
        file = StateFile(state)
        file.write({"pid": os.getpid(), "generation": 1})
        assert read_state(state) == {"pid": os.getpid(), "generation": 1}
    # Released (as a killed process's lock is): the file left behind is not believed.
    assert read_state(state) is None
    InstanceLock(state).acquire().release()
    file.remove()
    assert not (state / "service.json").exists()


def test_systemd_notifications_go_to_the_socket_named(tmp_path: Path) -> None:
    assert not SystemdNotifier({}).ready()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "n.sock"))
        notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "n.sock")})
        assert notifier.ready("2 routes") and notifier.reloading() and notifier.stopping()
        assert sock.recv(100) == b"READY=1\nSTATUS=2 routes"
        assert sock.recv(100).startswith(b"RELOADING=1\nMONOTONIC_USEC=")
        assert sock.recv(100) == b"STOPPING=1"


def test_the_waker_sleeps_until_rung() -> None:
    waker = Waker()
    assert waker.wait(0.01) is False
    threading.Timer(0.05, waker.wake).start()
    started = time.monotonic()
    assert waker.wait(5) is True and time.monotonic() - started < 4
    for _ in range(100_000):  # a full pipe loses nothing and blocks no one
        waker.wake()
    assert waker.wait(0) is True and waker.wait(0) is False
    waker.close()


def test_a_run_stopped_midway_is_recorded_as_interrupted_and_due_again(tmp_path: Path) -> None:
    stopping = threading.Event()
    with Ledger.open(tmp_path / "state") as ledger:
        runner = Runner(ledger, clock=StoppableClock(SystemClock(), stopping))
        job = ScriptedJob(items=1)
        # The stop comes while the run is under way: the next step raises Terminated.
        original = job.produce

        def produce_then_stop(ctx):  # type: ignore[no-untyped-def]
            stopping.set()
            return original(ctx)

        job.produce = produce_then_stop  # type: ignore[method-assign]
        with pytest.raises(Terminated):
            runner.run(StopAware(job, stopping))
        record = ledger.jobs()[0]
        assert record.state == JobState.BACKLOG and record.kind == job.kind
        assert ledger.runs(record.id)[0].outcome == Outcome.INTERRUPTED


def test_a_retry_wait_ends_at_once_when_the_service_stops() -> None:
    stopping = threading.Event()
    clock = StoppableClock(SystemClock(), stopping)
    threading.Timer(0.05, stopping.set).start()
    started = time.monotonic()
    with pytest.raises(Terminated):
        clock.sleep(30)
    assert time.monotonic() - started < 5
    fake = StoppableClock(FakeClock(), threading.Event())
    fake.sleep(3600)  # an injected clock keeps its own way of waiting
    assert fake.clock.sleeps == [3600]  # type: ignore[attr-defined]
