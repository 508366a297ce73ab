"""Deadlines: progress in earnest keeps a call alive; drips and silence do not."""

from __future__ import annotations

import threading
import time

from entrepot.targets.deadline import RENEW_BYTES, WATCHDOG


def test_a_silent_call_expires_once() -> None:
    fired = threading.Event()
    calls: list[int] = []

    def abort() -> None:
        calls.append(1)
        fired.set()

    watch = WATCHDOG.watch(0.2, abort)
    assert fired.wait(10)
    time.sleep(0.3)
    assert watch.expired and calls == [1]


def test_progress_renews_but_drips_do_not() -> None:
    steady = WATCHDOG.watch(1.0, lambda: None)
    dripping = WATCHDOG.watch(1.0, lambda: None)
    for _ in range(30):  # 3 s: three deadlines' worth
        steady.progressed(RENEW_BYTES)
        dripping.progressed(1)
        time.sleep(0.1)
    assert not steady.expired
    assert dripping.expired
    steady.cancel()


def test_a_cancelled_watch_never_fires() -> None:
    fired: list[int] = []
    watch = WATCHDOG.watch(0.1, lambda: fired.append(1))
    watch.cancel()
    later = WATCHDOG.watch(0.3, lambda: None)  # the watchdog passes the first one by
    deadline = time.monotonic() + 10
    while not later.expired and time.monotonic() < deadline:
        time.sleep(0.05)
    assert later.expired and fired == [] and not watch.expired
