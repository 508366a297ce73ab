"""The daemon behind ``entrepot serve``: start, decide what runs when, reload, stop.

The main thread owns time: it fires timers (:mod:`.schedule`), reacts to
file-system hints (:mod:`.hints`), scans every ``[service] scan_every`` as
the ground truth, and kicks lanes (:mod:`.lanes`), which run the work
(:mod:`.works`) in their own threads.  It sleeps in between
(:mod:`.waking`): an idle service costs nothing.

**Start.**  Take the state folder's lock (a second service exits 3 naming
the first one's PID), open the ledger — where another live process that
speaks for the same instance name is refused, exit 3
(:func:`~.instance.refuse_twin`) — then recover what a crash may have
left — runs marked running by a dead process go back to the backlog
(:meth:`~entrepot.jobs.Ledger.recover_interrupted`), claims of dead
processes go back to ``new/`` and stale ``tmp/`` files go
(:meth:`~entrepot.spool.Spool.recover`), provenance events journaled and
not yet written are added, archives left open are sealed — and carry on:
files waiting are shipped at once, the backlog is re-run when due.  Then
``service.json``, READY for systemd, and the companions (HTTP endpoint).

**Scans** go on while the ledger is out of reach: the due jobs are then
not known (``service.scan_failed``, once), files wait in their spools, and
the next scan asks again.

**Reload** (:meth:`Daemon.request_reload`: SIGHUP, ``entrepot reload``):
see :mod:`.reloading`.

**Stop** (:meth:`Daemon.request_stop`: SIGTERM, SIGINT).  No new run
starts; runs in progress are asked to stop (the transfers in hand finish,
claims and remote locks are released, the run is recorded as interrupted
and its job is due again) and get ``[service] grace`` seconds.  What is
still running then is abandoned — a later start recovers it — archives left
open are sealed, ``service.json`` is removed and the lock released.  A stop
that takes longer than ``grace`` and a margin (the main thread stuck in a
call to a database that never answers) ends the process
(:mod:`.stopwatchdog`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

from entrepot.jobs import SYSTEM_CLOCK, Clock, JobRecord, Ledger, Runner, RunResult, ledger_url
from entrepot.logs import log_event
from entrepot.service.building import backlog_policy
from entrepot.service.companions import HOUSEKEEPING_EVERY, Companions, make_telemetry
from entrepot.service.config import Config
from entrepot.service.heartbeat import Heartbeat
from entrepot.service.hints import FolderHints
from entrepot.service.holds import Holds
from entrepot.service.instance import InstanceLock, StateFile, refuse_twin
from entrepot.service.interrupting import StoppableClock
from entrepot.service.notify import SystemdNotifier
from entrepot.service.plan import Plan
from entrepot.service.recovery import recover_all
from entrepot.service.reloading import Reloads, Rereader
from entrepot.service.schedule import Scheduler
from entrepot.service.selfstatus import describe
from entrepot.service.stopwatchdog import StopWatchdog
from entrepot.service.telemetry import Telemetry
from entrepot.service.waking import Waker
from entrepot.service.wiring import Wiring
from entrepot.service.works import Context, has_files

logger = logging.getLogger("entrepot.service")

__all__ = ["Daemon"]


class Daemon(Reloads):
    """One service over one configuration; see the module docstring."""

    def __init__(
        self,
        config: Config,
        *,
        reread: Rereader | None = None,
        clock: Clock = SYSTEM_CLOCK,
        telemetry: Telemetry | None = None,
        notifier: SystemdNotifier | None = None,
        on_config: Callable[[Config], None] | None = None,
        hints: bool = True,
        tz: tzinfo | None = None,
    ) -> None:
        self.config = config
        self.plan = Plan.of(config)
        self.generation = 1
        self.reread = reread
        self.clock = clock
        self.notifier = notifier or SystemdNotifier({})
        self.on_config = on_config
        self.use_hints = hints
        self.stopping = threading.Event()
        self.scheduler = Scheduler(clock, tz=tz)
        self.waker = Waker()
        self.companions = Companions()
        self.started_at: datetime | None = None
        self._telemetry = telemetry
        self._stop_reason: str | None = None
        self._reload_wanted = False
        self.last_reload: dict[str, Any] | None = None
        self._hinted: set[Any] = set()
        self._hint_lock = threading.Lock()
        self.holds = Holds(
            self.scheduler, clock, lambda: self.config.service.backlog.max_delay, self.waker.wake
        )
        self._lock: InstanceLock | None = None
        self._hints: FolderHints | None = None
        self._next_scan = 0.0
        self._next_housekeeping = 0.0
        self.ledger: Ledger | None = None
        self.wiring: Wiring | None = None
        self.heartbeat: Heartbeat | None = None
        self.state_file = StateFile(config.service.state)
        #: What the main thread does now (told when a stop has to be forced).
        self.step = "starting"
        self._watchdog: StopWatchdog | None = None
        self._scan_failing = False

    # -- what other threads (and signal handlers) may call ---------------------------

    def request_stop(self, reason: str = "stop") -> None:
        """Stop soon (safe from a signal handler)."""
        self._stop_reason = self._stop_reason or reason
        self.waker.wake()
        if self._watchdog is not None:
            self._watchdog.stop_requested()

    def request_reload(self) -> None:
        """Re-read the configuration soon (safe from a signal handler)."""
        self._reload_wanted = True
        self.waker.wake()

    @property
    def stop_requested(self) -> bool:
        return self._stop_reason is not None

    @property
    def hints_active(self) -> bool:
        """Whether notifications wake the routes now (not during a restart's pause)."""
        return self._hints is not None and self._hints.working

    # -- start ------------------------------------------------------------------------

    def start(self) -> None:
        """Lock, open, recover, start the lanes, READY; a failure then stops what started."""
        service = self.config.service
        self._lock = InstanceLock(service.state).acquire()
        try:
            self._start_locked()
        except BaseException as exc:
            self._stop_reason = self._stop_reason or f"start failed: {type(exc).__name__}"
            self.shutdown()
            raise

    def _start_locked(self) -> None:
        service = self.config.service
        ledger = Ledger(
            service.ledger or ledger_url(service.state),
            clock=self.clock,
            instance=service.instance,
            lease=service.fleet.lease,
        )
        ledger.state_dir = service.state  # where provenance journals are kept
        self.ledger = ledger
        refuse_twin(ledger, service.fleet)
        self.started_at = self.clock.now()
        telemetry = self._telemetry or make_telemetry(lambda: self.config, ledger)
        self._telemetry = telemetry
        runner = Runner(
            ledger,
            reruns=backlog_policy(service.backlog),
            clock=StoppableClock(self.clock, self.stopping),
        )
        recover_all(self.config, ledger)
        ctx = Context(self.config, ledger, runner, telemetry, self.stopping, self._finished)
        self.wiring = Wiring(ctx, self.scheduler, lambda: self.plan.owners)
        self.wiring.apply(self.plan)
        self.holds.from_ledger(ledger, self.plan.owners)
        self.heartbeat = Heartbeat(ledger, lambda: self.config, lambda: self.generation,
                                   self.wiring.recovered).start()  # fmt: skip
        # The endpoint first: an address in use fails the start before any run and READY.
        self.companions.start(self.config, telemetry)
        self._start_hints()
        telemetry.config_loaded(self.generation, True)
        self._scan("start")
        self.write_state()
        self.notifier.ready(f"{len(self.config.routes)} routes")
        log_event(logger, "service.ready", pid=os.getpid(), routes=len(self.config.routes),
                  fetches=len(self.config.fetches), generation=self.generation,
                  hints=self._hints is not None)  # fmt: skip

    def _start_hints(self) -> None:
        if self._hints is not None:
            self._hints.stop()
            self._hints = None
        if self.use_hints and self.plan.hint_folders:
            hints = FolderHints(self.plan.hint_folders, self._hint)
            self._hints = hints if hints.start() else None

    def _hint(self, folders: set[Any]) -> None:
        with self._hint_lock:
            self._hinted |= folders
        self.waker.wake()

    # -- the main loop ----------------------------------------------------------------

    def run(self) -> int:
        """Start, serve until asked to stop, stop; returns the exit code (0).

        Run from the main thread (``serve``), a stop that outlasts its grace
        period ends the process (:mod:`.stopwatchdog`).
        """
        if threading.current_thread() is threading.main_thread():
            self._watchdog = StopWatchdog(
                lambda: self.config.service.grace, lambda: self._stop_reason or "stop", self._doing
            ).start()
        self.start()
        try:
            while not self.stop_requested:
                self.step = "deciding"
                self.tick()
                self.step = "sleeping"
                self.waker.wait(self.sleep_time())
        finally:
            self.shutdown()
        return 0

    def _doing(self) -> str:
        """What the main thread does, and the lanes still running (for a forced stop)."""
        lanes = self.wiring.lanes.items() if self.wiring is not None else ()
        busy = ",".join(name for name, lane in lanes if lane.busy)
        return f"{self.step}; lanes running: {busy or 'none'}"

    def tick(self) -> None:
        """One pass of decisions at the clock's time: reload, timers, hints, scans."""
        wiring = self.wiring
        assert wiring is not None
        if self._reload_wanted:
            self._reload_wanted = False
            self.reload()
        for key, trigger in self.scheduler.due():
            wiring.kick(key, trigger)
        with self._hint_lock:
            hinted, self._hinted = self._hinted, set()
        for folder in hinted:
            if folder == self.plan.watch:
                wiring.kick("watch", "arrival")
            for key in self.plan.arrivals.get(folder, ()):
                self._arrival(key, "arrival")
        for key in self.holds.expired():
            wiring.kick(key, "backlog")
        if time.monotonic() >= self._next_scan:
            self._scan("scan")
        if time.monotonic() >= self._next_housekeeping:
            self._next_housekeeping = time.monotonic() + HOUSEKEEPING_EVERY
            wiring.kick("housekeeping", "timer")
        watch = wiring.watch_folder
        if watch is not None and (wait := watch.next_check()) is not None and wait <= 0.05:
            wiring.kick("watch", "settle")
        self.write_state()

    def _arrival(self, key: str, trigger: str) -> None:
        if not self.scheduler.held(key):
            assert self.wiring is not None
            self.wiring.kick(key, trigger)

    def _scan(self, trigger: str) -> None:
        """The ground truth: files waiting, due backlog jobs, abandoned archives, the watch."""
        assert self.wiring is not None and self.ledger is not None
        self._next_scan = time.monotonic() + self.config.service.scan_every
        for folder, keys in self.plan.arrivals.items():
            if has_files(folder):
                for key in keys:
                    self._arrival(key, trigger)
        owners = self.plan.owners
        for record in self._due():
            owner = owners.get(record.identity or "")
            self.wiring.kick(owner or "backlog", "backlog")
        self.wiring.kick("archives", trigger)
        self.wiring.kick("watch", trigger)

    def _due(self) -> list[JobRecord]:
        """The backlog's due jobs; none while the ledger is out of reach (the next scan
        asks again, and ``/readyz`` says the ledger does not answer)."""
        assert self.ledger is not None
        self.step = "scanning: asking the ledger for due jobs"
        try:
            due = self.ledger.due(self.clock.now())
        except Exception as exc:  # noqa: BLE001 - an outage of the ledger must not stop the service
            if not self._scan_failing:
                error = f"{type(exc).__name__}: {exc}".splitlines()[0]
                log_event(logger, "service.scan_failed", logging.WARNING, error=error,
                          hint="files wait in their spools; tried again at each scan")  # fmt: skip
            self._scan_failing = True
            return []
        if self._scan_failing:
            log_event(logger, "service.scan_back")
        self._scan_failing = False
        return due

    def sleep_time(self) -> float:
        """Seconds until something is due (the next timer, scan, hold or settling file)."""
        now = time.monotonic()
        waits = [self._next_scan - now, self._next_housekeeping - now]
        timer = self.scheduler.seconds_to_next()
        if timer is not None:
            waits.append(timer)
        held = self.holds.seconds_to_next()
        if held is not None:
            waits.append(held)
        watch = self.wiring.watch_folder if self.wiring else None
        if watch is not None and (settle := watch.next_check()) is not None:
            waits.append(settle)
        return max(0.0, min(waits))

    def _finished(self, kind: str, name: str, result: RunResult) -> None:
        """A route or fetch run ended: hold its triggers while its job waits in the backlog."""
        self.holds.after_run(f"{'route' if kind == 'ship' else 'fetch'}:{name}", result)
        if self.heartbeat is not None:
            self.heartbeat.after_run(kind, name, result)

    # -- what it says about itself ----------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What ``service.json`` holds (see :func:`.selfstatus.describe`)."""
        return describe(self)

    def write_state(self) -> None:
        try:
            self.state_file.write(self.status())
        except OSError as exc:
            log_event(logger, "service.state_file_failed", logging.WARNING, error=exc)

    # -- stop -------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop taking work, let runs finish within the grace period, seal, unlock."""
        reason = self._stop_reason or "stop"
        self.step = "stopping"
        self.stopping.set()
        self.notifier.stopping()
        log_event(logger, "service.stopping", reason=reason, grace=self.config.service.grace)
        if self._hints is not None:
            self._hints.stop()
        abandoned: list[str] = []
        if self.wiring is not None:
            self.step = "stopping: waiting for runs in progress"
            abandoned = self.wiring.stop(self.config.service.grace)
        if abandoned:
            log_event(logger, "service.abandoned", logging.WARNING, lanes=",".join(abandoned),
                      hint="the next start recovers their claims and jobs")  # fmt: skip
        if self._telemetry is not None and self.ledger is not None:
            # Archives left open by writers that are gone are sealed on the way out too.
            from entrepot.service.archives import ArchiveKeeper

            self.step = "stopping: sealing archives"
            ArchiveKeeper(self.config, self._telemetry).seal_abandoned()
        self.companions.stop()
        if self.heartbeat is not None:
            self.step = "stopping: the last heartbeat"
            self.heartbeat.stop(clean=not abandoned)
        self.state_file.remove()
        if self.ledger is not None and not abandoned:
            self.ledger.close()
        if self._lock is not None:
            self._lock.release()
        self.waker.close()
        log_event(logger, "service.stopped", reason=reason, abandoned=len(abandoned))
        if self._watchdog is not None:
            self._watchdog.stopped()

    # -- helpers for tests and benchmarks ---------------------------------------------

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no lane runs or waits to run."""
        assert self.wiring is not None
        return self.wiring.wait_idle(timeout)
