"""The ledger rows of one import: its job row and a row per committed chunk.

A chunk's row is written in the same transaction as the chunk's data, so
the set of chunk rows says exactly which rows are in the database, and
their recorded errors say which rows the pending file must hold.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import RowMapping, insert, select, update
from sqlalchemy.engine import Connection

from entrepot.datacenter.database import Database


class JobRecord:
    """Reads and writes the ledger rows of the import ``job_id``."""

    def __init__(self, db: Database, job_id: str) -> None:
        self.db = db
        self.job_id = job_id

    def create(self, conn: Connection, **values: Any) -> None:
        """Write the job's row, in ``conn``'s transaction."""
        conn.execute(insert(self.db.jobs).values(job_id=self.job_id, **values))

    def row(self) -> RowMapping:
        """The job's row."""
        jobs = self.db.jobs
        with self.db.engine.connect() as conn:
            return conn.execute(select(jobs).where(jobs.c.job_id == self.job_id)).one()._mapping

    def update(self, conn: Connection | None = None, /, **values: Any) -> None:
        """Set columns of the job's row, in ``conn``'s transaction or a durable one of its own."""
        jobs = self.db.jobs
        statement = update(jobs).where(jobs.c.job_id == self.job_id).values(**values)
        if conn is not None:
            conn.execute(statement)
            return
        with self.db.begin(durable=True) as own:
            own.execute(statement)

    def add_chunk(
        self, conn: Connection, number: int, ok: int, failed: int, errors: dict[int, str]
    ) -> None:
        """Record chunk ``number`` in ``conn``'s transaction, the one that wrote its rows."""
        conn.execute(
            insert(self.db.chunks).values(
                job_id=self.job_id,
                chunk_no=number,
                rows_ok=ok,
                rows_failed=failed,
                errors=json.dumps(errors),
            )
        )

    def committed_chunks(self) -> set[int]:
        chunks = self.db.chunks
        query = select(chunks.c.chunk_no).where(chunks.c.job_id == self.job_id)
        with self.db.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def chunk_committed(self, number: int) -> bool:
        chunks = self.db.chunks
        query = select(chunks.c.chunk_no).where(
            chunks.c.job_id == self.job_id, chunks.c.chunk_no == number
        )
        with self.db.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def outcome(self) -> tuple[int, int, dict[int, str]]:
        """Rows imported, rows failed, and each failed row's problems by its index."""
        chunks = self.db.chunks
        query = select(chunks.c.rows_ok, chunks.c.rows_failed, chunks.c.errors).where(
            chunks.c.job_id == self.job_id
        )
        with self.db.engine.connect() as conn:
            found = conn.execute(query).all()
        errors: dict[int, str] = {}
        for chunk in found:
            errors.update({int(index): text for index, text in json.loads(chunk.errors).items()})
        return sum(c.rows_ok for c in found), sum(c.rows_failed for c in found), errors


def job_for(conn: Connection, db: Database, source_key: str) -> RowMapping | None:
    """The unfinished import of the source ``source_key``, else its last finished one."""
    jobs = db.jobs
    active = conn.execute(select(jobs).where(jobs.c.active_source == source_key)).first()
    if active is not None:
        return active._mapping
    done = conn.execute(
        select(jobs)
        .where(jobs.c.source_key == source_key, jobs.c.stage == "done")
        .order_by(jobs.c.started.desc())
    ).first()
    return done._mapping if done is not None else None
