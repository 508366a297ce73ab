"""The data center's own tables, next to the user's in the same database.

``dc_imports``
    one row per import: its id (the ledger's job id when it runs as a job),
    the source, table, mode and options it began with, and its stage
    (``importing`` → ``distributing`` → ``done``);
``dc_committed_chunks``
    one row per chunk of rows, written in the transaction that wrote the
    chunk's rows: the set of these rows says exactly which rows are in the
    database, and their recorded problems which rows the pending file holds;
``dc_backup_files``
    how many bytes of each ``deleted/`` and ``graduated/`` backup belong to
    committed transactions (see :mod:`.backups`).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

IMPORTS = "dc_imports"
COMMITTED_CHUNKS = "dc_committed_chunks"
BACKUP_FILES = "dc_backup_files"


def bookkeeping_tables(metadata: MetaData) -> tuple[Table, Table, Table]:
    """The three tables, defined in ``metadata``: imports, committed chunks, backup files."""
    imports = Table(
        IMPORTS,
        metadata,
        Column("job_id", String(64), primary_key=True),
        # Ids the import had before a later job took it over, space-separated.
        Column("earlier_ids", Text, nullable=False, default=""),
        Column("source_name", Text, nullable=False),
        # A hash of root and source name while the import is unfinished, NULL
        # once done: only one unfinished import per file can exist.
        Column("active_source", String(64), unique=True),
        Column("source_key", String(64), nullable=False, index=True),
        Column("original_name", Text, nullable=False),
        Column("table_name", Text, nullable=False),
        Column("mode", String(16), nullable=False),
        Column("empty_cells", String(8), nullable=False, default="keep"),
        Column("digest", String(64), nullable=False),
        Column("user_name", Text, nullable=False, default=""),
        Column("chunk_size", Integer, nullable=False),
        Column("encoding", String(32), nullable=False),
        Column("stage", String(16), nullable=False),
        Column("from_pending", Boolean, nullable=False, default=False),
        Column("rows_total", Integer),
        Column("rows_ok", Integer),
        Column("rows_failed", Integer),
        Column("merged_digest", String(64)),
        Column("started", DateTime, nullable=False),
        Column("duration", Float),
    )
    chunks = Table(
        COMMITTED_CHUNKS,
        metadata,
        Column("job_id", String(64), nullable=False),
        Column("chunk_no", Integer, nullable=False),
        Column("rows_ok", Integer, nullable=False),
        Column("rows_failed", Integer, nullable=False),
        # JSON object: data row index → "field: message; field: message"
        Column("errors", Text, nullable=False),
        # JSON list: data row indexes whose cells a spreadsheet would run
        Column("formula_rows", Text, nullable=False, default="[]"),
        PrimaryKeyConstraint("job_id", "chunk_no"),
    )
    backups = Table(
        BACKUP_FILES,
        metadata,
        Column("path", Text, primary_key=True),
        # Bytes of the backup file that belong to committed transactions.
        Column("length", BigInteger, nullable=False),
    )
    return imports, chunks, backups
