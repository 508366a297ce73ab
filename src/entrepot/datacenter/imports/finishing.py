"""The last stage of an import: row files, their places, the log line, the result.

Once every chunk is committed, the finished and pending row files are
derived from the unchanged source and the bookkeeping rows alone (see
:mod:`.row_files`), then moved with the source to their folders (see
:mod:`.placement`).  Each step finds its work already done after an
interruption, or does it again completely: the finished-rows file records
the digest it will have before it is replaced, so it is never appended to
twice, and the log line is written once per import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from entrepot.datacenter.csvfiles import build_merged, file_digest, publish_merged
from entrepot.datacenter.imports.placement import Placement, store_pending_rows, store_source
from entrepot.datacenter.imports.record import ImportRecord
from entrepot.datacenter.imports.row_files import split_source
from entrepot.datacenter.logfile import DataCenterLog
from entrepot.datacenter.storage import StorageTree, move_file

FINISHED_WORK = "finished.csv"
PENDING_WORK = "pending.csv"


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

    @classmethod
    def of(
        cls, found: Any, job_id: str, placement: Placement, duration: float, *, resumed: bool
    ) -> ImportResult:
        """The result recorded in the import's row ``found``."""
        return cls(
            job_id=job_id,
            source=placement.source.name,
            table=found["table_name"],
            mode=found["mode"],
            processed=found["rows_total"],
            successful=found["rows_ok"],
            failed=found["rows_failed"],
            duration=duration,
            finished_file=placement.finished_rows,
            pending_file=placement.pending_dest if found["rows_failed"] else None,
            resumed=resumed,
        )

    @property
    def all_ok(self) -> bool:
        return self.failed == 0

    def as_json(self) -> dict[str, Any]:
        """The result as JSON-ready values (paths as strings)."""
        return {
            "job_id": self.job_id,
            "source": self.source,
            "table": self.table,
            "mode": self.mode,
            "processed": self.processed,
            "successful": self.successful,
            "failed": self.failed,
            "duration": round(self.duration, 3),
            "finished_file": str(self.finished_file),
            "pending_file": str(self.pending_file) if self.pending_file is not None else None,
            "resumed": self.resumed,
        }


def write_row_files(
    record: ImportRecord, source: Path, encoding: str, work: Path
) -> tuple[int, int]:
    """Write the finished and pending rows into ``work``; return (rows imported, rows failed)."""
    outcome = record.outcome()
    work.mkdir(parents=True, exist_ok=True)
    split_source(
        source,
        encoding,
        outcome.errors,
        work / FINISHED_WORK,
        work / PENDING_WORK,
        formula_rows=outcome.formula_rows,
    )
    return outcome.ok, outcome.failed


def merge_finished(
    record: ImportRecord, placement: Placement, finished_work: Path, merged_digest: str | None
) -> None:
    """Append the imported rows to the finished-rows file exactly once."""
    dest = placement.finished_rows
    if merged_digest is not None and dest.exists() and file_digest(dest) == merged_digest:
        finished_work.unlink(missing_ok=True)
        return
    if not finished_work.exists():
        return
    if not dest.exists():
        # Nothing to append to: the rename is all, and once it is done the
        # work file is gone, so a run resumed after it cannot add it twice.
        move_file(finished_work, dest)
        return
    merged = build_merged(dest, finished_work)
    # Remember what the result will look like before replacing the
    # file, so a run interrupted after the rename does not append twice.
    record.update(merged_digest=file_digest(merged))
    publish_merged(merged, dest)
    finished_work.unlink(missing_ok=True)


def place_files(
    tree: StorageTree, placement: Placement, record: ImportRecord, work: Path, found: Any
) -> None:
    """Move the row files made in ``work`` and the source to their places."""
    pending_work = work / PENDING_WORK
    merge_finished(record, placement, work / FINISHED_WORK, found["merged_digest"])
    store_pending_rows(placement, pending_work if pending_work.exists() else None)
    store_source(tree, placement, successful=found["rows_failed"] == 0)


def log_once(log: DataCenterLog, ids: tuple[str, ...], **fields: object) -> None:
    """Write the import's line unless a line with one of its ids (``ids``) is there already.

    The line carries the first of ``ids``: the import's id now.
    """
    # The id ends the line: " job=ID\n" cannot match a longer id.
    if not any(log.contains(f" job={each}\n") for each in ids):
        log.write("import", **fields, job=ids[0])
