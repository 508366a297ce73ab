"""The stop's deadline: a service asked to stop ends within its grace period and a margin.

A stop lets runs in progress finish for ``[service] grace`` seconds, then
abandons them.  But the main thread itself may be stuck in a call that
never returns — a database that accepts connections and never answers —
and then it never even starts to stop: SIGTERM would be ignored until
systemd's SIGKILL.  :class:`StopWatchdog` is a thread of its own that
waits for the stop request; once ``grace`` plus :data:`STOP_MARGIN`
seconds have passed without the daemon saying it has stopped, it logs
``service.stop_forced`` with what was still going on and ends the process
with the exit code of the signal (143 for SIGTERM, 130 for SIGINT).

Ending the process there loses nothing: every step is durable, and the
next start recovers what it held (claims go back to ``new/``, runs are
recorded as interrupted, archives are sealed), as after a ``kill -9``.

:meth:`StopWatchdog.stop_requested` only writes a byte to a pipe: it is
safe from a signal handler.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

from entrepot.logs import log_event
from entrepot.service.waking import Waker

logger = logging.getLogger("entrepot.service")

__all__ = ["STOP_MARGIN", "StopWatchdog", "exit_code_of"]

#: Seconds a stop may take beyond ``[service] grace`` (sealing, the last heartbeat…).
STOP_MARGIN = 5.0


def exit_code_of(reason: str) -> int:
    """The exit code of a process ended by the signal named ``reason`` (SIGTERM by default)."""
    signum = signal.SIGINT if reason == "SIGINT" else signal.SIGTERM
    return 128 + int(signum)


class StopWatchdog:
    """Ends the process when a requested stop takes longer than ``grace() + STOP_MARGIN``.

    ``grace`` gives the current grace period, ``reason`` why the stop was asked
    (a signal's name), ``doing`` what is still going on (for the log).
    """

    def __init__(
        self,
        grace: Callable[[], float],
        reason: Callable[[], str],
        doing: Callable[[], str],
        *,
        margin: float = STOP_MARGIN,
    ) -> None:
        self.grace = grace
        self.reason = reason
        self.doing = doing
        self.margin = margin
        self._bell = Waker()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="entrepot-stop", daemon=True)

    def start(self) -> StopWatchdog:
        self._thread.start()
        return self

    def stop_requested(self) -> None:
        """The stop has been asked (safe from a signal handler): the deadline starts now."""
        self._bell.wake()

    def stopped(self) -> None:
        """The daemon has stopped in time: nothing to force."""
        self._stopped.set()
        self._bell.wake()

    def _watch(self) -> None:
        self._bell.wait(None)
        allowed = self.grace() + self.margin
        if self._stopped.wait(allowed):
            self._bell.close()
            return
        log_event(logger, "service.stop_forced", logging.ERROR, after=round(allowed, 1),
                  doing=self.doing(), reason=self.reason(),
                  hint="the next start recovers what it held")  # fmt: skip
        for handler in (*logging.getLogger().handlers, *logging.getLogger("entrepot").handlers):
            handler.flush()
        sys.stderr.flush()
        # Not sys.exit: the main thread is the one stuck, and would never unwind.
        os._exit(exit_code_of(self.reason()))
