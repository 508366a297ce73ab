"""Imports started from the pages, and how far each one is.

An import is never run in the request.  :func:`submit_import` records an
:class:`~entrepot.datacenter.ImportJob` — built from the service's
``[datacenter]`` section as its watched folder builds one — in the ledger
as a pending job due now; the service's backlog lane runs it through the
same runner as every other job (retries, backlog, provenance), and the page
only reads where it stands:

* the ledger's job (queued, running, succeeded, waiting in the backlog
  after a failure, with its error);
* the data center's bookkeeping rows of that job (``dc_imports`` and the
  committed chunks): rows imported and rejected so far, then the totals.

The import's id is the ledger's job id, so one number leads from the page
to ``entrepot backlog show`` and to the log line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from entrepot.datacenter import DataCenter
from entrepot.datacenter.imports.options import EMPTY_CELLS, MODES
from entrepot.datacenter.imports.placement import PENDING_SUFFIX, stem_of
from entrepot.errors import UnknownJob
from entrepot.jobs import JobRecord, JobState, Ledger, Outcome, Runner
from entrepot.service.building import import_job
from entrepot.service.config import DataCenterConfig
from entrepot.web.dc_listing import count_lines
from entrepot.web.dc_paths import Missing, Refused, checked_name

#: Recent imports listed on one page.
RECENT = 20


class BadImport(Exception):
    """The form names no file, table or mode the data center has (the reason says why)."""


def check_request(center: DataCenter, file: str, table: str, mode: str, empty: str) -> None:
    """Refuse, with the reason, an import of a file, table or mode that does not exist."""
    try:
        checked_name("pending", file)
    except Refused as exc:
        raise BadImport(str(exc)) from None
    if not (center.root / file).is_file() or (center.root / file).is_symlink():
        raise BadImport(f"no file {file!r} waits in the data center")
    tables = center.schema.tables
    if table not in tables:
        known = ", ".join(sorted(tables)) or "none"
        raise BadImport(f"no table {table!r} in the schema (tables: {known})")
    if mode not in MODES:
        raise BadImport(f"unknown mode {mode!r}: use {', '.join(MODES)}")
    if empty not in EMPTY_CELLS:
        raise BadImport(f"unknown rule for empty cells {empty!r}: use {', '.join(EMPTY_CELLS)}")


def submit_import(
    ledger: Ledger,
    section: DataCenterConfig,
    file: str,
    table: str,
    *,
    mode: str,
    empty: str = "keep",
    user: str = "",
) -> str:
    """Record the import of ``file`` into ``table`` as a job due now; return its id."""
    job = import_job(section, file, table, mode=mode, empty=empty, user=user)
    return Runner(ledger).submit(job).id


@dataclass(frozen=True)
class Progress:
    """Where one import stands, as the progress page shows it."""

    job_id: str
    file: str
    table: str
    mode: str
    state: str
    """``queued``, ``running``, ``waiting`` (another process imports the file),
    ``finished``, ``failed`` (waits in the backlog), ``dead`` or ``dropped``."""
    stage: str | None
    rows_ok: int
    rows_failed: int
    rows_expected: int | None
    error: str | None
    pending_file: str | None

    @property
    def done(self) -> bool:
        """Nothing more will change without an operator or a later re-run."""
        return self.state in ("finished", "failed", "dead", "dropped")

    @property
    def percent(self) -> int | None:
        rows = self.rows_ok + self.rows_failed
        if self.state == "finished":
            return 100
        if not self.rows_expected:
            return None
        return min(99, rows * 100 // self.rows_expected)

    def as_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "file": self.file,
            "table": self.table,
            "mode": self.mode,
            "state": self.state,
            "stage": self.stage,
            "rows_ok": self.rows_ok,
            "rows_failed": self.rows_failed,
            "rows_expected": self.rows_expected,
            "percent": self.percent,
            "done": self.done,
            "error": self.error,
            "pending_file": self.pending_file,
        }


_STATES = {
    JobState.PENDING: "queued",
    JobState.RUNNING: "running",
    JobState.SUCCEEDED: "finished",
    JobState.BACKLOG: "failed",
    JobState.DEAD: "dead",
    JobState.DROPPED: "dropped",
    JobState.SUPERSEDED: "dropped",
}


def _state(record: JobRecord) -> str:
    if record.state == JobState.BACKLOG:
        if record.runs == 0:
            return "queued"  # made due now by the page, not run yet
        if record.last_outcome == Outcome.DEFERRED:
            return "waiting"  # another process imports the file: it runs again soon
    return _STATES.get(record.state, str(record.state))


def import_record(ledger: Ledger, center: DataCenter, job_id: str) -> JobRecord:
    """The ledger's import job ``job_id`` of this data center; :class:`Missing` if none."""
    try:
        record = ledger.get(job_id)
    except UnknownJob:
        raise Missing(f"no import {job_id!r}") from None
    if record.kind != "import" or record.params.get("root") != str(center.root):
        raise Missing(f"no import {job_id!r} in this data center")
    return record


