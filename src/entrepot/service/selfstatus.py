"""What a running daemon says of itself: the content of ``<state>/service.json``.

Its PID, when it started, its configuration file and generation, its
instance name in the fleet, its listen address, ledger (password masked),
the outcome of the last reload, for each route and fetch when it is next
due and until when it waits for its backlog job, and the lanes whose last
run crashed before the ledger could record it (``crashed``: the ledger's
disk full, say — then this file may not be written either, and ``/readyz``
and the metrics, kept in memory, are what tell).  ``entrepot status``
and ``entrepot reload`` read it (:mod:`entrepot.service.status`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from entrepot.service.daemon import Daemon

__all__ = ["describe"]


def describe(daemon: Daemon) -> dict[str, Any]:
    """The status of ``daemon`` as ``service.json`` holds it."""
    config = daemon.config
    scheduler = daemon.scheduler

    def entry(key: str, on_arrival: bool) -> dict[str, Any]:
        due = scheduler.next_due(key)
        held = scheduler.held_until(key)
        return {
            "on_arrival": on_arrival,
            "next_due": due.isoformat(timespec="seconds") if due else None,
            "held_until": held.isoformat(timespec="seconds") if held else None,
        }

    started = daemon.started_at
    wiring = daemon.wiring
    crashed = wiring.ctx.telemetry.crashed_lanes() if wiring is not None else {}
    return {
        "pid": os.getpid(),
        "started_at": started.isoformat(timespec="seconds") if started else None,
        "config": str(config.source) if config.source else None,
        "generation": daemon.generation,
        "instance": config.service.instance,
        "listen": daemon.companions.address or config.service.listen,
        "state": str(config.service.state),
        "ledger": daemon.ledger.url if daemon.ledger else None,
        "hints": daemon.hints_active,
        "last_reload": daemon.last_reload,
        "routes": {n: entry(f"route:{n}", r.on_arrival) for n, r in config.routes.items()},
        "fetches": {n: entry(f"fetch:{n}", False) for n in config.fetches},
        "crashed": crashed,
    }
