"""The lanes of the running plan: made at start, changed by a reload, stopped at the end.

Each route and fetch has a lane of its own (and a timer in the scheduler);
four more lanes do the chores: ``backlog`` (due jobs no route owns),
``archives`` (sealing abandoned archives), ``watch`` (the data center's
watched folder) and ``housekeeping`` (retention).  A reload that removes a
route retires its lane after the run in progress; one that adds a route
starts a lane for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from entrepot.service.companions import housekeeping
from entrepot.service.lanes import Lane, Work
from entrepot.service.plan import Plan
from entrepot.service.schedule import Scheduler
from entrepot.service.works import ArchiveWork, BacklogWork, Context, FetchWork, RouteWork

if TYPE_CHECKING:
    from entrepot.service.watchfolder import WatchFolder

__all__ = ["Wiring"]


class _Housekeeping:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def run(self, trigger: str) -> None:
        ctx = self.ctx
        housekeeping(ctx.config, ctx.ledger, ctx.runner.clock.now(), ctx.stopping)

    def interrupt(self) -> None:
        """Retention stops between two batches on its own (it watches ``stopping``)."""


class Wiring:
    """Lanes by key (``route:NAME``, ``fetch:NAME``, ``backlog``, ``archives``, ``watch``…)."""

    def __init__(
        self, ctx: Context, scheduler: Scheduler, owned: Callable[[], Mapping[str, str]]
    ) -> None:
        self.ctx = ctx
        self.scheduler = scheduler
        self.owned = owned
        self.lanes: dict[str, Lane] = {}
        self.retired: list[Lane] = []
        self.watch_folder: WatchFolder | None = None
        self._add("backlog", BacklogWork(ctx, owned))
        self._add("archives", ArchiveWork(ctx))
        self._add("housekeeping", _Housekeeping(ctx))

    def _add(self, key: str, work: Work) -> None:
        self.lanes[key] = Lane(key, work).start()

    def _retire(self, key: str) -> None:
        lane = self.lanes.pop(key)
        lane.stop()
        # Kept until its run ends (a stop waits for it too); those already ended go.
        self.retired = [old for old in self.retired if not old.join(0)] + [lane]
        self.scheduler.remove(key)

    def apply(self, plan: Plan) -> None:
        """Make the lanes match ``plan`` (its configuration becomes the current one)."""
        ctx = self.ctx
        ctx.config = plan.config
        for key in [k for k in self.lanes if k.startswith(("route:", "fetch:"))]:
            if key not in plan.triggers:
                self._retire(key)
        for key, triggers in plan.triggers.items():
            if key not in self.lanes:
                kind, name = key.split(":", 1)
                self._add(key, RouteWork(name, ctx) if kind == "route" else FetchWork(name, ctx))
            self.scheduler.set(key, triggers)
        center = plan.config.datacenter
        if self.watch_folder is None or self.watch_folder.center != center:
            if "watch" in self.lanes:
                self._retire("watch")
            self.watch_folder = None
            if center is not None and center.watch is not None:
                # Imported here: a service without a data center never loads it.
                from entrepot.service.watchfolder import WatchFolder

                self.watch_folder = WatchFolder(center, ctx.runner, ctx.telemetry, ctx.stopping)
                self._add("watch", self.watch_folder)

    def kick(self, key: str, trigger: str) -> None:
        lane = self.lanes.get(key)
        if lane is not None:
            lane.kick(trigger)

    def recovered(self, job_ids: list[str]) -> None:
        """Jobs of an instance that died are due again: wake the lanes that run them."""
        owners = self.owned()
        for job_id in job_ids:
            identity = self.ctx.ledger.get(job_id).identity
            self.kick(owners.get(identity or "", "backlog"), "backlog")

    def stop(self, grace: float) -> list[str]:
        """Stop every lane; wait up to ``grace`` seconds; return the keys still running."""
        lanes = [*self.lanes.values(), *self.retired]
        for lane in lanes:
            lane.stop()
        deadline = time.monotonic() + grace
        return [lane.name for lane in lanes if not lane.join(max(0.0, deadline - time.monotonic()))]

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(
            lane.wait_idle(max(0.0, deadline - time.monotonic())) for lane in self.lanes.values()
        )
