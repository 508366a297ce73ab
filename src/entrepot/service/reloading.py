"""Reloading the daemon's configuration while it runs (SIGHUP, ``entrepot reload``).

The file is read and checked again, with the environment and every route
and fetch; a configuration with any problem is refused
(``service.reload_refused`` with each problem) and the running one stays,
as it does when the new one changes what is set up once at the start
(:data:`FIXED_SETTINGS`, the tokens).  A good one replaces it between runs:
a run in progress ends with the settings it started with.

:class:`Reloads` is mixed into :class:`~entrepot.service.daemon.Daemon`,
which holds the state it works on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from entrepot.jobs import Clock
from entrepot.logs import log_event
from entrepot.service.companions import Companions
from entrepot.service.config import Config
from entrepot.service.loading import ConfigProblems, Problem, line_of
from entrepot.service.notify import SystemdNotifier
from entrepot.service.plan import Plan
from entrepot.service.recovery import ensure_spools
from entrepot.service.telemetry import Telemetry
from entrepot.service.wiring import Wiring

logger = logging.getLogger("entrepot.service")

__all__ = ["FIXED_SETTINGS", "Reloads", "Rereader"]

#: Re-reads the configuration file: the new configuration, or ConfigProblems.
Rereader = Callable[[], Config]

#: ``[service]`` settings read once at the start: a reload that changes one is refused.
FIXED_SETTINGS = ("state", "ledger", "listen", "token_file", "viewer_token_file", "dashboard")


class Reloads:
    """The daemon's reload; see the module docstring."""

    config: Config
    plan: Plan
    generation: int
    reread: Rereader | None
    clock: Clock
    notifier: SystemdNotifier
    companions: Companions
    wiring: Wiring | None
    on_config: Callable[[Config], None] | None
    last_reload: dict[str, Any] | None
    _telemetry: Telemetry | None

    def _start_hints(self) -> None:
        raise NotImplementedError

    def _scan(self, trigger: str) -> None:
        raise NotImplementedError

    def reload(self) -> bool:
        """Re-read the configuration; True when the new one is in use."""
        if self.reread is None:
            return False
        self.notifier.reloading()
        try:
            config = self.reread()
            fixed = self._fixed_settings_changed(config)
            if fixed:
                raise ConfigProblems(fixed)
            plan = Plan.of(config)
            # New spools are made before anything changes: one that cannot be
            # made (a typo, no permission) refuses the configuration.
            ensure_spools(config)
        except ConfigProblems as exc:
            self._refused([str(problem) for problem in exc.problems])
            return False
        except Exception as exc:  # noqa: BLE001 - any failure refuses the new configuration
            self._refused([f"{type(exc).__name__}: {exc}"])
            return False
        self._apply(config, plan)
        self.notifier.ready(f"configuration {self.generation}")
        return True

    def _fixed_settings_changed(self, config: Config) -> list[Problem]:
        """What ``config`` changes that only a restart applies: where the service keeps its
        state, its ledger, and its HTTP endpoint (the address, the token files and the tokens
        in them, read once at the start)."""
        now, then = config.service, self.config.service
        changed = [key for key in FIXED_SETTINGS if getattr(now, key) != getattr(then, key)]
        changed = changed or self.companions.tokens_changed(config)
        return [
            Problem(f"service.{key}", "cannot change while the service runs",
                    line_of(config, "service", key), "restart the service", config.source)
            for key in changed
        ]  # fmt: skip

    def _refused(self, problems: list[str]) -> None:
        self.last_reload = {"at": self.clock.now().isoformat(), "ok": False, "problems": problems}
        log_event(logger, "service.reload_refused", logging.ERROR, generation=self.generation,
                  problems="; ".join(problems))  # fmt: skip
        assert self._telemetry is not None
        self._telemetry.config_loaded(self.generation, False)
        self.notifier.ready(f"configuration {self.generation} kept (reload refused)")

    def _apply(self, config: Config, plan: Plan) -> None:
        assert self.wiring is not None and self._telemetry is not None
        hint_folders = self.plan.hint_folders
        self.config, self.plan = config, plan
        self.generation += 1
        self.wiring.apply(plan)
        if plan.hint_folders != hint_folders:
            self._start_hints()
        if self.on_config is not None:
            self.on_config(config)
        self._telemetry.config_loaded(self.generation, True)
        self.last_reload = {"at": self.clock.now().isoformat(), "ok": True, "problems": []}
        log_event(logger, "service.reloaded", generation=self.generation,
                  routes=len(config.routes), fetches=len(config.fetches))  # fmt: skip
        self._scan("reload")
