"""The trace pages: where files went, what was not delivered, and delivery receipts.

``/trace`` searches the provenance record by file name or glob (with the
filters of ``entrepot trace``: route, target, since, until) and shows each
file's journey and verdict, a page of names at a time;
``/trace/undelivered`` lists the files received and not delivered (newest
first, ``until`` carrying on to older ones); ``/trace/receipt`` downloads
what ``entrepot receipt`` writes for a route, as CSV or JSON — streamed as
it is read, :data:`RECEIPT_DOWNLOADS` at once at most (one more is a 503:
try again).  Each has its JSON twin under ``/api``.
"""

from __future__ import annotations

import glob
import re
from datetime import UTC, datetime
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from entrepot.errors import ConfigError
from entrepot.provenance.reader import clock
from entrepot.provenance.receipts import receipt_format
from entrepot.web.host import DashboardHost
from entrepot.web.render import api, paging, render
from entrepot.web.streaming import Slots, Streamed, blocks
from entrepot.web.trace_data import (
    FormError,
    TraceForm,
    receipt,
    trace_page,
    undelivered_page,
)

__all__ = ["RECEIPT_DOWNLOADS", "routes"]

#: Receipts downloaded at once, at most: each reads the route's history while it lasts.
RECEIPT_DOWNLOADS = 2
#: Seconds a client refused for that is told to wait.
RETRY_AFTER = 10
BUSY = f"{RECEIPT_DOWNLOADS} receipts are being downloaded: try again when one has ended."


def routes(host: DashboardHost) -> list[BaseRoute]:
    def choices() -> dict[str, list[str]]:
        config = host.config
        return {"route_names": sorted(config.routes), "target_names": sorted(config.targets)}

    def search(request: Request) -> Response:
        form = TraceForm.of(request.query_params)
        found = trace_page(host.provenance(), host.config, form, paging(request).page)
        if request.url.path.startswith("/api/"):
            return api(found.as_json(), 400 if found.error else 200)
        query = urlencode(form.as_query())
        return render(request, "trace/index.html", status=400 if found.error else 200,
                      found=found, form=form, query=query, clock=clock,
                      **choices())  # fmt: skip

    def undelivered(request: Request) -> Response:
        form = TraceForm.of(request.query_params)
        found = undelivered_page(host.provenance(), host.config, form)
        if request.url.path.startswith("/api/"):
            return api(found.as_json(), 400 if found.error else 200)
        older = None
        if found.before is not None:
            older = urlencode({**form.as_query(), "until": found.before.isoformat()})
        return render(request, "trace/undelivered.html", status=400 if found.error else 200,
                      found=found, form=form, older=older, clock=clock, exact=glob.escape,
                      **choices())  # fmt: skip

    downloads = Slots(RECEIPT_DOWNLOADS)

    async def download(request: Request) -> Response:
        form = TraceForm.of(request.query_params)
        if not downloads.take():
            raise HTTPException(503, BUSY, {"Retry-After": str(RETRY_AFTER)})
        try:
            chosen = receipt_format(request.query_params.get("format", "csv"))
            pieces = await run_in_threadpool(receipt, host.provenance(), host.config, form, chosen)
        except (FormError, ConfigError) as exc:
            downloads.give()
            raise HTTPException(400, str(exc)) from None
        except BaseException:
            downloads.give()
            raise
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        # A header holds Latin-1 only, and no quote: the route's name is reduced to safe letters.
        route = re.sub(r"[^A-Za-z0-9._-]", "_", form.route)
        filename = f"receipt-{route}-{stamp}.{chosen}"
        media = "text/csv" if chosen == "csv" else "application/json"
        headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
        return Streamed(blocks(pieces), downloads.give, media_type=f"{media}; charset=utf-8",
                        headers=headers)  # fmt: skip

    return [
        Route("/trace", search, methods=["GET"]),
        Route("/api/trace", search, methods=["GET"]),
        Route("/trace/undelivered", undelivered, methods=["GET"]),
        Route("/api/trace/undelivered", undelivered, methods=["GET"]),
        Route("/trace/receipt", download, methods=["GET"]),
        Route("/api/trace/receipt", download, methods=["GET"]),
    ]
