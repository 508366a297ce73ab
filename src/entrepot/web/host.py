"""What the dashboard's pages may ask of the running service: :class:`DashboardHost`.

Pages never reach into the daemon: they read through this interface, and
every action they offer (retry, drop, reload, a target check) is one of its
methods, so each is also what a command does.  :class:`DaemonHost` is the
interface over a running :class:`~entrepot.service.daemon.Daemon`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import Engine

from entrepot.jobs import BACKLOG_STATES, Backlog, JobRecord, JobState, Ledger
from entrepot.logs import log_event
from entrepot.service.checking import TargetCheck, check_target
from entrepot.service.config import ArchiveConfig, Config

if TYPE_CHECKING:
    from entrepot.datacenter import DataCenter
    from entrepot.service.daemon import Daemon

__all__ = ["DaemonHost", "DashboardHost"]

logger = logging.getLogger("entrepot.web")

#: Seconds :meth:`DaemonHost.reload` waits for the daemon's main loop to reload.
RELOAD_WAIT = 15.0


class DashboardHost(Protocol):
    """The running service, as the dashboard sees it."""

    @property
    def config(self) -> Config:
        """The configuration in use (it changes on reload)."""

    @property
    def generation(self) -> int:
        """How many configurations were loaded (1 at start, +1 per reload in use)."""

    @property
    def ledger(self) -> Ledger:
        """The jobs and runs (and, in the same database, the provenance events)."""

    @property
    def last_reload(self) -> Mapping[str, Any] | None:
        """``{"at", "ok", "problems"}`` of the last reload; ``None`` before any."""

    def status(self) -> Mapping[str, Any]:
        """What ``service.json`` holds: pid, start, routes' and fetches' next runs…"""

    def reload(self) -> Mapping[str, Any]:
        """Re-read the configuration now; the outcome, as :attr:`last_reload`."""

    def retry(self, job_id: str) -> JobRecord:
        """Make a waiting or dead job due now; the daemon runs it at once."""

    def run_now(self, job_id: str) -> None:
        """Have the daemon run a job just submitted, due now, without waiting for its next scan."""

    def drop(self, job_id: str, reason: str) -> JobRecord:
        """Give up a waiting or dead job, with ``reason`` (required)."""

    def check_target(self, name: str) -> TargetCheck:
        """Connect to the configured target ``name`` and list its folder."""

    def datacenter(self) -> DataCenter | None:
        """The configured data center (``None`` without a ``[datacenter]`` section)."""

    def provenance(self) -> Engine:
        """The database of the provenance events (the ledger's), for ``entrepot.provenance``."""

    def archives(self) -> Mapping[str, ArchiveConfig]:
        """The configured archives, by name."""


class DaemonHost:
    """:class:`DashboardHost` over a running daemon."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    @property
    def config(self) -> Config:
        return self.daemon.config

    @property
    def generation(self) -> int:
        return self.daemon.generation

    @property
    def ledger(self) -> Ledger:
        ledger = self.daemon.ledger
        if ledger is None:
            raise RuntimeError("the service has not opened its ledger yet")
        return ledger

    @property
    def last_reload(self) -> Mapping[str, Any] | None:
        return self.daemon.last_reload

    def status(self) -> Mapping[str, Any]:
        return self.daemon.status()

    def reload(self) -> Mapping[str, Any]:
        # The daemon's main loop reloads (it owns the lanes and timers): ask, then wait.
        before = self.last_reload
        self.daemon.request_reload()
        deadline = time.monotonic() + RELOAD_WAIT
        while time.monotonic() < deadline:
            # The daemon replaces its last-reload record at each reload.
            after = self.last_reload
            if after is not None and after is not before:
                return after
            time.sleep(0.05)
        return {"at": None, "ok": False, "problems": ["the service did not reload in time"]}

    def retry(self, job_id: str) -> JobRecord:
        ledger = self.ledger
        job = ledger.find(job_id)
        record = ledger.set_state(
            job.id, JobState.BACKLOG, next_due=ledger.clock.now(), from_states=BACKLOG_STATES
        )
        lane = self._wake(record, "retry")
        log_event(logger, "web.retry", job_id=job.id, lane=lane)
        return record

    def run_now(self, job_id: str) -> None:
        # Pending and due already: the lane's next claim takes it.  Making it a
        # backlog job, as a retry does, would show it as failed until it runs.
        lane = self._wake(self.ledger.find(job_id), "due")
        log_event(logger, "web.run_now", job_id=job_id, lane=lane)

    def _wake(self, job: JobRecord, trigger: str) -> str:
        """Wake the lane that runs ``job`` (its route's, else the backlog's); its key."""
        # Its route waits for it (a hold): lift the hold and run the route's lane now.
        owner = self.daemon.plan.owners.get(job.identity or "")
        if owner is not None:
            self.daemon.holds.hold(owner, None)
        wiring = self.daemon.wiring
        if wiring is not None:
            wiring.kick(owner or "backlog", trigger)
        return owner or "backlog"

    def drop(self, job_id: str, reason: str) -> JobRecord:
        return Backlog(self.ledger).drop(job_id, reason)

    def check_target(self, name: str) -> TargetCheck:
        if name not in self.config.targets:
            raise KeyError(name)
        return check_target(self.config, name)

    def datacenter(self) -> DataCenter | None:
        center = self.config.datacenter
        if center is None:
            return None
        from entrepot.datacenter import DataCenter
        from entrepot.datacenter.db_secrets import read_password, with_password

        url = None
        if center.database is not None:
            password = read_password(env=center.password_env, file=center.password_file)
            url = with_password(center.database, password)
        return DataCenter(
            center.root, database=url, schema=center.schemas,
            upload_policy=center.upload_policy(),
        )  # fmt: skip

    def provenance(self) -> Engine:
        return self.ledger.engine

    def archives(self) -> Mapping[str, ArchiveConfig]:
        return self.config.archives
