"""The jobs pages: the open jobs (waiting and dead), one job with its runs, Retry and Drop.

``GET /jobs`` lists the jobs waiting for a run or an operator, dead ones
first, paged; ``GET /jobs/{id}`` shows one job and its runs.  An operator
may **retry** a waiting or dead job (the service runs it at once:
:meth:`DashboardHost.retry`) or **drop** it with a reason, which is
required (:meth:`DashboardHost.drop`) — what ``entrepot backlog retry`` and
``entrepot backlog drop`` do.  Both are POSTs: from a browser session they
carry the CSRF token; a viewer gets 403.  Every page has its JSON twin
under ``/api``; the actions answer the job as it is afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from entrepot.errors import InvalidName, JobError, UnknownJob
from entrepot.web.auth import require_operator, safe_next
from entrepot.web.host import DashboardHost
from entrepot.web.jobs_data import job_detail, open_jobs, reader
from entrepot.web.render import Paging, api, flash, paging, render, see_other

__all__ = ["routes"]

#: The longest reason kept for a drop (it is stored in the ledger and shown).
REASON_LIMIT = 500
NO_REASON = "Dropping a job needs a reason: say why it is given up (it is kept with the job)."


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def routes(host: DashboardHost) -> list[BaseRoute]:
    def listing(request: Request) -> dict[str, Any]:
        with reader(host.ledger.engine) as rows:
            return {"open_jobs": open_jobs(rows, paging(request)).as_json()}

    def detail(request: Request) -> dict[str, Any]:
        job_id = request.path_params["job_id"]
        with reader(host.ledger.engine) as rows:
            found = job_detail(rows, job_id, paging(request))
        if found is None:
            raise HTTPException(404, f"there is no job {job_id!r} in the ledger")
        job, runs = found
        return {"job": job, "runs": runs.as_json()}

    def jobs_page(request: Request) -> Response:
        return render(request, "jobs/index.html", **listing(request))

    def jobs_api(request: Request) -> Response:
        return api(listing(request))

    def job_page(request: Request) -> Response:
        return render(request, "jobs/detail.html", **detail(request))

    def job_api(request: Request) -> Response:
        return api(detail(request))

    def action(name: str, act: Callable[[str, dict[str, str]], str]) -> Callable[[Request], Any]:
        """A POST handler: check the role, read the form, act in a thread, answer."""

        async def handler(request: Request) -> Response:
            require_operator(request)
            job_id = request.path_params["job_id"]
            form = await request.form(max_files=0, max_fields=8, max_part_size=8192)
            fields = {key: str(value) for key, value in form.items()}
            try:
                said = await run_in_threadpool(act, job_id, fields)
            except (UnknownJob, InvalidName) as exc:  # a blank id names no job either
                raise HTTPException(404, str(exc)) from None
            except JobError as exc:
                raise HTTPException(409, str(exc)) from None
            if _is_api(request):
                shown = await run_in_threadpool(job_detail, host.ledger.rows, job_id, Paging(1, 1))
                assert shown is not None
                return api({"action": name, "message": said, "job": shown[0]})
            flash(request, said)
            return see_other(safe_next(fields.get("back") or f"/jobs/{job_id}"))

        return handler

    def retry(job_id: str, fields: dict[str, str]) -> str:
        record = host.retry(job_id)
        return f"Job {record.id} ({record.name}) runs again now."

    def drop(job_id: str, fields: dict[str, str]) -> str:
        reason = fields.get("reason", "").strip()
        if not reason:
            raise HTTPException(400, NO_REASON)
        if len(reason) > REASON_LIMIT:
            raise HTTPException(400, f"The reason is too long: {REASON_LIMIT} characters at most.")
        record = host.drop(job_id, reason)
        return f"Job {record.id} ({record.name}) dropped: {reason}"

    retry_handler, drop_handler = action("retry", retry), action("drop", drop)
    return [
        Route("/jobs", jobs_page, methods=["GET"]),
        Route("/api/jobs", jobs_api, methods=["GET"]),
        Route("/jobs/{job_id}", job_page, methods=["GET"]),
        Route("/api/jobs/{job_id}", job_api, methods=["GET"]),
        Route("/jobs/{job_id}/retry", retry_handler, methods=["POST"]),
        Route("/api/jobs/{job_id}/retry", retry_handler, methods=["POST"]),
        Route("/jobs/{job_id}/drop", drop_handler, methods=["POST"]),
        Route("/api/jobs/{job_id}/drop", drop_handler, methods=["POST"]),
    ]
