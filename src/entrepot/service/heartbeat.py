"""The instance's heartbeat: written to the shared ledger every few seconds, in its own thread.

Each beat (:meth:`~entrepot.jobs.Ledger.beat`) says the instance is alive
and what it sees — its release, configuration generation, each spool's files
waiting, each route's and fetch's last run and last success — and renews
the lease of the jobs and keys it holds, in one transaction.  Then it puts
back the jobs of instances whose lease ran out
(:meth:`~entrepot.jobs.Ledger.recover_expired`): any live instance does it,
and ``on_recovered`` wakes the lanes that run them.

The thread (a :class:`~entrepot.jobs.ticker.Ticker`, as a one-shot command's
lease keeper) never blocks the daemon's main loop, and a beat that fails (the
database is down) is logged and tried again at the next one: the leases of
this instance then run out, and another instance may take its work — the
guarantee is that no work is held by a silent instance for longer than
``[service.fleet] lease``.

A beat on PostgreSQL measures how far this instance's clock is from the
database's; further than a quarter of the lease
(:func:`~entrepot.jobs.fleet.skew_limit`), the instance logs
``service.clock_skew`` with the offset, at most once every
:data:`SKEW_WARNING_EVERY` seconds while it lasts.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from entrepot.jobs import Ledger, RunResult
from entrepot.jobs.fleet import skew_limit
from entrepot.jobs.ticker import Ticker
from entrepot.logs import log_event
from entrepot.service.config import Config

logger = logging.getLogger("entrepot.service")

__all__ = ["Heartbeat"]

#: Files counted in a spool's ``new/`` at most per beat (a deeper spool shows this many).
MAX_COUNTED = 100_000
#: Seconds between two warnings of a clock too far from the database's.
SKEW_WARNING_EVERY = 300.0


def waiting_files(folder: os.PathLike[str] | str) -> int:
    """Visible files in ``folder``, counted up to :data:`MAX_COUNTED` (0 when it is missing)."""
    count = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not entry.name.startswith("."):
                    count += 1
                    if count >= MAX_COUNTED:
                        break
    except FileNotFoundError:
        return 0
    return count


class Heartbeat:
    """Beats for the instance of ``ledger`` while the daemon runs.

    ``config`` and ``generation`` return the daemon's current ones (a reload
    replaces them); ``on_recovered`` gets the ids of jobs put back in the
    backlog by a beat.
    """

    def __init__(
        self,
        ledger: Ledger,
        config: Callable[[], Config],
        generation: Callable[[], int],
        on_recovered: Callable[[list[str]], None],
    ) -> None:
        self.ledger = ledger
        self.config = config
        self.generation = generation
        self.on_recovered = on_recovered
        self.started_at = ledger.clock.now()
        self.beats = 0
        #: The clock's offset from the database's at the last beat (``None``: not measured).
        self.clock_offset: float | None = None
        self._warned_at: float | None = None
        self._last: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._ticker = Ticker(
            self.beat,
            lambda: self.config().service.fleet.heartbeat,
            name="entrepot-heartbeat",
            logger=logger,
            failed="service.heartbeat_failed",
            back="service.heartbeat_back",
        )

    def after_run(self, kind: str, name: str, result: RunResult) -> None:
        """Remember how a route's or fetch's run ended, for the next beat."""
        now = self.ledger.clock.now().isoformat(timespec="seconds")
        with self._lock:
            last = self._last.setdefault(f"{kind}:{name}", {"last_success": None})
            last.update(last_run=now, last_outcome=str(result.outcome))
            if result.ok:
                last["last_success"] = now

    def report(self) -> dict[str, Any]:
        """What the beat says of the spools and routes of the current configuration."""
        config = self.config()
        spools = {
            name: {"waiting": waiting_files(spool.path / "new")}
            for name, spool in config.spools.items()
        }
        with self._lock:
            last = {key: dict(value) for key, value in self._last.items()}
        routes: dict[str, Any] = {}
        for kind, entries in (("ship", config.routes), ("fetch", config.fetches)):
            for name, entry in entries.items():
                seen = last.get(f"{kind}:{name}", {})
                routes[name] = {
                    "kind": kind,
                    "spool": entry.spool,
                    "target": entry.target,
                    "shared": entry.shared,
                    "last_run": seen.get("last_run"),
                    "last_outcome": seen.get("last_outcome"),
                    "last_success": seen.get("last_success"),
                }
        return {"spools": spools, "routes": routes}

    def beat(self) -> list[str]:
        """One beat, then the recovery of lapsed leases; the ids of the jobs put back."""
        fleet = self.config().service.fleet
        self.clock_offset = self.ledger.beat(
            started_at=self.started_at,
            generation=self.generation(),
            every=fleet.heartbeat,
            lease=fleet.lease,
            report=self.report(),
        )
        self.beats += 1
        self._check_clock(fleet.lease)
        recovered = self.ledger.recover_expired()
        if recovered:
            log_event(logger, "service.fleet_recovered", logging.WARNING, jobs=len(recovered),
                      ids=",".join(recovered[:20]))  # fmt: skip
            self.on_recovered(recovered)
        return recovered

    def _check_clock(self, lease: float) -> None:
        """Warn while this instance's clock is further from the database's than the fleet
        allows: its leases are then shorter or longer than others read them."""
        offset = self.clock_offset
        if offset is None or abs(offset) <= skew_limit(lease):
            return
        # The monotonic clock: a wall clock that jumps does not silence the warning.
        now = self.ledger.clock.monotonic()
        if self._warned_at is not None and now - self._warned_at < SKEW_WARNING_EVERY:
            return
        self._warned_at = now
        side = "ahead" if offset > 0 else "behind"
        log_event(logger, "service.clock_skew", logging.WARNING, offset=offset, side=side,
                  limit=skew_limit(lease))  # fmt: skip

    def start(self) -> Heartbeat:
        self._ticker.start()
        return self

    def stop(self, *, clean: bool) -> None:
        """Stop beating; a ``clean`` stop says so in the ledger (the instance is not silent)."""
        self._ticker.stop()
        if clean:
            try:
                self.ledger.stopped()
            except Exception as exc:  # noqa: BLE001 - a stop goes on without the ledger
                log_event(logger, "service.heartbeat_failed", logging.WARNING, error=exc)
