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
    committed transactions (see :mod:`.backups`);
``dc_decimal_forms``
    the decimal columns of SQLite tables whose stored texts were brought to
    their one form (:func:`~entrepot.datacenter.values.decimal_text`), once.

Their schema is versioned (component ``datacenter`` of
:func:`entrepot.db.ensure_schema`): :data:`MIGRATIONS` brings a database of
any earlier release up to this one, in place.
"""

from __future__ import annotations

import sqlalchemy as sa
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
from sqlalchemy.engine import Connection

from entrepot.db import Migration

#: The data center's name in the schema version table.
SCHEMA_COMPONENT = "datacenter"

IMPORTS = "dc_imports"
COMMITTED_CHUNKS = "dc_committed_chunks"
BACKUP_FILES = "dc_backup_files"
DECIMAL_FORMS = "dc_decimal_forms"


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


def decimal_forms_table(metadata: MetaData) -> Table:
    """The decimal columns (on SQLite) whose stored texts all have their one form."""
    return Table(
        DECIMAL_FORMS,
        metadata,
        Column("table_name", Text, nullable=False),
        Column("column_name", Text, nullable=False),
        PrimaryKeyConstraint("table_name", "column_name"),
    )


def _first_version(conn: Connection) -> None:
    """Create the tables, or rename and widen those of the release before versions.

    That release named the tables ``dc_import_jobs`` and ``dc_import_chunks``
    and had no ``earlier_ids``, ``empty_cells`` or ``formula_rows``.
    """
    found = set(sa.inspect(conn).get_table_names())
    renames = (("dc_import_jobs", IMPORTS), ("dc_import_chunks", COMMITTED_CHUNKS))
    for old, new in renames:
        if old in found and new not in found:
            conn.execute(sa.text(f"ALTER TABLE {old} RENAME TO {new}"))
    added = (
        (IMPORTS, "earlier_ids", "TEXT NOT NULL DEFAULT ''"),
        (IMPORTS, "empty_cells", "VARCHAR(8) NOT NULL DEFAULT 'keep'"),
        (COMMITTED_CHUNKS, "formula_rows", "TEXT NOT NULL DEFAULT '[]'"),
    )
    inspector = sa.inspect(conn)
    present = set(inspector.get_table_names())
    for table, column, definition in added:
        if table in present and column not in {c["name"] for c in inspector.get_columns(table)}:
            conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} {definition}"))
    bookkeeping_tables(MetaData())[0].metadata.create_all(conn, checkfirst=True)


def _decimal_forms(conn: Connection) -> None:
    """Version 2: earlier releases stored ``1.0`` and ``1`` as two texts (see the table)."""
    decimal_forms_table(MetaData()).create(conn, checkfirst=True)


#: The schema of the bookkeeping tables, version by version.
MIGRATIONS = (
    Migration(1, "imports, committed chunks, backup files", _first_version),
    Migration(2, "decimal columns in their one form", _decimal_forms),
)
