"""Shipping and fetching as jobs: retried in the run, kept in the backlog, re-run later.

``ShipJob`` and ``FetchJob`` fit the shared lifecycle:

``prepare``  recover claims left by a shipper that died (shipping only);
``produce``  count the files waiting (zero ends the run successfully, without connecting);
``send``     connect, take the lock, transfer — safe to run again: a retry
             reconnects and carries on with the files still waiting;
``cleanup``  remove our lock (also after a failure) and disconnect.

Their parameters (stored in the ledger for re-runs) hold the masked URL and
the non-secret target options only; a job meant for the backlog takes its
password from ``password_env`` or ``password_file``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from entrepot.errors import JobFailed
from entrepot.jobs import Job, JobContext, RetryPolicy
from entrepot.ship.fetcher import Fetcher
from entrepot.ship.observer import Observer
from entrepot.ship.options import ShipOptions
from entrepot.ship.route import Report, Route
from entrepot.ship.shipper import ProgressHook, Shipper
from entrepot.targets import Target


class RouteJob(Job):
    """What both directions share: parameters, retry settings, connection upkeep."""

    route_class: ClassVar[type[Route]] = Route

    def __init__(
        self,
        spool: str,
        url: str,
        *,
        options: ShipOptions | Mapping[str, Any] | None = None,
        target_options: Mapping[str, Any] | None = None,
        max_tries: int | None = None,
        retry_delay: float | None = None,
        observer: Observer | None = None,
    ) -> None:
        if isinstance(options, Mapping):
            options = ShipOptions(**options)
        self.spool_path = str(spool)
        self.max_tries = max_tries
        self.retry_delay = retry_delay
        self.report = Report()
        self._target: Target | None = None
        self.route = self.route_class(
            spool, url, options=options, target_options=target_options, observer=observer
        )

    @property
    def name(self) -> str:
        return f"{self.kind} {self.spool_path} {self.route.display_url}"

    def params(self) -> dict[str, Any]:
        return {
            "spool": self.spool_path,
            "url": self.route.stored_url,
            "options": dataclasses.asdict(self.route.options),
            "target_options": self.route.stored_target_options(),
            "max_tries": self.max_tries,
            "retry_delay": self.retry_delay,
        }

    def retry_policy(self) -> RetryPolicy | None:
        if self.max_tries is None and self.retry_delay is None:
            return None
        attempts = self.max_tries if self.max_tries is not None else 3
        return RetryPolicy(attempts=attempts, delay=self.retry_delay or 0.0, jitter=0.0)

    def _connection(self) -> Target:
        if self._target is None:
            self._target = self.route.connect()
        return self._target

    def _drop_connection(self) -> None:
        """Forget a connection that failed, so that a retry starts afresh."""
        target, self._target = self._target, None
        if target is not None:
            try:
                self.route.disconnect(target)
            except Exception as exc:  # noqa: BLE001 - the original failure matters more
                self.route.observer.lock_remove_failed(self.route.options.write_lock, exc)

    def cleanup(self, ctx: JobContext, error: JobFailed | None) -> None:
        target, self._target = self._target, None
        if target is not None:
            self.route.disconnect(target)


class ShipJob(RouteJob):
    """Ship a spool's ``new/`` to a target URL."""

    kind = "ship"
    route_class = Shipper
    route: Shipper

    def __init__(self, *args: Any, progress: ProgressHook | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.progress = progress

    def prepare(self, ctx: JobContext) -> None:
        self.route.recover()

    def produce(self, ctx: JobContext) -> int:
        return len(self.route.pending())

    def send(self, ctx: JobContext) -> None:
        try:
            target = self._connection()
            self.route.open_session(target)
            names = [entry.name for entry in self.route.pending()]
            self.route.deliver(target, names, self.report, self.progress)
        except BaseException:
            self._drop_connection()
            raise
        finally:
            ctx.add_bytes(self.report.bytes - ctx.bytes)


class FetchJob(RouteJob):
    """Fetch a remote folder into a spool's ``new/``."""

    kind = "fetch"
    route_class = Fetcher
    route: Fetcher

    def produce(self, ctx: JobContext) -> int:
        try:
            files, _ = self.route.survey(self._connection())
        except BaseException:
            self._drop_connection()
            raise
        return len(files)

    def send(self, ctx: JobContext) -> None:
        try:
            target = self._connection()
            files, present = self.route.survey(target)
            self.route.open_session(target, present)
            self.route.fetch_all(target, files, self.report)
        except BaseException:
            self._drop_connection()
            raise
        finally:
            ctx.add_bytes(self.report.bytes - ctx.bytes)
