"""The archive pages: each configured archive's files, their checks, and their last records.

``/archives`` lists the ``[archives.*]`` sections with how many files each
place holds; ``/archives/NAME`` a page of the section's files — the open
ones, then the sealed ones newest name first — with sizes, record counts,
state and damage (:func:`entrepot.archive.verify`); and
``/archives/NAME/AREA/FILE?n=20`` the last records of one file, escaped,
binary payloads shown as bytes.  Each has its JSON twin under ``/api``.
An unknown section, area or file name — a path, ``..``, a link — is 404.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from entrepot.web.archive_records import MAX_RECORDS, last_records
from entrepot.web.archives_data import archive_files, find_file, section_summary
from entrepot.web.host import DashboardHost
from entrepot.web.render import api, ascii_number, paging, render

__all__ = ["routes"]

#: Records shown when the page does not say.
DEFAULT_RECORDS = 20


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def routes(host: DashboardHost) -> list[BaseRoute]:
    def index(request: Request) -> Response:
        config = host.config
        sections = [section_summary(config, name) for name in sorted(host.archives())]
        if _wants_json(request):
            return api({"archives": sections})
        return render(request, "archives/index.html", sections=sections)

    def section(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in host.archives():
            raise HTTPException(404, "no archive of that name in the configuration")
        config = host.config
        found = archive_files(config, name, paging(request).page)
        if _wants_json(request):
            return api({
                "archive": section_summary(config, name), "page": found.page,
                "has_next": found.has_next, "unchecked": found.unchecked,
                "open": [f.as_json() for f in found.open],
                "files": [f.as_json() for f in found.files],
            })  # fmt: skip
        return render(request, "archives/section.html", summary=section_summary(config, name),
                      found=found)  # fmt: skip

    def records(request: Request) -> Response:
        name, area, file_name = (request.path_params[k] for k in ("name", "area", "file"))
        path = find_file(host.config, name, area, file_name)
        if path is None:
            raise HTTPException(404, "no such archive file")
        asked = ascii_number(request.query_params.get("n"))
        count = min(asked, MAX_RECORDS) if asked else DEFAULT_RECORDS
        shown, damage = last_records(path, count)
        if _wants_json(request):
            return api({
                "archive": name, "area": area, "name": file_name, "count": count,
                "records": [r.as_json() for r in shown],
                "damage": [d._asdict() for d in damage],
            })  # fmt: skip
        return render(request, "archives/records.html", archive=name, area=area,
                      name=file_name, count=count, records=shown, damage=damage,
                      most=MAX_RECORDS)  # fmt: skip

    return [
        Route("/archives", index, methods=["GET"]),
        Route("/api/archives", index, methods=["GET"]),
        Route("/archives/{name}", section, methods=["GET"]),
        Route("/api/archives/{name}", section, methods=["GET"]),
        Route("/archives/{name}/{area}/{file}", records, methods=["GET"]),
        Route("/api/archives/{name}/{area}/{file}", records, methods=["GET"]),
    ]
