"""Prometheus metrics of the service: what happened (pushed) and what is (read when scraped).

:class:`PrometheusTelemetry` is the :class:`~entrepot.service.telemetry.Telemetry`
the daemon calls as runs end, archives are sealed and configurations are
loaded; it counts those events in a registry of its own (never the process
global one, so two services in one process — or a test — do not mix).  What
is a state rather than an event is read at scrape time, within a time limit
(:mod:`entrepot.service.readings`): the jobs of the ledger by state, and each
configured spool's files, bytes and oldest file per area.

A scrape never raises and never hangs; a method called by the daemon never
raises either (a metrics fault must not stop delivery).  :meth:`readiness`
is what ``/readyz`` answers: not ready while a lane's last run crashed
before it could be recorded (the ledger's disk full: the ledger's own
figures cannot show it).  Every metric is listed in ``docs/monitoring.md``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import Metric

from entrepot import __version__
from entrepot.jobs.ledger import JobState, Ledger
from entrepot.jobs.lifecycle import Outcome
from entrepot.logs import log_event
from entrepot.redact import mask_secrets
from entrepot.service.config import Config
from entrepot.service.readings import BoundedCall, StateCollector
from entrepot.service.telemetry import RunSummary, Telemetry

__all__ = ["InstanceRegistry", "PrometheusTelemetry", "Readiness"]

logger = logging.getLogger(__name__)

_M = TypeVar("_M", Counter, Gauge)
#: Seconds a scrape waits for the ledger or a spool before reporting it down.
DEFAULT_TIMEOUT = 2.0
#: Job durations: from a quick empty run to an hour-long transfer.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
_TRANSFERS = ("ship", "fetch")
#: Outcomes that count as a success (an empty run found nothing to do: fine too).
_SUCCESSES = frozenset({str(Outcome.SUCCEEDED), str(Outcome.EMPTY)})


@dataclass(frozen=True)
class Readiness:
    """Whether the service can do its work: the ledger answers and a configuration is loaded."""

    ledger_ok: bool
    ledger_error: str | None
    generation: int | None
    #: Each configured route and fetch → how its last run (since the start) ended.
    routes: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Lanes whose last run crashed before it could be recorded → ``error`` and ``at``.
    crashed: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return not self.problems

    @property
    def problems(self) -> list[str]:
        """Why the service is not ready, one sentence each (empty when it is)."""
        found = []
        if not self.ledger_ok:
            found.append(f"the ledger does not answer: {self.ledger_error}")
        if self.generation is None:
            found.append("no configuration is loaded yet")
        for lane, crash in sorted(self.crashed.items()):
            found.append(f"{lane}: its last run crashed before it was recorded: {crash['error']}")
        return found

    def as_json(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "problems": self.problems,
            "ledger": {"ok": self.ledger_ok, "error": self.ledger_error},
            "config": {"loaded": self.generation is not None, "generation": self.generation},
            "routes": self.routes,
            "crashed": self.crashed,
        }


class InstanceRegistry(CollectorRegistry):
    """A registry whose every sample carries the label ``instance``: the fleet's name of
    the service, so that the metrics of a fleet's instances stay apart wherever they go."""

    def __init__(self, instance: str) -> None:
        super().__init__()
        self.instance = instance

    def collect(self) -> Iterator[Metric]:
        for metric in super().collect():
            metric.samples = [
                sample._replace(labels={**sample.labels, "instance": self.instance})
                for sample in metric.samples
            ]
            yield metric


@dataclass(frozen=True)
class _LastRun:
    outcome: str
    at: float
    last_success: float | None


