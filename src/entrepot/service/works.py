"""What each lane runs: a route, a fetch, the backlog, the archives, the backlog's depth.

Every run goes through the shared :class:`~entrepot.jobs.Runner` and ledger,
with the job built from the configuration *current at the start of the run*
(a reload takes effect between runs).  A route run joins the route's job
waiting in the backlog, if there is one: one waiting job per route.

A route triggered by arrival, a scan or a timer with nothing in ``new/``
and no job waiting records nothing: an empty run is not a run — nor is one
that would find only files its last run passed over, unchanged (names no
run can ship: :mod:`.passedover`).  A route with ``on_arrival`` runs again
at once while files keep arriving, so a steady stream is shipped in
back-to-back runs, each taking what came in during the previous one.

**The backlog decides.**  While a route's (or fetch's) job waits in the
backlog for its next try, a run started by anything but the backlog — an
arrival, a scan, a timer, a reload — does not start: it leaves the job to
its due time.  The daemon checks that before it kicks a lane, but a kick
that came *during* the failing run waits in the lane and is taken once the
run has ended, after the run put its job in the backlog: without this
check the target that is down would be tried again at once, and each such
try would count as one more failed run towards ``runs``.

**A crash is reported.**  A run that raises before it could be recorded
(the ledger's disk full, a ledger that cannot be written) is told to the
telemetry (:meth:`~entrepot.service.telemetry.Telemetry.lane_crashed`), so
that ``/readyz`` and the metrics show it although the ledger could not.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from entrepot.errors import WorkClaimed
from entrepot.jobs import JobRecord, JobState, Ledger, Outcome, Runner, RunResult
from entrepot.jobs.depth import record_depth
from entrepot.logs import log_event
from entrepot.service.archives import ArchiveKeeper
from entrepot.service.building import fetch_job, ship_job
from entrepot.service.config import Config
from entrepot.service.interrupting import StopAware
from entrepot.service.passedover import PassedOver
from entrepot.service.telemetry import RunSummary, Telemetry
from entrepot.ship import FetchJob, ShipJob
from entrepot.ship.jobs import RouteJob

logger = logging.getLogger("entrepot.service")

__all__ = [
    "ArchiveWork",
    "BacklogWork",
    "Context",
    "DepthWork",
    "FetchWork",
    "RouteWork",
    "foreign_kinds",
    "has_files",
    "reported",
]

#: The kind of the data center's import jobs (not imported: a service without one never loads it).
IMPORT_KIND = "import"
#: Triggers that do not record a run of a route when nothing waits.
_QUIET = frozenset({"arrival", "scan", "every", "cron", "start"})
#: Triggers that leave a route to its backlog job while that job's next try is to come
#: (``backlog`` is the job's due time; ``retry`` and ``due`` an operator's request).
_AUTOMATIC = _QUIET | {"reload"}


@dataclass
class Context:
    """What every lane shares; ``config`` is replaced by a reload."""

    config: Config
    ledger: Ledger
    runner: Runner
    telemetry: Telemetry
    stopping: threading.Event
    #: Told how each route or fetch run ended: ``(kind, name, result)``.
    on_result: Callable[[str, str, RunResult], None]


def reported(telemetry: Telemetry, lane: str, run: Callable[[], None]) -> None:
    """Call ``run``; tell ``telemetry`` whether it crashed (and re-raise) or ended."""
    try:
        run()
    except Exception as exc:
        telemetry.lane_crashed(lane, f"{type(exc).__name__}: {exc}")
        raise
    telemetry.lane_ended(lane)


def has_files(folder: Path) -> bool:
    """True when ``folder`` holds a visible regular file (cheap: stops at the first)."""
    try:
        with os.scandir(folder) as entries:
            return any(
                not entry.name.startswith(".") and entry.is_file(follow_symlinks=False)
                for entry in entries
            )
    except FileNotFoundError:
        return False


class _JobWork:
    """A route or a fetch: build the job, run it, tell the telemetry."""

    kind = "ship"

    def __init__(self, name: str, ctx: Context) -> None:
        self.name = name
        self.ctx = ctx
        self._current: StopAware | None = None

    def interrupt(self) -> None:
        current = self._current
        if current is not None:
            current.interrupt()

    def build(self, config: Config) -> RouteJob:
        raise NotImplementedError

    def target_of(self, config: Config) -> str:
        raise NotImplementedError

    def shared(self, config: Config) -> bool:
        """Whether it is one piece of work for the fleet (``shared = true``)."""
        raise NotImplementedError

    def unsent(self, config: Config) -> int:
        """Files a failed run leaves waiting (counted as failed when none was tried)."""
        return 0

    @property
    def lane(self) -> str:
        return f"{'route' if self.kind == 'ship' else 'fetch'}:{self.name}"

    def open_jobs(self, job: RouteJob) -> list[JobRecord]:
        """The jobs of ``job``'s route that wait (in the backlog, dead, or pending)."""
        identity = job.identity()
        return self.ctx.ledger.open_jobs(identity) if identity is not None else []

    def held(self, config: Config, waiting: list[JobRecord], trigger: str) -> bool:
        """True when ``trigger`` must leave the route to its backlog job (its try is to come)."""
        if trigger not in _AUTOMATIC:
            return False
        now = self.ctx.ledger.clock.now()
        slow = timedelta(seconds=config.service.backlog.max_delay)
        for job in waiting:
            if job.state == JobState.BACKLOG and job.next_due is not None and job.next_due > now:
                return True
            if job.state == JobState.DEAD and job.updated_at + slow > now:
                return True  # a dead job is tried again after the longest back-off
        return False

    def execute(self, config: Config, job: RouteJob, trigger: str) -> RunResult | None:
        """Run ``job``; ``None`` when another instance of the fleet runs this work now."""
        ctx = self.ctx
        wrapped = StopAware(job, ctx.stopping)
        self._current = wrapped
        started = time.monotonic()
        try:
            result = ctx.runner.run(wrapped, shared=self.shared(config))
        except WorkClaimed as busy:
            log_event(logger, "service.run_elsewhere", logging.DEBUG, work=self.name,
                      instance=busy.holder, trigger=trigger)  # fmt: skip
            return None
        finally:
            self._current = None
        report = job.report
        failed = len(report.failed)
        if result.outcome == Outcome.FAILED and not failed:
            failed = self.unsent(config)  # it failed before any file was tried
        ctx.telemetry.run_finished(
            RunSummary(
                kind=self.kind,
                name=self.name,
                target=self.target_of(config),
                outcome=str(result.outcome),
                seconds=time.monotonic() - started,
                files=len(report.done),
                bytes=report.bytes,
                failed_files=failed,
                skipped_files=len(report.skipped),
                trigger=trigger,
            )
        )
        # Files a fetch left for a later run are counted, never a failure.
        deferred = {"deferred": len(report.deferred)} if self.kind == "fetch" else {}
        quiet = result.ok and not report.done and not report.deferred
        log_event(logger, "service.run_finished",
                  logging.DEBUG if quiet else logging.INFO if result.ok else logging.ERROR,
                  **{self.kind if self.kind == "fetch" else "route": self.name},
                  trigger=trigger, outcome=result.outcome, files=len(report.done),
                  failed=failed, **deferred, job_id=result.job_id,
                  error=result.error.message if result.error else "")  # fmt: skip
        ctx.on_result(self.kind, self.name, result)
        return result


