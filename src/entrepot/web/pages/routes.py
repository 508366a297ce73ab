"""The route and target pages: history, throughput, last errors, and a target check.

``/routes`` lists the routes and targets of the configuration with each
route's last run; ``/routes/NAME`` and ``/routes/targets/NAME`` show one of
them: its settings (URLs masked), its runs a page at a time, files and bytes
delivered per hour and per day, its last errors, and — for a target — the
last check.  An operator's ``POST /routes/targets/NAME/check`` connects to
the target and lists its folder, read-only, as ``entrepot validate
--connect`` does (:meth:`DashboardHost.check_target`).  Each page has its
JSON twin under ``/api``; an unknown name is 404.
"""

from __future__ import annotations

import glob
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from entrepot.service.status import route_figures
from entrepot.targets import mask_url
from entrepot.web.auth import require_operator
from entrepot.web.host import DashboardHost
from entrepot.web.render import api, flash, paging, render, see_other
from entrepot.web.routes_data import (
    history,
    identities,
    last_errors,
    route_places,
    route_settings,
    target_settings,
)
from entrepot.web.throughput import HourCache, throughput

__all__ = ["routes"]


class _Checks:
    """The last check of each target made from the dashboard (kept while the service runs)."""

    def __init__(self) -> None:
        self._last: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._last.get(name)

    def put(self, name: str, result: dict[str, Any]) -> None:
        with self._lock:
            self._last[name] = result


def _api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def routes(host: DashboardHost) -> list[BaseRoute]:
    checks = _Checks()
    hours = HourCache()

    def index(request: Request) -> Response:
        config = host.config
        figures = route_figures(config, host.ledger.rows, host.status())
        listed = [
            {"name": name, "spool": r.spool, "target": r.target, **_figures(figures, name)}
            for name, r in sorted(config.routes.items())
        ]
        targets = [
            {"name": name, "url": mask_url(t.url), "last_check": checks.get(name)}
            for name, t in sorted(config.targets.items())
        ]
        if _api(request):
            return api({"routes": listed, "targets": targets})
        return render(request, "routes/index.html", routes=listed, targets=targets)

    def activity(
        request: Request, template: str, found: list[str], places: list[str],
        sent_to: str | None, **data: Any,
    ) -> Response:  # fmt: skip
        """The page (or its JSON twin) of the jobs of ``found`` and the files of ``places``
        (those sent to the masked URL ``sent_to`` only, when given)."""
        engine = host.ledger.engine
        data |= {
            "history": history(engine, found, paging(request).page),
            "throughput": throughput(host.provenance(), places, sent_to, hours),
            "errors": last_errors(engine, found, places, sent_to),
        }
        if _api(request):
            return api(_as_json(data))
        # A file's name is linked to its trace as a glob that matches only itself.
        return render(request, template, exact=glob.escape, **data)

    def route_page(request: Request) -> Response:
        config = host.config
        name = _named(request, config.routes, "route")
        settings = route_settings(config, name)
        places, shared = route_places(config, [name])
        figures = route_figures(config, host.ledger.rows, host.status())
        return activity(request, "routes/route.html", identities(config, routes=[name]), places,
                        settings["target_url"] if shared else None, route=settings,
                        latest=_figures(figures, name))  # fmt: skip

    def target_page(request: Request) -> Response:
        config = host.config
        name = _named(request, config.targets, "target")
        settings = target_settings(config, name)
        found = identities(config, routes=settings["routes"], fetches=settings["fetches"])
        places, _shared = route_places(config, settings["routes"])
        return activity(request, "routes/target.html", found, places, settings["url"],
                        target=settings, check=checks.get(name))  # fmt: skip

    def check(request: Request) -> Response:
        require_operator(request)
        name = _named(request, host.config.targets, "target")
        result = host.check_target(name)
        shown = {"at": datetime.now(UTC), "ok": result.ok, "url": result.url,
                 "error": result.error, "ms": result.ms}  # fmt: skip
        checks.put(name, shown)
        if _api(request):
            return api(shown, 200 if result.ok else 502)
        if result.ok:
            flash(request, f"Target {name}: connected and listed in {result.ms or 0:.0f} ms.")
        else:
            flash(request, f"Target {name} failed its check: {result.error}")
        return see_other(f"/routes/targets/{quote(name, safe='')}")

    return [
        Route("/routes", index, methods=["GET"]),
        Route("/api/routes", index, methods=["GET"]),
        Route("/routes/targets/{name}", target_page, methods=["GET"]),
        Route("/api/routes/targets/{name}", target_page, methods=["GET"]),
        Route("/routes/targets/{name}/check", check, methods=["POST"]),
        Route("/api/routes/targets/{name}/check", check, methods=["POST"]),
        Route("/routes/{name}", route_page, methods=["GET"]),
        Route("/api/routes/{name}", route_page, methods=["GET"]),
    ]


def _named(request: Request, known: Mapping[str, Any], what: str) -> str:
    """The ``name`` of the request's path, if ``known`` has it; 404 otherwise."""
    name: str = request.path_params["name"]
    if name not in known:
        raise HTTPException(404, f"no {what} of that name in the configuration")
    return name


def _figures(figures: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    found = figures.get(name, {})
    keys = ("last_run", "last_outcome", "last_success", "last_error", "waiting_job", "next_due")
    return {key: found.get(key) for key in keys}


def _as_json(data: dict[str, Any]) -> dict[str, Any]:
    shown = dict(data)
    found = data["history"]
    shown["history"] = {"page": found.page, "has_next": found.has_next, "jobs": found.jobs,
                        "runs": [run.as_json() for run in found.runs]}  # fmt: skip
    shown["throughput"] = data["throughput"].as_json()
    errors = data["errors"]
    shown["errors"] = {"runs": [run.as_json() for run in errors["runs"]],
                       "files": [event.as_json() for event in errors["files"]]}  # fmt: skip
    return shown
