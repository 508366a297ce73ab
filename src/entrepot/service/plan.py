"""What the daemon runs for one configuration: its lanes, their triggers, what to watch.

:class:`Plan` is computed from a :class:`~entrepot.service.config.Config`
before it is used — at start and at every reload — and building it checks
every route and fetch as the one-shot commands would (the scheme is known,
the options are right, the password can be read).  So a configuration that
passes here is one the lanes can run, and a reload that fails here is
refused while the running configuration stays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from entrepot.service.building import fetch_job, ship_job
from entrepot.service.config import Config
from entrepot.service.schedule import Triggers

__all__ = ["Plan", "fetch_key", "route_key"]


def route_key(name: str) -> str:
    """The lane (and timer) of route ``name``."""
    return f"route:{name}"


def fetch_key(name: str) -> str:
    """The lane (and timer) of fetch ``name``."""
    return f"fetch:{name}"


@dataclass
class Plan:
    """Lanes and triggers of one configuration."""

    config: Config
    #: Lane key → its triggers (routes and fetches).
    triggers: dict[str, Triggers] = field(default_factory=dict)
    #: Job identity → the lane key of the route or fetch that owns it.
    owners: dict[str, str] = field(default_factory=dict)
    #: A spool's ``new/`` folder → the lane keys of its on-arrival routes.
    arrivals: dict[Path, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, config: Config) -> Plan:
        """The plan of ``config``; raises ConfigError when a route or fetch cannot run."""
        plan = cls(config)
        for name, route in config.routes.items():
            key = route_key(name)
            plan.triggers[key] = Triggers.of(route)
            plan.owners[ship_job(config, name).identity()] = key
            if route.on_arrival:
                new = config.spools[route.spool].path / "new"
                plan.arrivals.setdefault(new, []).append(key)
        for name, fetch in config.fetches.items():
            key = fetch_key(name)
            plan.triggers[key] = Triggers.of(fetch)
            plan.owners[fetch_job(config, name).identity()] = key
        return plan

    @property
    def watch(self) -> Path | None:
        """The data center's watched folder, if any."""
        center = self.config.datacenter
        return center.watch if center is not None else None

    @property
    def hint_folders(self) -> set[Path]:
        """Folders whose notifications wake the daemon."""
        folders = set(self.arrivals)
        if self.watch is not None:
            folders.add(self.watch)
        return folders

    def spools(self) -> list[Path]:
        """Every spool folder of the configuration."""
        return [spool.path for spool in self.config.spools.values()]