class RouteWork(_JobWork):
    """Ships one route's spool, on whatever trigger."""

    kind = "ship"

    def build(self, config: Config) -> RouteJob:
        return ship_job(config, self.name)

    def target_of(self, config: Config) -> str:
        return config.routes[self.name].target

    def shared(self, config: Config) -> bool:
        return config.routes[self.name].shared

    def __init__(self, name: str, ctx: Context) -> None:
        super().__init__(name, ctx)
        self.passed_over = PassedOver(name)

    def unsent(self, config: Config) -> int:
        route = config.routes.get(self.name)
        if route is None:
            return 0
        try:
            with os.scandir(config.spools[route.spool].path / "new") as entries:
                waiting = sum(
                    not entry.name.startswith(".") and entry.is_file(follow_symlinks=False)
                    for entry in entries
                )
        except FileNotFoundError:
            return 0
        return max(waiting - self.passed_over.count, 0)

    def run(self, trigger: str) -> None:
        reported(self.ctx.telemetry, self.lane, lambda: self._run(trigger))

    def _run(self, trigger: str) -> None:
        while not self.ctx.stopping.is_set():
            config = self.ctx.config
            route = config.routes.get(self.name)
            if route is None:
                return  # removed by a reload
            new = config.spools[route.spool].path / "new"
            job = self.build(config)
            waiting = self.open_jobs(job)
            if self.held(config, waiting, trigger):
                log_event(logger, "service.run_held", logging.DEBUG, route=self.name,
                          trigger=trigger)  # fmt: skip
                return
            if trigger in _QUIET and not waiting and not self._anything_new(new):
                return
            result = self.execute(config, job, trigger)
            self.passed_over.after_run(new, job.report.skipped)
            # Only a run that shipped something is followed at once: a file no run can
            # take (refused, unsafe) must not keep the lane spinning.
            done = result is not None and result.ok and job.report.done
            if not (route.on_arrival and done and has_files(new)):
                return
            trigger = "arrival"  # more came in meanwhile: take it now

    def _anything_new(self, new: Path) -> bool:
        """Files wait in ``new/``, other than those the last run passed over (told once)."""
        if not has_files(new):
            return False
        if self.passed_over.only_these(new):
            self.passed_over.remind()
            return False
        return True


