"""An import as an Entrepôt job: recorded in the ledger, retried, kept in the backlog.

:class:`ImportJob` runs an :class:`~entrepot.datacenter.imports.importer.Importer`
through the shared lifecycle, under the ledger's job id:

``prepare``  open the data center, check the file and its header, register
             the import (or take over the interrupted one of the same file);
``produce``  import the chunks not yet committed; the items are the file's
             data rows (a file without rows is finished here: nothing to send);
``send``     write the finished and pending row files and distribute them;
``cleanup``  release the file's lock and close the database.

Rows rejected into the pending file do not fail the job: the import did its
work, and :attr:`ImportJob.result` says how many rows wait.  A missing file,
a bad header or schema fail it for good (permanent); a database that cannot
be reached fails it for now (:class:`~entrepot.errors.DatabaseUnavailable`,
transient), and so does another process importing the same file
(:class:`~entrepot.errors.ImportBusy`, which defers the job).  Either way the
job waits in the backlog, and a re-run resumes the import where it stopped —
the importer never imports a row twice.

The parameters kept in the ledger never hold a password: a database URL
that carries one is refused (see :mod:`entrepot.datacenter.db_secrets`); the
job keeps the name of the environment variable or file that holds it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc

from entrepot.datacenter.center import DataCenter
from entrepot.datacenter.csvfiles import open_file
from entrepot.datacenter.db_secrets import read_password, refuse_password, with_password
from entrepot.datacenter.imports.finishing import ImportResult
from entrepot.datacenter.imports.importer import Importer, ProgressCallback
from entrepot.datacenter.imports.options import ImportOptions
from entrepot.datacenter.recording import Step, record_steps
from entrepot.db import masked_url
from entrepot.errors import DatabaseUnavailable, ImportBusy, JobFailed
from entrepot.jobs import Job, JobContext
from entrepot.names import check_name
from entrepot.provenance.events import Kind, Outcome
from entrepot.redact import mask_secrets

#: Parameters of the job that are not import options.
_PLACE = ("root", "file", "table", "schema", "database", "password_env", "password_file")


def _unreachable(exc: sa_exc.DBAPIError, sqlite: bool) -> bool:
    """Whether a database error says "not now" rather than "never"."""
    if exc.connection_invalidated:
        return True
    if sqlite:
        # A local file: only a lock held by someone else passes with time.
        text = str(exc.orig).lower()
        return "locked" in text or "busy" in text
    return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)


class ImportJob(Job):
    """Import ``file`` of the data center at ``root`` into ``table``.

    ``mode`` and any other :class:`ImportOptions` field may be given as
    keywords, or all at once as ``options``.  ``database`` is a URL without
    a password; ``password_env`` or ``password_file`` name where it is.
    ``provenance=False`` records no event of the file (``imported``…).
    """

    kind = "import"

    def __init__(
        self,
        root: str | os.PathLike[str],
        file: str,
        table: str,
        mode: str | None = None,
        *,
        options: ImportOptions | None = None,
        schema: str | os.PathLike[str] | None = None,
        database: str | None = None,
        password_env: str | None = None,
        password_file: str | os.PathLike[str] | None = None,
        on_progress: ProgressCallback | None = None,
        provenance: bool = True,
        **changes: Any,
    ) -> None:
        if mode is not None:
            changes["mode"] = mode
        self.options = (options or ImportOptions()).replace(**changes)
        # The parameters are stored in the ledger: no password in them, ever.
        refuse_password(database, "the database URL of an import job")
        self.root = Path(root).absolute()
        self.file = file
        self.table = table
        self.schema = Path(schema).absolute() if schema is not None else None
        self.database = database
        self.password_env = password_env
        self.password_file = str(Path(password_file).absolute()) if password_file else None
        self.on_progress = on_progress
        self.provenance = provenance
        self.result: ImportResult | None = None
        """What the import did, once it has finished."""
        self._center: DataCenter | None = None
        self._importer: Importer | None = None

    @property
    def mode(self) -> str:
        return self.options.mode

    @property
    def name(self) -> str:
        return f"import {self.file} → {self.table} ({self.mode})"

    def params(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "file": self.file,
            "table": self.table,
            "schema": str(self.schema) if self.schema is not None else None,
            "database": self.database,
            "password_env": self.password_env,
            "password_file": self.password_file,
            **self.options.params(),
            # Only when off: the parameters of jobs stored before it stay the same.
            **({} if self.provenance else {"provenance": False}),
        }

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ImportJob:
        return cls(
            params["root"],
            params["file"],
            params["table"],
            options=ImportOptions.from_params(params),
            provenance=params.get("provenance", True),
            **{key: params.get(key) for key in _PLACE[3:]},
        )

    def defers(self, error: BaseException) -> bool:
        # Another process imports the file: nobody's fault, the job waits.
        return isinstance(error, ImportBusy) or super().defers(error)

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """Turn "the database is not there" into a transient error, without secrets."""
        try:
            yield
        except sa_exc.DBAPIError as exc:
            sqlite = self.database is None or self.database.startswith("sqlite")
            if not _unreachable(exc, sqlite):
                raise
            where = masked_url(self.database) if self.database is not None else "SQLite"
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            reason = mask_secrets(reason)
            raise DatabaseUnavailable(f"database {where} unavailable: {reason}") from exc
        except sa_exc.TimeoutError as exc:
            raise DatabaseUnavailable("no database connection free in time") from exc

    def check(self) -> None:
        """Find the operator's mistakes before the job is recorded, so that none waits in
        the backlog: no data center at the root
        (:class:`~entrepot.errors.DataCenterNotFound`), a schema missing, wrong or
        without the table (:class:`~entrepot.errors.SchemaError`), a database password
        whose variable or file is not there (:class:`~entrepot.errors.ConfigError`), a
        name that is not one plain file name (:class:`~entrepot.errors.InvalidName`) or a
        symbolic link where the file should be (:class:`~entrepot.errors.UnsafeEntry`).

        Reads no database and no row: what they say is the run's to find (a file that
        is not there may be an import to resume).  The data center opened here is the
        one the run uses."""
        center = self._data_center()
        center.schema.table(self.table)
        source = center.root / check_name(self.file, what="import file name")
        if os.path.lexists(source):
            open_file(source).close()

    def _data_center(self) -> DataCenter:
        if self._center is None:
            url = None
            if self.database is not None:
                password = read_password(env=self.password_env, file=self.password_file)
                url = with_password(self.database, password)
            self._center = DataCenter(self.root, database=url, schema=self.schema)
        return self._center

    def _open(self, job_id: str) -> Importer:
        if self._importer is None:
            self._importer = self._data_center().importer(
                self.file,
                self.table,
                options=self.options,
                on_progress=self.on_progress,
                job_id=job_id,
            )
        return self._importer

    def prepare(self, ctx: JobContext) -> None:
        with self._translated():
            importer = self._open(ctx.job_id)
            importer.prepare()
        source = importer.source
        ctx.extra["size"] = source.stat().st_size if source.is_file() else 0

    def produce(self, ctx: JobContext) -> int:
        importer = self._open(ctx.job_id)
        with self._translated():
            rows = importer.produce()
            if rows == 0:
                # Nothing to import, but the file still goes to finished/.
                self.result = importer.send()
        return rows

    def send(self, ctx: JobContext) -> None:
        importer = self._open(ctx.job_id)
        with self._translated():
            self.result = importer.send()
        ctx.add_bytes(int(ctx.extra.get("size", 0)))
        ctx.extra["pending"] = self.result.failed
        self._record_result(ctx)

    def _record_result(self, ctx: JobContext) -> None:
        """Record the import in the file's provenance (when the run has a ledger)."""
        result = self.result
        if result is None or not self.provenance:
            return
        pending = result.pending_file.name if result.pending_file is not None else None
        details = {
            "table": result.table, "mode": result.mode, "rows": result.processed,
            "rows_ok": result.successful, "rows_failed": result.failed,
            "pending": pending, "finished": result.finished_file.name,
        }  # fmt: skip
        # A re-run after a kill finds the file gone (the import had finished): size unknown.
        size = ctx.extra.get("size") or None
        steps = [Step(Kind.IMPORTED, details, size)]
        if result.mode == "remove" and result.successful:
            backups = self._importer.backups if self._importer is not None else []
            removed = {"table": result.table, "rows": result.successful, "backups": backups}
            steps.append(Step(Kind.REMOVED, removed))
        record_steps(ctx, self.root, self.file, steps)

    def cleanup(self, ctx: JobContext, error: JobFailed | None) -> None:
        if error is not None and self.result is None and self.provenance:
            why = error.__cause__ or error
            details = {"table": self.table, "mode": self.mode, "reason": str(why),
                       "error": type(why).__name__, "code": error.code}  # fmt: skip
            failed = Step(Kind.FAILED, details, outcome=Outcome.FAILED)
            record_steps(ctx, self.root, self.file, [failed])
        importer, self._importer = self._importer, None
        center, self._center = self._center, None
        try:
            if importer is not None:
                cause = error.__cause__ if error is not None else None
                importer.cleanup(cause or error)
        finally:
            if center is not None:
                center.close()
