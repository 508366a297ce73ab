"""What runs beside the daemon's own work: the HTTP endpoint, metrics, and housekeeping.

They live in modules of their own (``entrepot.service.http``,
``entrepot.service.metrics``, ``entrepot.service.retention``), which need
the ``service`` extra (Starlette, uvicorn, prometheus_client).  The daemon
asks this module for them by name, so it runs — without an endpoint and
with telemetry that records nothing — where they are not installed:

* :func:`make_telemetry` — the Prometheus telemetry when available;
* :class:`Companions` — started once the daemon is READY, stopped before it
  exits (the endpoint on ``[service] listen``);
* :func:`housekeeping` — called every ``HOUSEKEEPING_EVERY`` seconds from the
  main loop (retention of old runs and delivered files).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from entrepot.errors import ConfigError
from entrepot.jobs import Ledger
from entrepot.logs import log_event
from entrepot.service.config import Config
from entrepot.service.telemetry import Telemetry

logger = logging.getLogger("entrepot.service")

__all__ = ["HOUSEKEEPING_EVERY", "Companions", "housekeeping", "make_telemetry"]

#: Seconds between two housekeeping passes.
HOUSEKEEPING_EVERY = 3600.0


def _module(name: str) -> Any:
    """``entrepot.service.<name>``, or ``None`` when it (or what it needs) is not installed."""
    full = f"entrepot.service.{name}"
    try:
        if importlib.util.find_spec(full) is None:
            return None
        return importlib.import_module(full)
    except ImportError as exc:
        log_event(logger, "service.companion_unavailable", logging.WARNING, module=full,
                  error=exc, hint="pip install 'entrepot[service]'")  # fmt: skip
        return None


def make_telemetry(config: Callable[[], Config], ledger: Ledger) -> Telemetry:
    """Prometheus telemetry reading ``config()`` and ``ledger``, or a silent one."""
    metrics = _module("metrics")
    if metrics is None or not hasattr(metrics, "PrometheusTelemetry"):
        return Telemetry()
    telemetry: Telemetry = metrics.PrometheusTelemetry(config, ledger=ledger)
    return telemetry


class Companions:
    """The HTTP endpoint while the daemon runs (when ``[service] listen`` is set).

    ``dashboard``, when set (by the command, which may import the web
    package), builds the web dashboard served beside the endpoint's paths.
    """

    def __init__(self) -> None:
        self._endpoint: Any = None
        self.dashboard: Callable[..., Any] | None = None

    @property
    def address(self) -> str | None:
        """The endpoint's URL once it listens."""
        return getattr(self._endpoint, "url", None)

    def start(self, config: Config, telemetry: Telemetry) -> None:
        if config.service.listen is None:
            return
        http = _module("http")
        if http is None or not hasattr(http, "start_http"):
            log_event(logger, "service.http_unavailable", logging.WARNING,
                      listen=config.service.listen,
                      hint="pip install 'entrepot[service]'")  # fmt: skip
            return
        self._endpoint = http.start_http(config, telemetry, dashboard=self.dashboard)

    def tokens_changed(self, config: Config) -> list[str]:
        """The token files of ``config`` holding another token than the endpoint asks for."""
        tokens = getattr(self._endpoint, "tokens", None)
        if tokens is None:
            return []
        from entrepot.service.preflight import read_token

        changed = []
        for key, held in (("token_file", tokens.operator), ("viewer_token_file", tokens.viewer)):
            path = getattr(config.service, key)
            try:
                now = read_token(path) if path else None
            except ConfigError:
                now = None  # unreadable now: not the token in use either way
            if now != held:
                changed.append(key)
        return changed

    def stop(self) -> None:
        endpoint, self._endpoint = self._endpoint, None
        if endpoint is not None:
            endpoint.stop()


def housekeeping(config: Config, ledger: Ledger, now: datetime, stop: threading.Event) -> None:
    """One pass of retention (old runs, jobs and delivered files), when available."""
    retention = _module("retention")
    if retention is None or not hasattr(retention, "prune"):
        return
    try:
        retention.prune(config, ledger, now, stop=stop)
    except Exception as exc:  # noqa: BLE001 - housekeeping must never stop the service
        log_event(logger, "service.housekeeping_failed", logging.ERROR,
                  error=f"{type(exc).__name__}: {exc}")  # fmt: skip
