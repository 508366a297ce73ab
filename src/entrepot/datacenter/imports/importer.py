"""One import of a CSV file into a database table, resumable step by step.

An :class:`Importer` goes through the same steps as every Entrepôt job
(:class:`~entrepot.datacenter.imports.import_job.ImportJob` runs it as one):

``prepare``
    find the file, check its header, its text and its size, and register
    the import (or pick up an interrupted run of the same file);
``produce``
    read the rows in chunks; each chunk is checked, then written and recorded
    in the bookkeeping tables in the same transaction, a few chunks to a
    transaction (see :mod:`.committer`);
``send``
    write the finished and pending row files and distribute them, with the
    source, to their folders (see :mod:`.finishing`);
``cleanup``
    release the file's lock and remove the import's work folder.

Every input row ends in exactly one place: its chunk's bookkeeping row
either lists it as failed (with its problems) or counts it as imported, and
the row files are derived from the unchanged source and those rows alone.
So when a run is killed at any point, running the same import again skips
the committed chunks, redoes the rest and rebuilds the files: no row is
imported twice and none is lost.

An import has one id: the ledger's job id when it runs as a job, a new id
of the same form otherwise.  A later job that finishes an interrupted
import takes it over under its own id (the earlier ids stay recorded).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from entrepot.datacenter.database import Database
from entrepot.datacenter.imports import arrow_reader
from entrepot.datacenter.imports.check_ahead import one_ahead, worker_for
from entrepot.datacenter.imports.chunk_writer import ChunkWriter
from entrepot.datacenter.imports.committer import Committer
from entrepot.datacenter.imports.finishing import (
    ImportResult,
    log_once,
    place_files,
    write_row_files,
)
from entrepot.datacenter.imports.header import HeaderPlan, plan_header
from entrepot.datacenter.imports.lock import ImportLock
from entrepot.datacenter.imports.options import ImportOptions
from entrepot.datacenter.imports.placement import (
    Placement,
    check_free,
    original_of_pending,
    placement_of,
)
from entrepot.datacenter.imports.record import ImportRecord, find_import, why_not_resumable
from entrepot.datacenter.imports.row_checks import RowChecker
from entrepot.datacenter.imports.source import SourceFile
from entrepot.datacenter.logfile import DataCenterLog
from entrepot.datacenter.storage import StorageTree
from entrepot.datacenter.table_schema import Schema, TableSpec
from entrepot.errors import ImportFailed
from entrepot.jobs.ids import new_job_id
from entrepot.logs import log_event
from entrepot.names import check_name

logger = logging.getLogger(__name__)

#: Called after each chunk with the rows read so far and the fraction of the file.
ProgressCallback = Callable[[int, float | None], None]


class Importer:
    """One import of a file from the data center root into one table.

    ``job_id`` is the id of the ledger job running the import, if any.
    """

    def __init__(
        self,
        tree: StorageTree,
        db: Database,
        schema: Schema,
        table: str,
        source_name: str,
        options: ImportOptions | None = None,
        *,
        on_progress: ProgressCallback | None = None,
        job_id: str | None = None,
    ) -> None:
        self.tree = tree
        self.db = db
        self.schema = schema
        self.spec: TableSpec = schema.table(table)
        self.source_name = check_name(source_name, what="import file name")
        self.options = options or ImportOptions()
        self.on_progress = on_progress
        self._ledger_id = job_id
        self._header: list[str] = []
        #: The import's id (see the module's notes); known after :meth:`prepare`.
        self.job_id = ""
        self._earlier: tuple[str, ...] = ()
        self.stage = ""
        self.resumed = False
        self.original_name = source_name
        self.from_pending = False
        self._writer: ChunkWriter | None = None
        self._file_lock: ImportLock | None = None
        self._started = time.monotonic()
        self._elapsed_before = 0.0

    @property
    def mode(self) -> str:
        return self.options.mode

    # -- paths -----------------------------------------------------------------

    @property
    def source(self) -> Path:
        return self.tree.root / self.source_name

    @property
    def _source_key(self) -> str:
        # Data centers may share one database: qualify the name by the root.
        where = f"{self.tree.root}\0{self.source_name}".encode()
        return hashlib.sha256(where).hexdigest()

    @property
    def work(self) -> Path:
        return self.tree.work / self.job_id

    @property
    def placement(self) -> Placement:
        return placement_of(
            self.tree, self.source, self.original_name, self.from_pending, self.mode
        )

    @property
    def _record(self) -> ImportRecord:
        return ImportRecord(self.db, self.job_id)

    @property
    def _file(self) -> SourceFile:
        return SourceFile(self.source, self.source_name, self.options)

    # -- the job steps -----------------------------------------------------------

    def run(self) -> ImportResult:
        """All steps in order."""
        try:
            self.prepare()
            self.produce()
            result = self.send()
        except BaseException as exc:
            self.cleanup(exc)
            raise
        self.cleanup(None)
        return result

    @property
    def backups(self) -> list[str]:
        """The backups in ``deleted/`` this import (in this process) wrote removed rows to."""
        return sorted(self._writer.backups) if self._writer is not None else []

    def prepare(self) -> None:
        """Register the import, or resume the unfinished one of this file."""
        self.tree.ensure()
        self.tree.ensure_state()
        if self._file_lock is None:
            self._file_lock = ImportLock(
                self.tree.state / "locks", self._source_key, self.source_name, self.db
            )
        self._file_lock.acquire()
        self.db.ensure_bookkeeping()
        self._writer = ChunkWriter(
            self.db,
            self.schema,
            self.spec,
            self.db.table(self.spec),
            self.options,
            self.tree.deleted,
        )
        for column in self.spec.columns.values():
            if column.references:
                self.db.table(self.schema.table(column.references.split(".")[0]))
        with self.db.engine.connect() as conn:
            found = find_import(conn, self.db, self._source_key)
        # An unfinished import goes on; a finished one whose file is gone (run
        # again after it was killed before it could report), or one that this
        # very job finished, has nothing left to do: the same end state.
        if (
            found is not None
            and (
                found["stage"] != "done"
                or not self.source.is_file()
                or self._ledger_id in (found["job_id"], *found["earlier_ids"].split())
            )
            and self._resume(found)
        ):
            return
        if not self.source.is_file():
            raise FileNotFoundError(f"no file {self.source_name!r} in the data center")
        self._check_header()
        # Read outside the transaction: SQLite's write lock waits for no file.
        digest = self._file.digest()
        original = original_of_pending(self.tree, self.source_name)
        if original is None:
            check_free(self.tree, self.source_name, self.mode)
        self.from_pending = original is not None
        self.original_name = original or self.source_name
        self.job_id = self._ledger_id or new_job_id()
        self.stage = "importing"
        with self.db.begin() as conn:
            self._record.create(
                conn,
                self.source_name,
                self._source_key,
                self.original_name,
                self.spec.name,
                digest,
                self.options,
                from_pending=self.from_pending,
            )
        self._event("import_started", table=self.spec.name, mode=self.mode)

    def _resume(self, found: Any) -> bool:
        """Go on with the unfinished import ``found``; ``False``: it was forgotten instead.

        An import that cannot go on as it began — its file changed or gone,
        other options — is forgotten when none of its chunks was committed
        (whatever stopped it), and the file is imported afresh.
        """
        now = (self.spec.name, self.mode, self.options.empty)
        began = self.options.replace(chunk_size=found["chunk_size"], encoding=found["encoding"])
        problem = why_not_resumable(found, now, SourceFile(self.source, self.source_name, began))
        if problem is not None:
            record = ImportRecord(self.db, found["job_id"])
            if not (found["stage"] == "importing" and record.forget_if_empty()):
                raise ImportFailed(problem)
            self._event("import_forgotten", reason=problem)
            return False
        self.job_id = found["job_id"]
        self._earlier = tuple(found["earlier_ids"].split())
        self.stage = found["stage"]
        # Resume exactly as the import began: the same chunks, the same text.
        self.options = self.options.replace(
            chunk_size=found["chunk_size"], encoding=found["encoding"]
        )
        self.from_pending = found["from_pending"]
        self.original_name = found["original_name"]
        self._elapsed_before = found["duration"] or 0.0
        self.resumed = True
        if self.stage == "importing":
            self._check_header()
        if self.stage != "done" and self._ledger_id not in (None, self.job_id):
            self._take_over(found["earlier_ids"])
        self._adopt_work()
        self._event("import_resumed", earlier=" ".join(self._earlier) or "-", stage=self.stage)
        return True

    def _take_over(self, earlier: str) -> None:
        """Continue the import under the id of the job running it now."""
        assert self._ledger_id is not None
        with self.db.begin() as conn:
            self._record.take_over(conn, self._ledger_id, earlier)
        self._earlier = (*self._earlier, self.job_id)
        self.job_id = self._ledger_id

    def _adopt_work(self) -> None:
        """Take the work folder of an earlier id (a take-over interrupted before the rename)."""
        for earlier in reversed(self._earlier):
            old = self.tree.work / earlier
            if old.is_dir() and not self.work.exists():
                os.replace(old, self.work)

    def _check_header(self) -> HeaderPlan:
        self._header = self._file.header()
        return plan_header(self._header, self.spec, self.options.mode, source=self.source_name)

    def produce(self) -> int:
        """Import the chunks not yet committed; return the number of data rows."""
        if self.stage != "importing":
            return int(self._record.row()["rows_total"] or 0)
        done = self._record.committed_chunks()
        plan = self._check_header()
        options = self.options
        checker = RowChecker(self.spec, plan, options)
        arrow = (
            options.reader == "arrow"
            and not options.parallel
            and arrow_reader.readable(options.encoding, self._header)
        )
        lock_fd = self._file_lock.fd if self._file_lock is not None else None
        worker = None if arrow else worker_for(self.source, self.spec, plan, options, done, lock_fd)
        source = self._file
        assert self._writer is not None
        committer = Committer(self._writer, self._record, plan, options.commit_rows, self._elapsed)
        rows_done = 0

        def read(rows: int) -> None:
            nonlocal rows_done
            rows_done += rows
            if self.on_progress is not None:
                self.on_progress(rows_done, source.fraction())

        try:
            chunks = source.chunks(checker, worker, done, arrow=arrow)
            if worker is None and (self.db.is_postgres or arrow):
                # The database driver releases the GIL while the server
                # copies a chunk or SQLite inserts its rows, and Arrow parses
                # and tests columns without it: make the next chunk, checked
                # and ready to send, meanwhile.  (The csv module would hold
                # the GIL and slow SQLite down.)
                writer = self._writer
                chunks = one_ahead(writer.prepare(item, plan) for item in chunks)
            committer.run(chunks, read)
        finally:
            if worker is not None:
                worker.close()
        return rows_done

    def _elapsed(self) -> float:
        return self._elapsed_before + (time.monotonic() - self._started)

    def send(self) -> ImportResult:
        """Write the row files and distribute them with the source."""
        self.db.checkpoint_soon()
        if self.stage == "importing":
            ok, failed = write_row_files(
                self._record, self.source, self.options.encoding, self.work
            )
            self._record.update(
                stage="distributing",
                rows_total=ok + failed,
                rows_ok=ok,
                rows_failed=failed,
                duration=self._elapsed(),
            )
            self.stage = "distributing"
        placement = self.placement
        found = self._record.row()
        duration = found["duration"] or 0.0
        if self.stage != "done":
            place_files(self.tree, placement, self._record, self.work, found)
            duration = self._elapsed()
            log_once(
                DataCenterLog(self.tree.logs),
                (self.job_id, *self._earlier),
                file=self.source_name,
                table=self.spec.name,
                mode=self.mode,
                processed=found["rows_total"],
                successful=found["rows_ok"],
                failed=found["rows_failed"],
                duration=f"{duration:.2f}s",
                user=self.options.user or found["user_name"] or "-",
            )
            self._record.update(stage="done", active_source=None, duration=duration)
            self.stage = "done"
            self._event("import_finished", ok=found["rows_ok"], failed=found["rows_failed"])
        return ImportResult.of(found, self.job_id, placement, duration, resumed=self.resumed)

    def cleanup(self, error: BaseException | None = None) -> None:
        """Remove the work folder once the import is done; keep it for a resume otherwise.

        An import that failed on its file before any chunk was committed is
        forgotten, so the file may be fixed and imported afresh; once rows
        are in, the file must stay as it was until the import is finished
        (one stopped otherwise is resumed, or forgotten: see :meth:`_resume`).
        """
        try:
            failed_early = isinstance(error, ImportFailed) and self.stage == "importing"
            if failed_early and self.job_id and self._record.forget_if_empty():
                self._event("import_forgotten", reason=error)
        finally:
            if self._file_lock is not None:
                self._file_lock.release()
        if error is not None:
            self._event("import_interrupted", logging.WARNING, error=error)
            return
        if self.job_id:
            shutil.rmtree(self.work, ignore_errors=True)

    def _event(self, name: str, level: int = logging.INFO, **fields: object) -> None:
        log_event(
            logger,
            f"datacenter.{name}",
            level,
            job=self.job_id or "-",
            file=self.source_name,
            **fields,
        )
