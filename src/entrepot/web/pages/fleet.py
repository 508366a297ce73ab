"""The fleet page: every instance sharing the ledger, silent ones, stuck routes.

The same view as ``entrepot status --fleet``
(:func:`~entrepot.service.fleetview.fleet_view` over the heartbeat rows, with
the configuration's ``[service.fleet]`` settings, judged by the database's
clock where it has one); a service alone on its ledger shows itself.  Its JSON
twin answers ``/api/fleet``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from entrepot.jobs.fleet import skew_limit
from entrepot.service.fleetview import fleet_view, objects_in_doubt
from entrepot.web.host import DashboardHost
from entrepot.web.render import api, render

__all__ = ["fleet_data", "routes"]


def fleet_data(host: DashboardHost) -> dict[str, Any]:
    """Every instance with its state and clock, the silent ones, the stuck routes, the
    clocks too far off and the fetched objects in doubt (as ``entrepot status --fleet``
    lists them)."""
    fleet = host.config.service.fleet
    view = fleet_view(
        host.ledger.instances(),
        datetime.now(UTC),
        silent_after=fleet.silent_after,
        stuck_after=fleet.stuck_after,
        clock_limit=skew_limit(fleet.lease),
        database_now=host.ledger.database_now(),
    )
    return {**view, "in_doubt": objects_in_doubt(host.ledger), "this": host.config.service.instance}


def routes(host: DashboardHost) -> list[BaseRoute]:
    def page(request: Request) -> Response:
        return render(request, "fleet/index.html", **fleet_data(host))

    def as_json(request: Request) -> Response:
        return api(fleet_data(host))

    return [
        Route("/fleet", page, methods=["GET"]),
        Route("/api/fleet", as_json, methods=["GET"]),
    ]
