"""Shipping and fetching as jobs: retried in the run, kept in the backlog, re-run later.

``ShipJob`` and ``FetchJob`` fit the shared lifecycle:

``prepare``  check the spool exists; recover claims left by a shipper that died;
``produce``  count the files waiting (zero ends the run successfully, without
             connecting when shipping);
``send``     connect, take the lock, transfer — safe to run again: a retry
             reconnects and carries on with the files still waiting;
``cleanup``  remove our lock (also after a failure) and disconnect.

The network work runs under :meth:`Route.shielded`, so Ctrl-C or SIGTERM
stops a run cleanly: no new file is started, the transfers in hand finish,
the lock is removed and the run is recorded as interrupted.

Their parameters (stored in the ledger for re-runs) hold the spool's
absolute path, the URL and the non-secret target options — and, for a job
made from names of a configuration file, its *origin*: the file, the
names (``route``, ``fetch``, or ``target``, its ``folder`` and ``spool``)
and the options the command line gave, from which the service's job kinds
rebuild it (:mod:`entrepot.service.named`).  A URL carrying a password is
refused: a job takes its password from ``password_env`` or
``password_file``.  Two jobs of the same route (:attr:`Route.identity`) are
one piece of work: a new run joins the route's waiting job.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from entrepot.errors import ConfigError, JobFailed, TargetError
from entrepot.jobs import Job, JobContext, RetryPolicy
from entrepot.redact import url_has_secret
from entrepot.ship.fetcher import Fetcher
from entrepot.ship.observer import Observer
from entrepot.ship.options import ShipOptions
from entrepot.ship.route import Report, Route
from entrepot.ship.shipper import ProgressHook, Shipper


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
        origin: Mapping[str, Any] | None = None,
    ) -> None:
        if url_has_secret(url):
            raise ConfigError(
                "the target URL carries a password, which a job would keep: "
                "give it with password_env or password_file "
                "(--password-env/--password-file) instead"
            )
        if isinstance(options, Mapping):
            options = ShipOptions(**options)
        # Absolute: a re-run from the backlog may start in any folder.
        self.spool_path = str(Path(spool).resolve())
        self.max_tries = max_tries
        self.retry_delay = retry_delay
        #: The configuration names this job was made from (JSON-ready), if any.
        self.origin = dict(origin) if origin else None
        self.report = Report()
        self.route = self.route_class(
            self.spool_path, url, options=options, target_options=target_options, observer=observer
        )

    @property
    def name(self) -> str:
        origin = self.origin or {}
        if "route" in origin or "fetch" in origin:
            return f"{self.kind} {origin.get('route') or origin['fetch']}"
        if "target" in origin:
            target = "/".join(filter(None, (origin["target"], origin.get("folder"))))
            ends = (origin.get("spool") or self.spool_path, target)
            return f"{self.kind} {' '.join(ends if self.kind == 'ship' else ends[::-1])}"
        return f"{self.kind} {self.spool_path} {self.route.display_url}"

    def identity(self) -> str:
        return self.route.identity

    def params(self) -> dict[str, Any]:
        return {
            "spool": self.spool_path,
            "url": self.route.stored_url,
            "options": dataclasses.asdict(self.route.options),
            "target_options": self.route.stored_target_options(),
            "max_tries": self.max_tries,
            "retry_delay": self.retry_delay,
            **({"origin": self.origin} if self.origin else {}),
        }

    def retry_policy(self) -> RetryPolicy | None:
        if self.max_tries is None and self.retry_delay is None:
            return None
        attempts = self.max_tries if self.max_tries is not None else 3
        return RetryPolicy(attempts=attempts, delay=self.retry_delay or 0.0, jitter=0.0)

    def prepare(self, ctx: JobContext) -> None:
        self.route.spool.check()
        self._open_recorder(ctx)

    def _open_recorder(self, ctx: JobContext) -> None:
        """Record the files' steps in the run's ledger, unless the route turned it off."""
        ledger = ctx.ledger
        if ledger is None or not self.route.options.provenance or self.route.trail.on:
            return
        from entrepot.provenance.recorder import Recorder

        # A shipment keeps the receipts that puts journaled for its commit (.provenance.held).
        hold = self.kind == "ship"
        self.route.record_into(
            Recorder(
                ledger.engine, state_dir=ledger.state_dir, job_id=ctx.job_id, hold_receipts=hold
            )
        )

    def _close_recorder(self) -> None:
        recorder = self.route.trail.recorder
        if recorder is not None:
            self.route.record_into(None)
            recorder.close()

    def _drop_connection(self) -> None:
        """Forget a connection that failed, so that a retry starts afresh."""
        # A lock that cannot be removed was reported by the lock itself; the
        # original failure is the one to raise.
        with contextlib.suppress(TargetError):
            self.route.disconnect()

    def cleanup(self, ctx: JobContext, error: JobFailed | None) -> None:
        try:
            self.route.disconnect()
        finally:
            self._close_recorder()


class ShipJob(RouteJob):
    """Ship a spool's ``new/`` to a target URL."""

    kind = "ship"
    route_class = Shipper
    route: Shipper

    def __init__(self, *args: Any, progress: ProgressHook | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.progress = progress
        #: Files the report held as delivered when this run began (a job may run again).
        self._done_before = 0

    def prepare(self, ctx: JobContext) -> None:
        super().prepare(ctx)
        self.route.recover()

    def produce(self, ctx: JobContext) -> int:
        self._done_before = len(self.report.done)
        return len(self.route.pending())

    def send(self, ctx: JobContext) -> None:
        route = self.route
        if route.trail.recorder is not None:
            route.trail.recorder.attempt = ctx.attempt
        # Listed again: files that arrived since produce() go with this run.
        names = [entry.name for entry in route.pending()]
        try:
            route.shielded(lambda: route.session(names, self.report, self.progress))
        except BaseException:
            self._drop_connection()
            raise
        finally:
            ctx.add_bytes(self.report.bytes - ctx.bytes)
            # The run's items count those too (never fewer than the files it delivered).
            ctx.items = max(ctx.items, len(self.report.done) - self._done_before)


class FetchJob(RouteJob):
    """Fetch a remote folder into a spool's ``new/``."""

    kind = "fetch"
    route_class = Fetcher
    route: Fetcher

    def prepare(self, ctx: JobContext) -> None:
        super().prepare(ctx)
        route = self.route
        if route.options.claims and route.claims is None:
            if ctx.ledger is None:
                raise ConfigError("a fetch under claims needs a ledger to claim files in")
            from entrepot.ship.claimed import FetchClaims, source_identity

            instance = route.instance or ctx.ledger.instance
            lease = route.options.claim_lease
            route.claims = FetchClaims(ctx.ledger, source_identity(route), instance, lease)

    def produce(self, ctx: JobContext) -> int:
        route = self.route

        def survey() -> int:
            # Names that can never be fetched are noted in the report here already.
            return len(route.survey(route.connection or route.connect(), self.report)[0])

        try:
            return route.shielded(survey)
        except BaseException:
            self._drop_connection()
            raise

    def send(self, ctx: JobContext) -> None:
        if self.route.trail.recorder is not None:
            self.route.trail.recorder.attempt = ctx.attempt
        try:
            self.route.shielded(lambda: self.route.session(self.report))
        except BaseException:
            self._drop_connection()
            raise
        finally:
            ctx.add_bytes(self.report.bytes - ctx.bytes)
