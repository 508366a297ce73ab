"""The bookkeeping rows of one import: its row in ``dc_imports`` and its committed chunks.

A chunk's row is written in the same transaction as the chunk's data, so
the set of chunk rows says exactly which rows are in the database, and
their recorded errors say which rows the pending file must hold.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import RowMapping, delete, insert, select, update
from sqlalchemy.engine import Connection

from entrepot.datacenter.database import Database
from entrepot.datacenter.imports.options import ImportOptions
from entrepot.datacenter.imports.row_checks import CheckedChunk
from entrepot.errors import ImportFailed

if TYPE_CHECKING:
    from entrepot.datacenter.imports.source import SourceFile


@dataclass(frozen=True)
class RowOutcome:
    """What the committed chunks say about the rows of the file."""

    ok: int
    failed: int
    #: Data row index → its problems, for every failed row.
    errors: dict[int, str]
    #: Data row indexes holding a cell that a spreadsheet would run as a formula.
    formula_rows: frozenset[int]


class ImportRecord:
    """Reads and writes the bookkeeping rows of the import ``import_id``."""

    def __init__(self, db: Database, import_id: str) -> None:
        self.db = db
        self.import_id = import_id

    def create(
        self,
        conn: Connection,
        source_name: str,
        source_key: str,
        original_name: str,
        table: str,
        digest: str,
        options: ImportOptions,
        *,
        from_pending: bool,
    ) -> None:
        """Write the row of a new import, in ``conn``'s transaction."""
        conn.execute(
            insert(self.db.imports).values(
                job_id=self.import_id,
                source_name=source_name,
                # Set while the import is unfinished: one such import per file.
                active_source=source_key,
                source_key=source_key,
                original_name=original_name,
                table_name=table,
                mode=options.mode,
                empty_cells=options.empty,
                digest=digest,
                user_name=options.user,
                chunk_size=options.chunk_size,
                encoding=options.encoding,
                stage="importing",
                from_pending=from_pending,
                started=datetime.now(UTC).replace(tzinfo=None),
            )
        )

    def row(self) -> RowMapping:
        """The import's row."""
        imports = self.db.imports
        with self.db.engine.connect() as conn:
            query = select(imports).where(imports.c.job_id == self.import_id)
            return conn.execute(query).one()._mapping

    def update(self, conn: Connection | None = None, /, **values: Any) -> None:
        """Set columns of the import's row, in ``conn``'s transaction or in a durable one."""
        imports = self.db.imports
        statement = update(imports).where(imports.c.job_id == self.import_id).values(**values)
        if conn is not None:
            conn.execute(statement)
            return
        with self.db.begin(durable=True) as own:
            own.execute(statement)

    def forget(self) -> None:
        """Delete the import's row (only for an import none of whose chunks was committed)."""
        imports = self.db.imports
        with self.db.begin() as conn:
            conn.execute(delete(imports).where(imports.c.job_id == self.import_id))

    def forget_if_empty(self) -> bool:
        """:meth:`forget` the import unless a chunk of it was committed; whether it was."""
        if self.committed_chunks():
            return False
        self.forget()
        return True

    def take_over(self, conn: Connection, new_id: str, earlier: str) -> ImportRecord:
        """Give the import (its row and its chunks) the id ``new_id``, in ``conn``'s transaction.

        ``earlier`` is the ``earlier_ids`` column as read; this id joins it.
        """
        imports, chunks = self.db.imports, self.db.chunks
        ids = " ".join(filter(None, [earlier, self.import_id]))
        conn.execute(
            update(imports)
            .where(imports.c.job_id == self.import_id)
            .values(job_id=new_id, earlier_ids=ids)
        )
        conn.execute(update(chunks).where(chunks.c.job_id == self.import_id).values(job_id=new_id))
        return ImportRecord(self.db, new_id)

    def add_chunks(
        self, conn: Connection, written: Sequence[tuple[int, CheckedChunk, int]]
    ) -> None:
        """Record chunks as (number, chunk, rows stored), in the transaction that wrote them."""
        if not written:
            return
        conn.execute(
            insert(self.db.chunks),
            [
                {
                    "job_id": self.import_id,
                    "chunk_no": number,
                    "rows_ok": ok,
                    "rows_failed": chunk.size - ok,
                    "errors": json.dumps(chunk.error_texts()),
                    "formula_rows": json.dumps(chunk.formula_indexes()),
                }
                for number, chunk, ok in written
            ],
        )

    def committed_chunks(self) -> set[int]:
        chunks = self.db.chunks
        query = select(chunks.c.chunk_no).where(chunks.c.job_id == self.import_id)
        with self.db.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def chunk_committed(self, number: int) -> bool:
        chunks = self.db.chunks
        query = select(chunks.c.chunk_no).where(
            chunks.c.job_id == self.import_id, chunks.c.chunk_no == number
        )
        with self.db.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def outcome(self) -> RowOutcome:
        """Rows imported, rows failed, each failed row's problems, the rows with formulas."""
        chunks = self.db.chunks
        query = select(
            chunks.c.rows_ok, chunks.c.rows_failed, chunks.c.errors, chunks.c.formula_rows
        ).where(chunks.c.job_id == self.import_id)
        with self.db.engine.connect() as conn:
            found = conn.execute(query).all()
        errors: dict[int, str] = {}
        formulas: set[int] = set()
        for chunk in found:
            errors.update({int(index): text for index, text in json.loads(chunk.errors).items()})
            formulas.update(json.loads(chunk.formula_rows))
        return RowOutcome(
            ok=sum(c.rows_ok for c in found),
            failed=sum(c.rows_failed for c in found),
            errors=errors,
            formula_rows=frozenset(formulas),
        )


def find_import(conn: Connection, db: Database, source_key: str) -> RowMapping | None:
    """The unfinished import of the source ``source_key``, else its last finished one."""
    imports = db.imports
    active = conn.execute(select(imports).where(imports.c.active_source == source_key)).first()
    if active is not None:
        return active._mapping
    done = conn.execute(
        select(imports)
        .where(imports.c.source_key == source_key, imports.c.stage == "done")
        .order_by(imports.c.started.desc())
    ).first()
    return done._mapping if done is not None else None


def why_not_resumable(found: Any, now: tuple[str, str, str], source: SourceFile) -> str | None:
    """Why the unfinished import ``found`` cannot go on, if it cannot.

    ``now`` is the table, mode and rule for empty cells of the import asked
    for; ``source`` the file, read as the import began (its encoding).
    """
    if (found["table_name"], found["mode"], found["empty_cells"]) != now:
        return (
            f"an interrupted import of {source.name!r} into {found['table_name']} "
            f"(mode {found['mode']}, empty cells {found['empty_cells']}) must finish "
            "first: run it again with those options"
        )
    if found["stage"] != "importing":
        return None
    if not source.path.is_file():
        return f"the interrupted import's file {source.name!r} is gone"
    try:
        digest = source.digest()
    except ImportFailed as exc:
        return str(exc)
    if digest != found["digest"]:
        return (
            f"{source.name!r} changed since its import was interrupted; "
            "restore the file to finish that import first"
        )
    return None
