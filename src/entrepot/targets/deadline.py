"""Deadlines for network calls: a peer that stops making progress is cut off.

A socket timeout bounds each read, not a whole call: a peer that sends one
byte every few seconds keeps every read inside its timeout and a call
waiting forever.  So every call a target makes runs under a :class:`Watch`:
when ``seconds`` pass without progress, the watch *expires* and calls the
target's abort hook, which hangs up the call's sockets so that the blocked
call fails at once.  Progress is data moved in earnest: every
:data:`RENEW_BYTES` bytes renew the deadline, so a transfer may take as long
as it needs while it moves at least that much per ``seconds``, and a peer
that drips bytes cannot keep a call alive.

One daemon thread per process (the :data:`WATCHDOG`) keeps every watch in a
heap ordered by deadline; starting and ending a watch costs a heap push and
a flag, so thousands of small calls a second stay cheap.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["RENEW_BYTES", "WATCHDOG", "Watch", "Watchdog", "hang_up"]

#: Bytes a call must move to earn a new deadline.
RENEW_BYTES = 64 * 1024

logger = logging.getLogger(__name__)


class Watch:
    """One call's deadline; :meth:`renew` it on progress, :meth:`cancel` it when done."""

    __slots__ = ("_lock", "cancelled", "deadline", "expired", "moved", "on_expire", "seconds")

    def __init__(self, seconds: float, on_expire: Callable[[], None]) -> None:
        self.seconds = seconds
        self.on_expire = on_expire
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self.cancelled = False
        self.moved = 0
        self._lock = threading.Lock()

    def renew(self) -> None:
        """Progress was made: the call has ``seconds`` more from now."""
        self.deadline = time.monotonic() + self.seconds

    def progressed(self, n: int) -> None:
        """``n`` more bytes moved; every :data:`RENEW_BYTES` of them renew the deadline.

        Called from any thread; a lost update among racing callers only
        delays a renewal.
        """
        self.moved += n
        if self.moved >= RENEW_BYTES:
            self.moved = 0
            self.renew()

    def cancel(self) -> None:
        """The call ended; waits for an abort already under way to finish."""
        with self._lock:
            self.cancelled = True

    def _fire(self) -> None:
        with self._lock:
            if self.cancelled or self.expired:
                return
            self.expired = True
            try:
                self.on_expire()
            except Exception as exc:  # noqa: BLE001 - an abort must never kill the watchdog
                logger.debug("abort hook failed: %r", exc)


class Watchdog:
    """The thread that fires expired watches; see the module docstring."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start afresh: no watches, no thread (one starts on first use)."""
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, seconds: float, on_expire: Callable[[], None]) -> Watch:
        """Start a watch that calls ``on_expire`` once ``seconds`` pass without renewal."""
        entry = Watch(seconds, on_expire)
        with self._wake:
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (entry.deadline, next(self._order), entry))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="entrepot-watchdog", daemon=True
                )
                self._thread.start()
            elif earliest is None or entry.deadline < earliest:
                self._wake.notify()
        return entry

    def _run(self) -> None:
        with self._wake:
            while True:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    _, _, entry = heapq.heappop(self._heap)
                    if entry.cancelled:
                        continue
                    if entry.deadline > now:
                        # Renewed since it was queued: queue it again at its new time.
                        heapq.heappush(self._heap, (entry.deadline, next(self._order), entry))
                        continue
                    # Fired outside the lock: an abort may block for a moment.
                    self._wake.release()
                    try:
                        entry._fire()
                    finally:
                        self._wake.acquire()
                timeout = self._heap[0][0] - now if self._heap else None
                self._wake.wait(timeout)


#: The process's watchdog.
WATCHDOG = Watchdog()


# A forked child has none of its parent's threads: its watchdog starts afresh.
os.register_at_fork(after_in_child=WATCHDOG.reset)


def hang_up(sock: Any) -> None:
    """Shut a socket down (both ways) so that any thread blocked on it returns at once.

    ``socket.socket.shutdown`` is called directly: on a TLS socket it acts on
    the file descriptor without touching the TLS state another thread is using.
    """
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