def progress(ledger: Ledger, center: DataCenter, job_id: str) -> Progress:
    """Where the import ``job_id`` stands (:class:`Missing` when there is no such import)."""
    record = import_record(ledger, center, job_id)
    params = record.params
    db = center.database
    db.ensure_bookkeeping()
    imports, chunks = db.imports, db.chunks
    with db.engine.connect() as conn:
        row = conn.execute(select(imports).where(imports.c.job_id == job_id)).first()
        ok, failed = conn.execute(
            select(
                func.coalesce(func.sum(chunks.c.rows_ok), 0),
                func.coalesce(func.sum(chunks.c.rows_failed), 0),
            ).where(chunks.c.job_id == job_id)
        ).one()
    found = row._mapping if row is not None else None
    stage = found["stage"] if found is not None else None
    if found is not None and found["rows_total"] is not None:
        ok, failed = found["rows_ok"], found["rows_failed"]
    state = _state(record)
    return Progress(
        job_id=job_id,
        file=str(params.get("file", "")),
        table=str(params.get("table", "")),
        mode=str(params.get("mode", "")),
        state=state,
        stage=stage,
        rows_ok=int(ok),
        rows_failed=int(failed),
        rows_expected=_expected(center, str(params.get("file", "")), record.state),
        error=record.last_error if record.state != JobState.SUCCEEDED else None,
        pending_file=_pending_file(center, found) if state == "finished" else None,
    )


def _expected(center: DataCenter, file: str, state: JobState) -> int | None:
    """The data rows the file probably holds (its lines less the header), while it runs."""
    if state not in (JobState.PENDING, JobState.RUNNING):
        return None
    try:
        checked_name("pending", file)
    except Refused:
        return None
    lines = count_lines(center.root / file)
    return max(0, lines - 1) if lines is not None else None


def _pending_file(center: DataCenter, found: Any) -> str | None:
    """The pending file the import left in the root, if it left one and it is still there."""
    if found is None or not found["rows_failed"]:
        return None
    name = found["source_name"]
    if not found["from_pending"]:
        name = f"{stem_of(found['original_name'])}.{found['mode']}{PENDING_SUFFIX}"
    return name if (center.root / name).is_file() else None


@dataclass(frozen=True)
class RecentImport:
    """One import of the data center, newest first on the imports page."""

    job_id: str
    file: str
    table: str
    mode: str
    stage: str
    started: str
    rows_ok: int | None
    rows_failed: int | None

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def recent_imports(center: DataCenter, *, limit: int = RECENT) -> list[RecentImport]:
    """The ``limit`` imports started last (from the data center's bookkeeping)."""
    db = center.database
    db.ensure_bookkeeping()
    imports = db.imports
    query = select(imports).order_by(imports.c.started.desc()).limit(limit)
    with db.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        RecentImport(
            job_id=row["job_id"],
            file=row["source_name"],
            table=row["table_name"],
            mode=row["mode"],
            stage=row["stage"],
            started=row["started"].isoformat(timespec="seconds") + "Z",
            rows_ok=row["rows_ok"],
            rows_failed=row["rows_failed"],
        )
        for row in rows
    ]


__all__ = [
    "RECENT",
    "BadImport",
    "Progress",
    "RecentImport",
    "check_request",
    "import_record",
    "progress",
    "recent_imports",
    "submit_import",
]
