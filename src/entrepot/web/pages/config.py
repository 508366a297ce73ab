"""The configuration page: what runs, whether it is sound, and a reload button.

Shows the configuration in use section by section — secrets appear only as
the references that name them (``password_env``, ``password_file``), and
every value passes :func:`~entrepot.redact.mask_secrets` on its way — with
its file, its generation, the problems ``entrepot validate`` would report
(without connecting anywhere), and the last reload's outcome.  An operator
may reload it (what ``entrepot reload`` does).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from entrepot.redact import mask_secrets
from entrepot.service.checking import all_problems
from entrepot.web.auth import require_operator
from entrepot.web.host import DashboardHost
from entrepot.web.render import api, flash, render, see_other

__all__ = ["config_view", "routes"]


def _shown(value: Any) -> Any:
    """``value`` with every text masked (nested dicts and lists kept as such)."""
    if isinstance(value, dict):
        return {str(k): _shown(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_shown(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return mask_secrets(str(value))


def config_view(host: DashboardHost) -> dict[str, Any]:
    """What the page shows, as plain data (also the JSON twin's answer)."""
    config = host.config
    sections = _shown(config.model_dump(mode="json", exclude_none=True))
    problems = [str(problem) for problem in all_problems(config)]
    return {
        "file": str(config.source) if config.source else None,
        "generation": host.generation,
        "valid": not problems,
        "problems": problems,
        "last_reload": dict(host.last_reload) if host.last_reload else None,
        "sections": sections,
    }


def routes(host: DashboardHost) -> list[BaseRoute]:
    def page(request: Request) -> Response:
        return render(request, "config/index.html", **config_view(host))

    def as_json(request: Request) -> Response:
        return api(config_view(host))

    def reload(request: Request) -> Response:
        require_operator(request)
        outcome = dict(host.reload())
        if outcome.get("ok"):
            flash(request, f"Configuration reloaded: generation {host.generation} is in use.")
        else:
            problems = "; ".join(outcome.get("problems") or ["unknown reason"])
            flash(request, f"Reload refused, generation {host.generation} kept: {problems}")
        if "text/html" not in request.headers.get("accept", ""):
            return api(
                {**outcome, "generation": host.generation}, 200 if outcome.get("ok") else 409
            )
        return see_other("/config")

    return [
        Route("/config", page, methods=["GET"]),
        Route("/api/config", as_json, methods=["GET"]),
        Route("/config/reload", reload, methods=["POST"]),
        Route("/api/config/reload", reload, methods=["POST"]),
    ]
