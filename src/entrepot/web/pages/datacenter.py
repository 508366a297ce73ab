"""The data center pages: files, uploads, imports and their progress, the log, tables.

``/datacenter``
    the files of an area (``?area=pending|finished|unfinished|deleted|graduated|exports``,
    paginated) with sizes, dates and line counts; on the pending area an
    operator also finds the upload form and the form that starts an import
    (file, table, mode), and everyone the recent imports;
``/datacenter/files/<area>/<name>``
    a file, downloaded — only from the data center's own folders
    (:mod:`entrepot.web.dc_paths`);
``/datacenter/imports/<job id>``
    where an import stands: queued, running (rows so far), finished (rows
    imported and failed, the pending file to download) or failed (why); it
    refreshes itself until the import ends;
``/datacenter/log``
    the import log, searched, newest first;
``/datacenter/tables``
    the schema's tables; an operator exports one (download) or retires rows.

Each page has its JSON twin under ``/api/datacenter…`` with the same data;
the actions are in :mod:`entrepot.web.dc_actions`.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from entrepot.datacenter import DataCenter, human_size
from entrepot.datacenter.imports.options import MODES
from entrepot.datacenter.listing import SortKey
from entrepot.errors import SchemaError
from entrepot.web import dc_imports, dc_listing, dc_log, dc_paths
from entrepot.web.dc_actions import actions, opened
from entrepot.web.host import DashboardHost
from entrepot.web.render import api, paging, render

__all__ = ["files_view", "log_view", "progress_view", "routes", "tables_view"]

#: Seconds between two refreshes of the page of an import in progress.
REFRESH = 2
AREA_TITLES = {
    "pending": "Waiting to be imported",
    "finished": "Imported completely",
    "unfinished": "Imported with rows pending",
    "deleted": "Backups of rows removed by imports",
    "graduated": "Backups of retired rows",
    "exports": "Exports",
}


def _table_names(center: DataCenter) -> list[str]:
    try:
        return sorted(center.schema.tables)
    except SchemaError:
        return []


def files_view(host: DashboardHost, area: str, page: int, sort: str) -> dict[str, Any]:
    """What ``/datacenter`` shows (and ``/api/datacenter`` answers)."""
    listed = dc_listing.parse_area(area)
    if listed is None:
        raise HTTPException(404, f"no area {area!r}: use {', '.join(dc_listing.LISTED_AREAS)}")
    sort_key: SortKey = "date" if sort == "date" else "name"
    if host.config.datacenter is None:
        return {"configured": False, "area": listed, "sort": sort_key}
    with opened(host) as center:
        files = dc_listing.area_page(center, listed, page, sort=sort_key)
        recent = dc_imports.recent_imports(center) if listed == "pending" else []
        return {
            "configured": True,
            "area": listed,
            "sort": sort_key,
            "files": files,
            "recent": recent,
            "tables": _table_names(center),
            "modes": MODES,
            "max_upload": center.upload_policy.max_bytes,
        }


def _files_json(view: dict[str, Any]) -> dict[str, Any]:
    if not view["configured"]:
        return view
    files: dc_listing.Page[dc_listing.FileRow] = view["files"]
    return {
        **view,
        "files": [row.as_json() for row in files.items],
        "paging": files.as_json(),
        "recent": [run.as_json() for run in view["recent"]],
        "modes": list(view["modes"]),
    }


def progress_view(host: DashboardHost, job_id: str) -> dc_imports.Progress:
    with opened(host) as center:
        try:
            return dc_imports.progress(host.ledger, center, job_id)
        except dc_paths.Missing as exc:
            raise HTTPException(404, str(exc)) from None


def log_view(host: DashboardHost, query: str, page: int) -> dc_listing.Page[dc_log.LogLine]:
    with opened(host) as center:
        try:
            return dc_log.search_log(center, query, page)
        except dc_log.BadQuery as exc:
            raise HTTPException(400, str(exc)) from None


def tables_view(host: DashboardHost) -> dict[str, Any]:
    with opened(host) as center:
        try:
            specs = center.schema.tables
        except SchemaError as exc:
            return {"tables": [], "error": str(exc)}
        tables = [
            {"name": name, "key": list(spec.key), "columns": list(spec.columns)}
            for name, spec in sorted(specs.items())
        ]
        return {"tables": tables, "error": None}


def download(host: DashboardHost, area: str, name: str) -> Response:
    """The file ``name`` of ``area``, streamed from the descriptor that was checked."""
    with opened(host) as center:
        try:
            handle, size = dc_paths.open_download(center.root, area, name)
        except dc_paths.Missing as exc:
            raise HTTPException(404, str(exc)) from None
        except dc_paths.Refused as exc:
            raise HTTPException(403, str(exc)) from None
    headers = {"content-disposition": dc_paths.attachment(name), "content-length": str(size)}
    return StreamingResponse(
        dc_paths.stream(handle), media_type=dc_paths.media_type(name), headers=headers
    )


def routes(host: DashboardHost) -> list[BaseRoute]:
    def index(request: Request) -> Response:
        params = request.query_params
        view = files_view(
            host, params.get("area", "pending"), paging(request).page, params.get("sort", "name")
        )
        if request.url.path.startswith("/api/"):
            return api(_files_json(view))
        if view["configured"]:
            view["max_upload"] = human_size(view["max_upload"])
        return render(request, "datacenter/index.html", area_titles=AREA_TITLES,
                      chosen=params.get("file", ""), **view)  # fmt: skip

    def file(request: Request) -> Response:
        return download(host, request.path_params["area"], request.path_params["name"])

    def import_page(request: Request) -> Response:
        progress = progress_view(host, request.path_params["job_id"])
        if request.url.path.startswith("/api/"):
            return api(progress.as_json())
        return render(request, "datacenter/import.html", progress=progress, refresh=REFRESH)

    def log(request: Request) -> Response:
        query = request.query_params.get("q", "")
        lines = log_view(host, query, paging(request).page)
        if request.url.path.startswith("/api/"):
            found = [line.as_json() for line in lines.items]
            return api({"query": query, "lines": found, "paging": lines.as_json()})
        return render(request, "datacenter/log.html", query=query, lines=lines,
                      max_query=dc_log.MAX_QUERY)  # fmt: skip

    def tables(request: Request) -> Response:
        view = tables_view(host)
        if request.url.path.startswith("/api/"):
            return api(view)
        return render(request, "datacenter/tables.html", **view)

    handlers = actions(host)
    pages: list[BaseRoute] = []
    for prefix in ("", "/api"):
        pages += [
            Route(f"{prefix}/datacenter", index, methods=["GET"]),
            Route(f"{prefix}/datacenter/files/{{area}}/{{name}}", file, methods=["GET"]),
            Route(f"{prefix}/datacenter/imports/{{job_id}}", import_page, methods=["GET"]),
            Route(f"{prefix}/datacenter/log", log, methods=["GET"]),
            Route(f"{prefix}/datacenter/tables", tables, methods=["GET"]),
        ]
        pages += [
            Route(f"{prefix}/datacenter/{name}", handler, methods=["POST"])
            for name, handler in handlers.items()
        ]
    return pages
