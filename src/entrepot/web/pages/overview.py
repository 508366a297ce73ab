"""The overview, the dashboard's home page (``/``): is anything stuck?

One look answers it: a banner says whether anything needs attention; each
spool's waiting files and oldest one (red past the spool's
``stale_after``); each route's last success, last failure and next run;
the first open jobs, dead ones first, with Retry and Drop for an operator
(the forms post to the jobs pages, :mod:`entrepot.web.pages.jobs`); the
recent runs with their errors, paged; and the charts of the last 24 hours
and 7 days.  The data is :func:`entrepot.web.overview_data.overview`;
``GET /api/overview`` answers it as JSON, charts as numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from entrepot.provenance.schema import ensure_tables
from entrepot.web.host import DashboardHost
from entrepot.web.jobs_data import reader
from entrepot.web.overview_data import as_json, charts_html, overview
from entrepot.web.render import api, paging, render

__all__ = ["routes"]


def routes(host: DashboardHost) -> list[BaseRoute]:
    def shown(request: Request) -> dict[str, Any]:
        # The charts read the provenance tables: made here if nothing was recorded yet.
        ensure_tables(host.provenance())
        with reader(host.ledger.engine) as rows:
            return overview(
                host.config, rows, host.status(), datetime.now(UTC), runs=paging(request)
            )

    def page(request: Request) -> Response:
        data = shown(request)
        charts = {window: charts_html(window, series) for window, series in data["charts"].items()}
        return render(request, "overview/index.html", **{**data, "charts": charts})

    def as_api(request: Request) -> Response:
        return api(as_json(shown(request)))

    return [
        Route("/", page, methods=["GET"]),
        Route("/api/overview", as_api, methods=["GET"]),
    ]