class FetchWork(_JobWork):
    """Runs one fetch (target → spool) on its timers."""

    kind = "fetch"

    def build(self, config: Config) -> RouteJob:
        return fetch_job(config, self.name)

    def target_of(self, config: Config) -> str:
        return config.fetches[self.name].target

    def shared(self, config: Config) -> bool:
        return config.fetches[self.name].shared

    def run(self, trigger: str) -> None:
        reported(self.ctx.telemetry, self.lane, lambda: self._run(trigger))

    def _run(self, trigger: str) -> None:
        config = self.ctx.config
        if self.name in config.fetches and not self.ctx.stopping.is_set():
            job = self.build(config)
            if self.held(config, self.open_jobs(job), trigger):
                log_event(logger, "service.run_held", logging.DEBUG, fetch=self.name,
                          trigger=trigger)  # fmt: skip
                return
            self.execute(config, job, trigger)


def foreign_kinds(config: Config) -> set[str]:
    """Kinds of the fleet's shared jobs that the backlog lane of ``config`` leaves alone."""
    kinds = {ShipJob.kind, FetchJob.kind}  # a lane's work, run under its claim
    center = config.datacenter
    if center is None or not center.shared:
        kinds.add(IMPORT_KIND)
    return kinds


class BacklogWork:
    """Re-runs the due jobs that no route or fetch of the configuration owns.

    Those are the jobs of one-shot commands, of routes since removed, and of
    imports; a route's own waiting job is re-run by the route's lane.  Each
    job is claimed in turn (:meth:`~entrepot.jobs.Runner.run_next`): the
    instances of a fleet share the due jobs, and never run one twice.

    Of the fleet's shared jobs it takes only those this instance is
    configured for (:func:`foreign_kinds`): a shared route's or fetch's
    waiting job is left to the lanes of the instances that have that route,
    which run it under the claim on its work, and a shared data center's
    imports to the instances that share it — an edge never runs them.
    """

    def __init__(self, ctx: Context, owned: Callable[[], Mapping[str, str]]) -> None:
        self.ctx = ctx
        self.owned = owned

    def interrupt(self) -> None:
        """A re-run stops at its next retry wait (the runner's clock ends it)."""

    def run(self, trigger: str) -> None:
        reported(self.ctx.telemetry, "backlog", self._run)

    def _run(self) -> None:
        ctx = self.ctx
        owned = set(self.owned())
        began = ctx.ledger.clock.now()  # each job once a pass: none whose run began since
        while not ctx.stopping.is_set():
            started = time.monotonic()
            result = ctx.runner.run_next(skip_identities=owned, not_run_since=began,
                                         skip_shared_kinds=foreign_kinds(ctx.config))  # fmt: skip
            if result is None:
                return
            record = ctx.ledger.get(result.job_id)
            ctx.telemetry.run_finished(
                RunSummary(
                    kind=record.kind,
                    name=record.name,
                    target=None,
                    outcome=str(result.outcome),
                    seconds=time.monotonic() - started,
                    bytes=result.bytes,
                    trigger="backlog",
                )
            )
            log_event(logger, "service.backlog_rerun",
                      logging.INFO if result.ok else logging.WARNING,
                      job_id=record.id, kind=record.kind, outcome=result.outcome)  # fmt: skip


class ArchiveWork:
    """Seals the archives left open by writers that died (see :mod:`.archives`)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def interrupt(self) -> None:
        """A pass seals what it has started; nothing is left half done."""

    def run(self, trigger: str) -> None:
        ArchiveKeeper(self.ctx.config, self.ctx.telemetry).seal_abandoned()


class DepthWork:
    """Samples the backlog's depth for the dashboard's charts (see :mod:`entrepot.jobs.depth`)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def interrupt(self) -> None:
        """A sample is one short transaction: nothing to stop."""

    def run(self, trigger: str) -> None:
        ledger = self.ctx.ledger
        try:
            record_depth(ledger.engine, ledger.rows, self.ctx.runner.clock.now())
        except Exception as exc:  # noqa: BLE001 - a missed sample leaves a gap in a chart
            log_event(logger, "service.depth_sample_failed", logging.WARNING, error=exc)
