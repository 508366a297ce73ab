"""What the metrics read when scraped, each reading bounded in time.

:class:`StateCollector` reads what *is* rather than what happened: the
ledger's jobs by state and each configured spool's files, bytes and oldest
file per area.  Every reading goes through a :class:`BoundedCall`, which
waits at most the telemetry's ``timeout`` for it — a PostgreSQL ledger
behind a dead network, a spool on a stuck network file system — and the
reading is then reported as down (``entrepot_ledger_up 0``,
``entrepot_spool_up 0``) instead of hanging the scrape.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from entrepot.spool import AREAS, CLAIM_AREA, AreaStats, Spool

if TYPE_CHECKING:
    from entrepot.service.metrics import PrometheusTelemetry

__all__ = ["BoundedCall", "StateCollector"]

_T = TypeVar("_T")
#: Areas always reported, so that their series exist while they are empty or not made yet.
REPORTED_AREAS = (*AREAS, CLAIM_AREA)


class _Pending(Generic[_T]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: _T | None = None
        self.error: BaseException | None = None


class BoundedCall(Generic[_T]):
    """``call()`` runs ``fn`` in a thread of its own and waits at most ``timeout`` seconds.

    A call still running when the next caller comes is joined rather than
    doubled, so a hung database never collects a pile of stuck threads.  The
    threads are daemons: a call that never returns never holds up the exit.
    """

    def __init__(self, fn: Callable[[], _T], *, timeout: float, what: str) -> None:
        self.fn = fn
        self.timeout = timeout
        self.what = what
        self._lock = threading.Lock()
        self._pending: _Pending[_T] | None = None

    def __call__(self) -> _T:
        with self._lock:
            pending = self._pending
            if pending is None or pending.done.is_set():
                pending = self._pending = _Pending()
                threading.Thread(
                    target=self._run, args=(pending,), name="entrepot-probe", daemon=True
                ).start()
        if not pending.done.wait(self.timeout):
            raise TimeoutError(f"{self.what} did not answer within {self.timeout:g} s")
        if pending.error is not None:
            raise pending.error
        return pending.value  # type: ignore[return-value]

    def _run(self, pending: _Pending[_T]) -> None:
        try:
            pending.value = self.fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            pending.error = exc
        finally:
            pending.done.set()


class StateCollector(Collector):
    """What is, read at scrape time: jobs by state, spools by area."""

    def __init__(self, telemetry: PrometheusTelemetry) -> None:
        self.telemetry = telemetry
        self._spools: dict[str, BoundedCall[dict[str, AreaStats]]] = {}

    def describe(self) -> Iterable[Metric]:
        return []  # read at scrape time only, never when registered

    def collect(self) -> Iterator[Metric]:
        for name, reading in (("ledger", self._ledger), ("spools", self._spool_metrics)):
            try:
                yield from reading()
            except Exception as exc:  # noqa: BLE001 - a scrape never raises
                self.telemetry.reading(f"collector {name}", exc)
                self.telemetry.collector_errors.labels(name).inc()

    def _ledger(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("entrepot_ledger_up", "1 when the ledger answered this scrape.")
        jobs = GaugeMetricFamily("entrepot_jobs", "Jobs in the ledger by state.", labels=["state"])
        try:
            counts = self.telemetry.job_counts()
        except Exception as exc:  # noqa: BLE001 - shown as the ledger being down
            if self.telemetry.ledger is not None:
                self.telemetry.reading("ledger", exc)
            up.add_metric([], 0)
            yield up
            return
        self.telemetry.reading("ledger", None)
        up.add_metric([], 1)
        for state, count in counts.items():
            jobs.add_metric([str(state)], count)
        yield up
        yield jobs

    def _spool_metrics(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "entrepot_spool_up", "1 when the spool folder was read.", labels=["spool"]
        )
        labels = ["spool", "area"]
        files = GaugeMetricFamily("entrepot_spool_files", "Files per area.", labels=labels)
        size = GaugeMetricFamily("entrepot_spool_bytes", "Bytes per area.", labels=labels)
        age = GaugeMetricFamily(
            "entrepot_spool_oldest_file_age_seconds",
            "Age of the oldest file per area (0 when empty).",
            labels=labels,
        )
        now = self.telemetry.clock()
        for name, spool in self.telemetry.config.spools.items():
            try:
                stats = self._reader(name, str(spool.path))()
            except Exception as exc:  # noqa: BLE001 - shown as the spool being down
                self.telemetry.reading(f"spool {name}", exc)
                up.add_metric([name], 0)
                continue
            self.telemetry.reading(f"spool {name}", None)
            up.add_metric([name], 1)
            for area in sorted({*REPORTED_AREAS, *stats}):
                figures = stats.get(area) or AreaStats(0, 0)
                files.add_metric([name, area], figures.files)
                size.add_metric([name, area], figures.bytes)
                oldest = figures.oldest
                age.add_metric([name, area], max(now - oldest, 0.0) if oldest else 0.0)
        yield from (up, files, size, age)

    def _reader(self, name: str, path: str) -> BoundedCall[dict[str, AreaStats]]:
        reader = self._spools.get(name)
        if reader is None or reader.what != f"spool {path}":
            reader = BoundedCall(
                lambda: Spool(path).check().stats(),
                timeout=self.telemetry.timeout,
                what=f"spool {path}",
            )
            self._spools[name] = reader
        return reader
