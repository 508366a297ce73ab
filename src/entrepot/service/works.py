"""What each lane runs: a route, a fetch, the backlog, the archives, the backlog's depth.

Every run goes through the shared :class:`~entrepot.jobs.Runner` and ledger,
with the job built from the configuration *current at the start of the run*
(a reload takes effect between runs).  A route run joins the route's job
waiting in the backlog, if there is one: one waiting job per route.

A route triggered by arrival, a scan or a timer with nothing in ``new/``
and no job waiting records nothing: an empty run is not a run.  A route
with ``on_arrival`` runs again at once while files keep arriving, so a
steady stream is shipped in back-to-back runs, each taking what came in
during the previous one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from entrepot.errors import WorkClaimed
from entrepot.jobs import Ledger, Runner, RunResult
from entrepot.jobs.depth import record_depth
from entrepot.logs import log_event
from entrepot.service.archives import ArchiveKeeper
from entrepot.service.building import fetch_job, ship_job
from entrepot.service.config import Config
from entrepot.service.interrupting import StopAware
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
]

#: The kind of the data center's import jobs (not imported: a service without one never loads it).
IMPORT_KIND = "import"
#: Triggers that do not record a run of a route when nothing waits.
_QUIET = frozenset({"arrival", "scan", "every", "cron", "start"})


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
        ctx.telemetry.run_finished(
            RunSummary(
                kind=self.kind,
                name=self.name,
                target=self.target_of(config),
                outcome=str(result.outcome),
                seconds=time.monotonic() - started,
                files=len(report.done),
                bytes=report.bytes,
                failed_files=len(report.failed),
                trigger=trigger,
            )
        )
        quiet = result.ok and not report.done
        log_event(logger, "service.run_finished",
                  logging.DEBUG if quiet else logging.INFO if result.ok else logging.ERROR,
                  **{self.kind if self.kind == "fetch" else "route": self.name},
                  trigger=trigger, outcome=result.outcome, files=len(report.done),
                  failed=len(report.failed), job_id=result.job_id,
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

    def run(self, trigger: str) -> None:
        while not self.ctx.stopping.is_set():
            config = self.ctx.config
            route = config.routes.get(self.name)
            if route is None:
                return  # removed by a reload
            new = config.spools[route.spool].path / "new"
            job = self.build(config)
            if trigger in _QUIET and not has_files(new) and not self._waiting(job):
                return
            result = self.execute(config, job, trigger)
            # Only a run that shipped something is followed at once: a file no run can
            # take (refused, unsafe) must not keep the lane spinning.
            done = result is not None and result.ok and job.report.done
            if not (route.on_arrival and done and has_files(new)):
                return
            trigger = "arrival"  # more came in meanwhile: take it now

    def _waiting(self, job: RouteJob) -> bool:
        identity = job.identity()
        return identity is not None and bool(self.ctx.ledger.open_jobs(identity))


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
        config = self.ctx.config
        if self.name in config.fetches and not self.ctx.stopping.is_set():
            self.execute(config, self.build(config), trigger)


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
