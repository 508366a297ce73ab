"""What an operator does on the data center pages: upload, import, export, retire.

Each action is a POST (with the session's CSRF token, checked by
:class:`~entrepot.web.guard.CsrfCheck`) that first calls
:func:`~entrepot.web.auth.require_operator`, then the same library call as
the ``entrepot dc`` command.  A form post ends in a 303 to the page to see
(the outcome shown once as a notice); the JSON twin under
``/api/datacenter/…`` answers with the outcome, or an error and a 4xx status
saying what was wrong.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from entrepot.datacenter import DataCenter
from entrepot.errors import ConfigError, SchemaError, UploadRejected
from entrepot.logs import log_event
from entrepot.provenance.events import Kind, place_of
from entrepot.web import dc_imports, dc_upload
from entrepot.web.auth import require_operator
from entrepot.web.host import DashboardHost
from entrepot.web.render import api, flash, see_other

__all__ = ["WEB_USER", "actions", "download_url", "opened"]

logger = logging.getLogger("entrepot.web")

#: The uploader's and importer's name for what is done from the dashboard.
WEB_USER = "web"
#: Filters a form may give, and the characters of each.
MAX_FILTERS = 20
MAX_FILTER = 500

Handler = Callable[[Request], Awaitable[Response]]


class Failed(Exception):
    """An action refused, with the status its JSON answer takes."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def download_url(area: str, name: str) -> str:
    return f"/datacenter/files/{quote(area, safe='')}/{quote(name, safe='')}"


@contextlib.contextmanager
def opened(host: DashboardHost) -> Iterator[DataCenter]:
    """The configured data center, closed afterwards (404 when there is none)."""
    center = host.datacenter()
    if center is None:
        raise HTTPException(404, "no data center is configured ([datacenter] section)")
    try:
        yield center
    finally:
        center.close()


def _answer(
    request: Request, back: str, outcome: dict[str, Any], notice: str, status: int = 200
) -> Response:
    if request.url.path.startswith("/api/"):
        return api(outcome, status)
    flash(request, notice)
    return see_other(back)


def _action(name: str, back: str, run: Callable[[Request], Awaitable[Response]]) -> Handler:
    """``run`` behind the operator check; a :class:`Failed` becomes a notice or a 4xx."""

    async def handler(request: Request) -> Response:
        require_operator(request)
        try:
            return await run(request)
        except Failed as exc:
            log_event(logger, "web.dc_refused", action=name, reason=str(exc))
            return _answer(request, back, {"error": str(exc)}, f"{name} refused: {exc}", exc.status)

    return handler


async def _form(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=12, max_part_size=16 * 1024)