class PrometheusTelemetry(Telemetry):
    """Telemetry counted in a Prometheus registry of its own; see the module docstring.

    ``config`` is the configuration, or a function returning the current one
    (the daemon's, which a reload replaces); ``ledger`` is read at scrape
    time for the jobs by state and by :meth:`readiness`.
    """

    def __init__(
        self,
        config: Config | Callable[[], Config],
        *,
        ledger: Ledger | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config if callable(config) else (lambda: config)
        self.ledger = ledger
        self.timeout = timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], _LastRun] = {}
        self._crashed: dict[str, dict[str, str]] = {}
        self._down: set[str] = set()
        self.generation: int | None = None
        self._counts = BoundedCall(self._read_counts, timeout=timeout, what="the ledger")
        self.registry = registry = InstanceRegistry(self.config.service.instance)
        ProcessCollector(registry=registry)
        Info("entrepot_build", "The running release.", registry=registry).info(
            {"version": __version__}
        )
        counter, gauge = self._metric(Counter), self._metric(Gauge)
        self.runs = counter("entrepot_runs", "Runs ended, by outcome.", "kind", "name", "outcome")
        self.files = counter(
            "entrepot_files",
            "Files shipped or fetched (result ok) and files that failed (result failed).",
            *("direction", "route", "target", "result"),
        )
        self.bytes = counter(
            "entrepot_bytes", "Bytes shipped or fetched.", "direction", "route", "target"
        )
        self.durations = Histogram(
            "entrepot_job_duration_seconds",
            "How long runs took, by job kind.",
            ["kind"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.import_rows = counter(
            "entrepot_import_rows", "CSV rows imported (ok) or rejected (failed).", "name", "result"
        )
        self.last_run = gauge(
            "entrepot_last_run_timestamp_seconds", "When the last run ended.", "kind", "name"
        )
        self.last_success = gauge(
            "entrepot_last_success_timestamp_seconds",
            "When the last successful run ended.",
            *("kind", "name"),
        )
        self.archive_records = counter(
            "entrepot_archive_records", "Records in sealed archives.", "archive"
        )
        self.archive_bytes = counter(
            "entrepot_archive_bytes", "Bytes of sealed archives.", "archive"
        )
        self.archive_seals = counter("entrepot_archive_seals", "Archives sealed.", "archive")
        self.config_generation = gauge(
            "entrepot_config_generation",
            "Generation of the configuration in force (1 at start, +1 per accepted reload).",
        )
        self.config_loads = counter(
            "entrepot_config_loads",
            "Configurations read: loaded, or refused (the previous one stays).",
            "result",
        )
        self.config_ok = gauge(
            "entrepot_config_last_load_successful",
            "1 when the last configuration read was accepted, 0 when it was refused.",
        )
        self.lane_failures = counter(
            "entrepot_lane_failures",
            "Runs that crashed before they could be recorded (the ledger's disk full…).",
            "lane",
        )
        self.lane_crashed_now = gauge(
            "entrepot_lane_crashed", "1 while the last run of the lane crashed, else 0.", "lane"
        )
        self.skipped_files = gauge(
            "entrepot_skipped_files",
            "Files the last run passed over: names no run can ship, left in new/.",
            *("kind", "name"),
        )
        self.collector_errors = counter(
            "entrepot_collector_errors",
            "Readings that failed during a scrape (logged).",
            "collector",
        )
        registry.register(StateCollector(self))

    def _metric(self, kind: Callable[..., _M]) -> Callable[..., _M]:
        """A maker of ``kind`` metrics in this registry: ``make(name, help, *labels)``."""

        def make(name: str, documentation: str, *labels: str) -> _M:
            return kind(name, documentation, labels, registry=self.registry)

        return make

    # -- the Telemetry interface (called from the daemon's threads; never raises) -------

    def config_loaded(self, generation: int, ok: bool) -> None:
        try:
            self.config_loads.labels("loaded" if ok else "refused").inc()
            self.config_ok.set(1 if ok else 0)
            if ok:
                with self._lock:
                    self.generation = generation
                self.config_generation.set(generation)
        except Exception as exc:  # noqa: BLE001 - metrics never stop the service
            _failed("config_loaded", exc)

    def run_finished(self, run: RunSummary) -> None:
        try:
            self._count_run(run)
        except Exception as exc:  # noqa: BLE001 - metrics never stop the service
            _failed("run_finished", exc)

    def archive_sealed(self, archive: str, records: int, size: int) -> None:
        try:
            self.archive_seals.labels(archive).inc()
            self.archive_records.labels(archive).inc(max(records, 0))
            self.archive_bytes.labels(archive).inc(max(size, 0))
        except Exception as exc:  # noqa: BLE001 - metrics never stop the service
            _failed("archive_sealed", exc)

    def lane_crashed(self, lane: str, error: str) -> None:
        try:
            shown = mask_secrets(error.splitlines()[0] if error else "")
            self.lane_failures.labels(lane).inc()
            self.lane_crashed_now.labels(lane).set(1)
            with self._lock:
                self._crashed[lane] = {"error": shown, "at": _iso(self.clock())}
        except Exception as exc:  # noqa: BLE001 - metrics never stop the service
            _failed("lane_crashed", exc)

    def lane_ended(self, lane: str) -> None:
        try:
            with self._lock:
                crashed = self._crashed.pop(lane, None) is not None
            if crashed:
                self.lane_crashed_now.labels(lane).set(0)
        except Exception as exc:  # noqa: BLE001 - metrics never stop the service
            _failed("lane_ended", exc)

    def crashed_lanes(self) -> dict[str, dict[str, str]]:
        with self._lock:
            return {lane: dict(crash) for lane, crash in self._crashed.items()}

    def _count_run(self, run: RunSummary) -> None:
        now = self.clock()
        ok = run.outcome in _SUCCESSES
        self.runs.labels(run.kind, run.name, run.outcome).inc()
        self.durations.labels(run.kind).observe(max(run.seconds, 0.0))
        self.last_run.labels(run.kind, run.name).set(now)
        if ok:
            self.last_success.labels(run.kind, run.name).set(now)
        if run.kind in _TRANSFERS:
            target = run.target or ""
            self.files.labels(run.kind, run.name, target, "ok").inc(max(run.files, 0))
            self.files.labels(run.kind, run.name, target, "failed").inc(max(run.failed_files, 0))
            self.bytes.labels(run.kind, run.name, target).inc(max(run.bytes, 0))
            self.skipped_files.labels(run.kind, run.name).set(max(run.skipped_files, 0))
        if run.kind == "import":
            self.import_rows.labels(run.name, "ok").inc(max(run.rows_ok, 0))
            self.import_rows.labels(run.name, "failed").inc(max(run.rows_failed, 0))
        with self._lock:
            before = self._last.get((run.kind, run.name))
            success = now if ok else (before.last_success if before else None)
            self._last[run.kind, run.name] = _LastRun(run.outcome, now, success)

    # -- reading -------------------------------------------------------------------------

    @property
    def config(self) -> Config:
        return self._config()

    def render(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)

    def job_counts(self) -> dict[JobState, int]:
        """Jobs by state, asked of the ledger within the timeout (raises when it cannot)."""
        return self._counts()

    def reading(self, what: str, error: BaseException | None) -> None:
        """Log when a reading (``ledger``, ``spool NAME``) starts failing and when it is back."""
        with self._lock:
            was_down = what in self._down
            if error is not None:
                self._down.add(what)
            else:
                self._down.discard(what)
        if error is not None and not was_down:
            log_event(logger, "metrics.unreadable", logging.WARNING, what=what, error=f"{error}")
        elif error is None and was_down:
            log_event(logger, "metrics.readable", what=what)

    def _read_counts(self) -> dict[JobState, int]:
        if self.ledger is None:
            raise RuntimeError("no ledger to read")
        return self.ledger.counts()

    def readiness(self) -> Readiness:
        """What ``/readyz`` reports: the ledger answers, a configuration is loaded, routes."""
        error = None
        try:
            self.job_counts()
        except Exception as exc:  # noqa: BLE001 - reported as not ready
            error = mask_secrets(f"{type(exc).__name__}: {exc}".splitlines()[0])
        config = self.config
        with self._lock:
            last = dict(self._last)
            generation = self.generation
        crashed = self.crashed_lanes()
        routes = {}
        for kind, names in (("ship", config.routes), ("fetch", config.fetches)):
            for name in names:
                run = last.get((kind, name))
                crash = crashed.get(f"{'route' if kind == 'ship' else 'fetch'}:{name}")
                routes[name] = {
                    "kind": kind,
                    "last_outcome": "crashed" if crash else run.outcome if run else None,
                    "last_run": crash["at"] if crash else _iso(run.at) if run else None,
                    "last_success": _iso(run.last_success) if run and run.last_success else None,
                }
        return Readiness(error is None, error, generation, routes, crashed)


def _failed(what: str, exc: BaseException) -> None:
    log_event(logger, "metrics.failed", logging.WARNING, what=what, error=f"{exc}")


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")
