"""An import as an Entrepôt job: recorded in the ledger, retried, kept in the backlog.

:class:`ImportJob` runs an :class:`~entrepot.datacenter.importer.Importer`
through the shared lifecycle:

``prepare``  open the data center, check the file and its header, register
             the import (or pick up the interrupted one of the same file);
``produce``  import the chunks not yet committed; the items are the file's
             data rows (a file without rows is finished here: nothing to send);
``send``     write the finished and pending row files and distribute them;
``cleanup``  release the file's lock and close the database.

Rows rejected into the pending file do not fail the job: the import did its
work, and :attr:`ImportJob.result` says how many rows wait.  A missing file,
a bad header or schema fail it for good (permanent); a database that cannot
be reached fails it for now (:class:`~entrepot.errors.DatabaseUnavailable`,
transient).  Either way the job waits in the backlog, and a re-run resumes
the import where it stopped — the importer never imports a row twice.

The parameters kept in the ledger hold the database URL without its
password: a job re-run from the backlog connects with the password libpq
finds itself (``PGPASSWORD``, ``~/.pgpass``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from entrepot.datacenter.center import DataCenter
from entrepot.datacenter.columnar import Reader, check_reader
from entrepot.datacenter.importer import (
    DEFAULT_CHUNK_SIZE,
    Importer,
    ImportResult,
    ProgressCallback,
)
from entrepot.errors import ConfigError, DatabaseUnavailable, JobFailed
from entrepot.jobs import Job, JobContext


def password_free(url: str | None) -> str | None:
    """``url`` with its password removed (not masked: nothing of it is kept)."""
    if url is None:
        return None
    try:
        return make_url(url)._replace(password=None).render_as_string(hide_password=False)
    except sa_exc.ArgumentError as exc:
        raise ConfigError(f"not a database URL: {exc}") from None


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
    """Import ``file`` of the data center at ``root`` into ``table``."""

    kind = "import"

    def __init__(
        self,
        root: str | os.PathLike[str],
        file: str,
        table: str,
        mode: str = "create",
        *,
        schema: str | os.PathLike[str] | None = None,
        database: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        encoding: str = "utf-8-sig",
        user: str = "",
        on_progress: ProgressCallback | None = None,
        reader: Reader = "arrow",
    ) -> None:
        self.root = Path(root).absolute()
        self.file = file
        self.table = table
        self.mode = mode
        self.schema = Path(schema).absolute() if schema is not None else None
        # The full URL serves this process only; params() keeps it password-free.
        self._database = database
        self.chunk_size = chunk_size
        self.encoding = encoding
        self.user = user
        self.reader = check_reader(reader)
        self.on_progress = on_progress
        self.result: ImportResult | None = None
        """What the import did, once it has finished."""
        self._center: DataCenter | None = None
        self._importer: Importer | None = None

    @property
    def name(self) -> str:
        return f"import {self.file} → {self.table} ({self.mode})"

    def params(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "file": self.file,
            "table": self.table,
            "mode": self.mode,
            "schema": str(self.schema) if self.schema is not None else None,
            "database": password_free(self._database),
            "chunk_size": self.chunk_size,
            "encoding": self.encoding,
            "user": self.user,
            "reader": self.reader,
        }

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """Turn "the database is not there" into a transient error, without secrets."""
        try:
            yield
        except sa_exc.DBAPIError as exc:
            sqlite = self._database is None or self._database.startswith("sqlite")
            if not _unreachable(exc, sqlite):
                raise
            where = password_free(self._database) or "SQLite"
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            raise DatabaseUnavailable(f"database {where} unavailable: {reason}") from exc
        except sa_exc.TimeoutError as exc:
            raise DatabaseUnavailable("no database connection free in time") from exc

    def _open(self) -> Importer:
        if self._importer is None:
            if self._center is None:
                self._center = DataCenter(self.root, database=self._database, schema=self.schema)
            self._importer = self._center.importer(
                self.file,
                self.table,
                self.mode,
                user=self.user,
                chunk_size=self.chunk_size,
                encoding=self.encoding,
                on_progress=self.on_progress,
                reader=self.reader,
            )
        return self._importer

    def prepare(self, ctx: JobContext) -> None:
        with self._translated():
            importer = self._open()
            importer.prepare()
        source = importer.source
        ctx.extra["size"] = source.stat().st_size if source.is_file() else 0

    def produce(self, ctx: JobContext) -> int:
        importer = self._open()
        with self._translated():
            rows = importer.produce()
            if rows == 0:
                # Nothing to import, but the file still goes to finished/.
                self.result = importer.send()
        return rows

    def send(self, ctx: JobContext) -> None:
        importer = self._open()
        with self._translated():
            self.result = importer.send()
        ctx.add_bytes(int(ctx.extra.get("size", 0)))
        ctx.extra["pending"] = self.result.failed

    def cleanup(self, ctx: JobContext, error: JobFailed | None) -> None:
        importer, self._importer = self._importer, None
        center, self._center = self._center, None
        try:
            if importer is not None:
                cause = error.__cause__ if error is not None else None
                importer.cleanup(cause or error)
        finally:
            if center is not None:
                center.close()