def _filters(text: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_FILTERS or any(len(line) > MAX_FILTER for line in lines):
        raise Failed(f"give at most {MAX_FILTERS} filters of {MAX_FILTER} characters")
    return lines


def actions(host: DashboardHost) -> dict[str, Handler]:
    """The action handlers by name: ``upload``, ``import``, ``export``, ``retire``."""

    async def upload(request: Request) -> Response:
        center = host.datacenter()
        if center is None:
            raise Failed("no data center is configured", 404)
        try:
            folder = await run_in_threadpool(dc_upload.work_folder, center)
            received = await dc_upload.receive(
                request.stream(),
                content_type=request.headers.get("content-type"),
                content_length=request.headers.get("content-length"),
                folder=folder,
                limit=center.upload_policy.max_bytes,
            )
            stored = await run_in_threadpool(dc_upload.store, center, received, user=WEB_USER)
            await run_in_threadpool(_record_upload, host, center, stored)
        except dc_upload.TooLarge as exc:
            raise Failed(str(exc), 413) from None
        except (UploadRejected, dc_upload.BadForm) as exc:
            raise Failed(str(exc)) from None
        finally:
            center.close()
        log_event(logger, "web.dc_uploaded", name=stored.name, size=stored.size)
        outcome = {"stored": stored.name, "size": stored.size, "checksum": stored.checksum}
        notice = f"Uploaded {received.filename} as {stored.name}: it waits to be imported."
        return _answer(request, "/datacenter", outcome, notice, 201)

    async def start_import(request: Request) -> Response:
        form = await _form(request)
        fields = {k: str(form.get(k) or "") for k in ("file", "table", "mode", "empty")}
        job_id = await run_in_threadpool(_submit, host, fields)
        url = f"/datacenter/imports/{quote(job_id, safe='')}"
        if request.url.path.startswith("/api/"):
            return api({"job_id": job_id, "progress": "/api" + url}, 202)
        flash(request, f"Import of {fields['file']} into {fields['table']} started.")
        return see_other(url)

    async def export(request: Request) -> Response:
        form = await _form(request)
        table, where = str(form.get("table") or ""), _filters(str(form.get("where") or ""))
        with opened(host) as center:
            path, rows = await run_in_threadpool(_tables_call, center.export, table, where=where)
        name = path.rsplit("/", 1)[-1]
        log_event(logger, "web.dc_exported", table=table, rows=rows, file=name)
        outcome = {
            "table": table,
            "rows": rows,
            "file": name,
            "download": download_url("exports", name),
        }
        if request.url.path.startswith("/api/"):
            return api(outcome, 201)
        # The browser downloads the file and stays on the page it posted from.
        return see_other(download_url("exports", name))

    async def retire(request: Request) -> Response:
        form = await _form(request)
        table, where = str(form.get("table") or ""), _filters(str(form.get("where") or ""))
        dry_run = bool(form.get("dry_run"))
        if not where:
            raise Failed("retiring needs at least one filter: it never empties a whole table")
        with opened(host) as center:
            backup, rows = await run_in_threadpool(
                _tables_call, center.retire, table, where=where, dry_run=dry_run
            )
        if dry_run:
            notice = f"{rows} rows of {table} match; nothing was retired (dry run)."
        else:
            log_event(logger, "web.dc_retired", table=table, rows=rows)
            notice = f"Retired {rows} rows of {table}" + (
                f" into graduated/{backup.name}." if backup is not None else "."
            )
        outcome = {"table": table, "rows": rows, "dry_run": dry_run,
                   "backup": backup.name if backup is not None else None}  # fmt: skip
        return _answer(request, "/datacenter/tables", outcome, notice)

    return {
        "upload": _action("Upload", "/datacenter", upload),
        "import": _action("Import", "/datacenter", start_import),
        "export": _action("Export", "/datacenter/tables", export),
        "retire": _action("Retire", "/datacenter/tables", retire),
    }


def _tables_call(call: Callable[..., Any], table: str, **arguments: Any) -> Any:
    """An export or retire call, its refusals (bad table, filter, schema) as :class:`Failed`."""
    try:
        return call(table, **arguments)
    except (ConfigError, SchemaError) as exc:
        raise Failed(str(exc)) from None


def _submit(host: DashboardHost, fields: dict[str, str]) -> str:
    """Queue the import the form asks for and have the service run it now; its job id."""
    section = host.config.datacenter
    with opened(host) as center:
        if section is None:
            raise Failed("no data center is configured", 404)
        try:
            dc_imports.check_request(
                center, fields["file"], fields["table"], fields["mode"], fields["empty"] or "keep"
            )
        except (dc_imports.BadImport, SchemaError) as exc:
            raise Failed(str(exc)) from None
    job_id = dc_imports.submit_import(
        host.ledger, section, fields["file"], fields["table"], mode=fields["mode"],
        empty=fields["empty"] or "keep", user=WEB_USER,
    )  # fmt: skip
    host.run_now(job_id)
    log_event(logger, "web.dc_import_queued", job_id=job_id, file=fields["file"],
              table=fields["table"], mode=fields["mode"])  # fmt: skip
    return job_id


def _record_upload(host: DashboardHost, center: DataCenter, stored: dc_upload.Stored) -> None:
    """The upload in the file's provenance, so that its trace starts with it.

    The file is stored by then: a record that cannot be written is logged,
    not reported as a failed upload (sent again, it would be refused).
    """
    from entrepot.provenance.recorder import Recorder

    details = {"user": WEB_USER, "via": "dashboard"}
    try:
        with Recorder(host.provenance(), state_dir=host.ledger.state_dir) as recorder:
            recorder.record(Kind.UPLOADED, place_of(center.root), stored.name, size=stored.size,
                            checksum=stored.checksum, details=details)  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - the upload itself succeeded
        log_event(logger, "web.dc_upload_unrecorded", logging.WARNING, name=stored.name,
                  error=f"{type(exc).__name__}: {exc}")  # fmt: skip
