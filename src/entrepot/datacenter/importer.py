"""Batch imports of a CSV file into a database table, resumable step by step.

An :class:`Importer` goes through the same steps as every Entrepôt job
(:class:`entrepot.datacenter.job.ImportJob` runs it as one):

``prepare``
    find the file, check its header, register the job in the ledger (or
    pick up an interrupted run of the same file);
``produce``
    read the rows in chunks; each chunk is checked, written and recorded in
    the ledger in one database transaction;
``send``
    write the finished and pending row files and distribute them, with the
    source, to their folders (see :mod:`entrepot.datacenter.distribute`);
``cleanup``
    remove the job's work folder.

Every input row ends in exactly one place: its chunk's ledger row either
lists it as failed (with its problems) or counts it as imported, and the
row files are derived from the unchanged source and the ledger alone.  So
when a run is killed at any point, running the same import again skips the
committed chunks, redoes the rest and rebuilds the files: no row is
imported twice and none is lost.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import multiprocessing
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError

from entrepot.datacenter import columnar
from entrepot.datacenter.chunks import ChunkWriter
from entrepot.datacenter.columnar import Reader, check_reader
from entrepot.datacenter.csvfiles import (
    build_merged,
    file_digest,
    publish_merged,
)
from entrepot.datacenter.database import Database
from entrepot.datacenter.distribute import (
    Placement,
    original_of_pending,
    place,
    store_pending_rows,
    store_source,
)
from entrepot.datacenter.filelock import ImportLock
from entrepot.datacenter.log import DataCenterLog
from entrepot.datacenter.pipeline import CheckWorker, one_ahead, worth_a_worker
from entrepot.datacenter.reading import SourceFile
from entrepot.datacenter.record import JobRecord, job_for
from entrepot.datacenter.rowfiles import split_source
from entrepot.datacenter.schema import Schema, TableSpec
from entrepot.datacenter.storage import StorageTree, move_file
from entrepot.datacenter.validate import (
    CheckedChunk,
    HeaderPlan,
    RowChecker,
    check_mode,
    plan_header,
)
from entrepot.errors import ImportFailed
from entrepot.logs import log_event
from entrepot.names import check_name

logger = logging.getLogger(__name__)

#: Rows per transaction: large enough to amortise the commit, small enough
#: that an interrupted run loses little work.
DEFAULT_CHUNK_SIZE = 5000
_RETRIES = 3

ProgressCallback = Callable[[int, float | None], None]


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    job_id: str
    source: str
    table: str
    mode: str
    processed: int
    successful: int
    failed: int
    duration: float
    finished_file: Path
    pending_file: Path | None
    resumed: bool

    @property
    def all_ok(self) -> bool:
        return self.failed == 0


class Importer:
    """One import of a file from the data center root into one table."""

    def __init__(
        self,
        tree: StorageTree,
        db: Database,
        schema: Schema,
        table: str,
        source_name: str,
        mode: str = "create",
        *,
        user: str = "",
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        encoding: str = "utf-8-sig",
        on_progress: ProgressCallback | None = None,
        parallel: bool | None = None,
        reader: Reader = "arrow",
    ) -> None:
        self.tree = tree
        self.db = db
        self.schema = schema
        self.spec: TableSpec = schema.table(table)
        self.source_name = check_name(source_name, what="import file name")
        self.mode = check_mode(mode)
        self.user = user
        self.chunk_size = chunk_size
        self.encoding = encoding
        self.on_progress = on_progress
        #: Check chunks in a second process: None decides by file size.
        self.parallel = parallel
        #: Who parses the rows: Arrow where it reads them as the csv module would.
        self.reader = check_reader(reader)
        self._header: list[str] = []
        self.job_id = ""
        self.stage = ""
        self.resumed = False
        self.original_name = source_name
        self.from_pending = False
        self._writer: ChunkWriter | None = None
        self._file_lock: ImportLock | None = None
        self._started = time.monotonic()
        self._elapsed_before = 0.0

    # -- paths -----------------------------------------------------------------

    @property
    def source(self) -> Path:
        return self.tree.root / self.source_name

    @property
    def _active_key(self) -> str:
        # Data centers may share one database: qualify the name by the root.
        where = f"{self.tree.root}\0{self.source_name}".encode()
        return hashlib.sha256(where).hexdigest()

    @property
    def work(self) -> Path:
        return self.tree.work / self.job_id

    @property
    def placement(self) -> Placement:
        original = self.original_name if self.from_pending else self.source_name
        base = place(self.tree, self.tree.root / original, self.mode)
        return Placement(
            source=self.source,
            original_name=original,
            from_pending=self.from_pending,
            finished_rows=base.finished_rows,
            pending_dest=self.source if self.from_pending else base.pending_dest,
        )

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

    def prepare(self) -> None:
        """Register the job, or resume the unfinished one for this file."""
        self.tree.ensure()
        self.tree.ensure_state()
        if self._file_lock is None:
            self._file_lock = ImportLock(
                self.tree.state / "locks", self._active_key, self.source_name
            )
        self._file_lock.acquire()
        self.db.ensure_ledger()
        table = self.db.table(self.spec)
        self._writer = ChunkWriter(
            self.db, self.schema, self.spec, table, self.mode, self.tree.deleted
        )
        for column in self.spec.columns.values():
            if column.references:
                self.db.table(self.schema.table(column.references.split(".")[0]))
        with self.db.begin() as conn:
            job = job_for(conn, self.db, self._active_key)
            # An unfinished import goes on; a finished one whose file is gone
            # (run again after it was killed before it could report) has
            # nothing left to do: the same end state.
            if job is not None and (job["stage"] != "done" or not self.source.is_file()):
                self._resume(job)
                return
            if not self.source.is_file():
                raise FileNotFoundError(f"no file {self.source_name!r} in the data center")
            self._check_header()
            digest = self._file.digest()
            original = original_of_pending(self.tree, self.source_name)
            self.from_pending = original is not None
            self.original_name = original or self.source_name
            self.job_id = uuid.uuid4().hex
            self.stage = "importing"
            self._record.create(
                conn,
                source_name=self.source_name,
                active_source=self._active_key,
                source_key=self._active_key,
                original_name=self.original_name,
                table_name=self.spec.name,
                mode=self.mode,
                digest=digest,
                user_name=self.user,
                chunk_size=self.chunk_size,
                encoding=self.encoding,
                stage=self.stage,
                from_pending=self.from_pending,
                started=datetime.now(UTC).replace(tzinfo=None),
            )
        log_event(
            logger,
            "datacenter.import_started",
            job=self.job_id,
            file=self.source_name,
            table=self.spec.name,
            mode=self.mode,
        )

    def _resume(self, job: Any) -> None:
        if job["table_name"] != self.spec.name or job["mode"] != self.mode:
            raise ImportFailed(
                f"an interrupted import of {self.source_name!r} into {job['table_name']} "
                f"(mode {job['mode']}) must finish first: run it again with those options"
            )
        self.job_id = job["job_id"]
        self.stage = job["stage"]
        # Resume exactly as the job began: the same chunks, the same text.
        self.chunk_size = job["chunk_size"]
        self.encoding = job["encoding"]
        self.from_pending = job["from_pending"]
        self.original_name = job["original_name"]
        self._elapsed_before = job["duration"] or 0.0
        self.resumed = True
        if self.stage == "importing":
            if not self.source.is_file():
                raise ImportFailed(f"the interrupted import's file {self.source_name!r} is gone")
            if file_digest(self.source) != job["digest"]:
                raise ImportFailed(
                    f"{self.source_name!r} changed since its import was interrupted; "
                    "restore the file to finish that import first"
                )
            self._check_header()
        log_event(
            logger,
            "datacenter.import_resumed",
            job=self.job_id,
            file=self.source_name,
            stage=self.stage,
        )

    @property
    def _file(self) -> SourceFile:
        return SourceFile(self.source, self.source_name, self.encoding, self.chunk_size)

    def _check_header(self) -> HeaderPlan:
        self._header = self._file.header()
        return plan_header(self._header, self.spec, self.mode, source=self.source_name)

    def produce(self) -> int:
        """Import the chunks not yet committed; return the number of data rows."""
        if self.stage != "importing":
            return int(self._record.row()["rows_total"] or 0)
        done = self._record.committed_chunks()
        plan = self._check_header()
        checker = RowChecker(self.spec, plan, self.mode)
        arrow = (
            self.reader == "arrow"
            and not self.parallel
            and columnar.readable(self.encoding, self._header)
        )
        worker = None if arrow else self._worker(plan, done)
        rows_done = 0
        source = self._file
        try:
            chunks = source.chunks(checker, worker, done, arrow=arrow)
            if worker is None and (self.db.is_postgres or arrow):
                # The database driver releases the GIL while the server
                # copies a chunk or SQLite inserts its rows, and Arrow parses
                # and tests columns without it: make the next chunk meanwhile.
                # (The csv module would hold the GIL and slow SQLite down.)
                chunks = one_ahead(chunks)
            for number, size, chunk in chunks:
                if chunk is not None:
                    self._write_chunk(chunk, plan, number)
                rows_done += size
                if self.on_progress is not None:
                    self.on_progress(rows_done, source.fraction())
        finally:
            if worker is not None:
                worker.close()
        return rows_done

    def _worker(self, plan: HeaderPlan, done: set[int]) -> CheckWorker | None:
        """A process checking the chunks ahead, when one is worth it (see :mod:`.pipeline`)."""
        wanted = self.parallel if self.parallel is not None else worth_a_worker(self.source)
        if not wanted or "fork" not in multiprocessing.get_all_start_methods():
            return None
        return CheckWorker(
            self.source,
            self.encoding,
            self.spec,
            plan,
            self.mode,
            self.chunk_size,
            skip=done,
            close_fds=[fd] if (fd := self._lock_fd()) is not None else [],
        )

    def _write_chunk(self, chunk: CheckedChunk, plan: HeaderPlan, number: int) -> None:
        checked = {pos: list(problems) for pos, problems in chunk.errors.items()}
        for attempt in itertools.count(1):
            try:
                with self.db.begin() as conn:
                    assert self._writer is not None
                    ok = self._writer.write(conn, chunk, plan)
                    record = self._record
                    record.add_chunk(conn, number, ok, chunk.size - ok, chunk.error_texts())
                    record.update(conn, duration=self._elapsed())
            except (IntegrityError, OperationalError) as exc:
                # Another writer got in between our look-ups and our writes
                # (possible on PostgreSQL): forget the database's verdicts
                # and write the chunk again.
                if attempt >= _RETRIES or self._record.chunk_committed(number):
                    raise
                log_event(
                    logger,
                    "datacenter.chunk_retry",
                    logging.WARNING,
                    job=self.job_id,
                    chunk=number,
                    error=exc,
                )
                chunk.errors = {pos: list(problems) for pos, problems in checked.items()}
                continue
            log_event(
                logger,
                "datacenter.chunk_committed",
                logging.DEBUG,
                job=self.job_id,
                chunk=number,
                ok=ok,
            )
            return

    @property
    def _record(self) -> JobRecord:
        return JobRecord(self.db, self.job_id)

    def _elapsed(self) -> float:
        return self._elapsed_before + (time.monotonic() - self._started)

    # -- output files -----------------------------------------------------------

    def send(self) -> ImportResult:
        """Write the row files and distribute them with the source."""
        if self.stage == "importing":
            self._write_row_files()
        placement = self.placement
        job = self._record.row()
        successful = job["rows_failed"] == 0
        if self.stage == "done":
            return self._result(job, placement, job["duration"] or 0.0)
        finished_work = self.work / "finished.csv"
        pending_work = self.work / "pending.csv"
        self._merge_finished(placement, finished_work, job["merged_digest"])
        store_pending_rows(placement, pending_work if pending_work.exists() else None)
        store_source(self.tree, placement, successful)
        duration = self._elapsed()
        log = DataCenterLog(self.tree.logs)
        marker = f"job={self.job_id}"
        if not log.contains(marker):
            log.write(
                "import",
                file=self.source_name,
                table=self.spec.name,
                mode=self.mode,
                processed=job["rows_total"],
                successful=job["rows_ok"],
                failed=job["rows_failed"],
                duration=f"{duration:.2f}s",
                user=self.user or job["user_name"] or "-",
                job=self.job_id,
            )
        self._record.update(stage="done", active_source=None, duration=duration)
        self.stage = "done"
        log_event(
            logger,
            "datacenter.import_finished",
            job=self.job_id,
            file=self.source_name,
            ok=job["rows_ok"],
            failed=job["rows_failed"],
            duration=round(duration, 3),
        )
        return self._result(job, placement, duration)

    def _result(self, job: Any, placement: Placement, duration: float) -> ImportResult:
        return ImportResult(
            job_id=self.job_id,
            source=self.source_name,
            table=self.spec.name,
            mode=self.mode,
            processed=job["rows_total"],
            successful=job["rows_ok"],
            failed=job["rows_failed"],
            duration=duration,
            finished_file=placement.finished_rows,
            pending_file=placement.pending_dest if job["rows_failed"] else None,
            resumed=self.resumed,
        )

    def _write_row_files(self) -> None:
        """Derive the finished and pending row files from the source and the ledger."""
        ok, failed, errors = self._record.outcome()
        self.work.mkdir(parents=True, exist_ok=True)
        split_source(
            self.source,
            self.encoding,
            errors,
            self.work / "finished.csv",
            self.work / "pending.csv",
        )
        self._record.update(
            stage="distributing",
            rows_total=ok + failed,
            rows_ok=ok,
            rows_failed=failed,
            duration=self._elapsed(),
        )
        self.stage = "distributing"

    def _merge_finished(
        self, placement: Placement, finished_work: Path, merged_digest: str | None
    ) -> None:
        """Append the imported rows to the finished-rows file exactly once."""
        dest = placement.finished_rows
        if merged_digest is not None and dest.exists() and file_digest(dest) == merged_digest:
            finished_work.unlink(missing_ok=True)
            return
        if not finished_work.exists():
            return
        merged = build_merged(dest, finished_work) if dest.exists() else None
        candidate = merged or finished_work
        # Remember what the result will look like before replacing the
        # file, so a run interrupted after the rename does not append twice.
        self._record.update(merged_digest=file_digest(candidate))
        if merged is None:
            move_file(finished_work, dest)
        else:
            publish_merged(merged, dest)
            finished_work.unlink(missing_ok=True)

    def _lock_fd(self) -> int | None:
        """The descriptor of the import lock, which a checking process must not keep."""
        return self._file_lock.fd if self._file_lock is not None else None

    def cleanup(self, error: BaseException | None = None) -> None:
        """Remove the work folder once the job is done; keep it for a resume otherwise."""
        if self._file_lock is not None:
            self._file_lock.release()
        if error is not None:
            log_event(
                logger,
                "datacenter.import_interrupted",
                logging.WARNING,
                job=self.job_id or "-",
                file=self.source_name,
                error=error,
            )
            return
        if self.job_id:
            shutil.rmtree(self.work, ignore_errors=True)
