"""The database the data center imports into, through SQLAlchemy 2 Core.

SQLite is the default: one file in the data center's hidden state folder,
nothing to set up.  PostgreSQL is used when a URL names it
(``postgresql://user@host/db``; psycopg 3 is the driver), and bulk inserts
then go through ``COPY``.  URLs are read, engines made and SQLite tuned (for
the ``data`` purpose) by :mod:`entrepot.db`.

Besides the user's tables the database holds the data center's own
bookkeeping (:mod:`.bookkeeping`): a row per import and one per committed
chunk of rows.  A chunk's rows and its bookkeeping row are written in the
same transaction, which is what lets an interrupted import resume without
importing a row twice.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    event,
    insert,
    select,
)
from sqlalchemy.engine import URL, Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator, TypeEngine

from entrepot.datacenter import sqlite_decimals
from entrepot.datacenter.bookkeeping import (
    MIGRATIONS,
    SCHEMA_COMPONENT,
    bookkeeping_tables,
    decimal_forms_table,
)
from entrepot.datacenter.table_schema import ColumnSpec, TableSpec
from entrepot.datacenter.values import decimal_text
from entrepot.db import database_url, ensure_schema, make_engine, masked_url, write_transaction
from entrepot.logs import log_event

logger = logging.getLogger(__name__)

#: File name of the default SQLite database inside the state folder.
DEFAULT_SQLITE_NAME = "datacenter.sqlite"


class DecimalText(TypeDecorator[Decimal]):
    """Exact decimals on SQLite, which would otherwise round them through floats.

    Stored as text in one form (see :mod:`.sqlite_decimals`).
    """

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else decimal_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


def _sql_type(spec: ColumnSpec) -> TypeEngine[Any]:
    kind = spec.type
    if kind == "integer":
        return BigInteger()
    if kind == "decimal":
        return Numeric(asdecimal=True).with_variant(DecimalText(), "sqlite")
    if kind == "boolean":
        return Boolean()
    if kind == "date":
        return Date()
    if kind == "datetime":
        return DateTime()
    return Text()


class Database:
    """An engine (see :func:`entrepot.db.make_engine`) plus the tables the data center knows."""

    def __init__(self, url: str | URL) -> None:
        self.url = database_url(url)
        self.engine: Engine = make_engine(self.url, purpose="data")
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self.metadata = MetaData()
        self.imports, self.chunks, self.backups = bookkeeping_tables(self.metadata)
        self.decimal_forms = decimal_forms_table(self.metadata)
        if self.is_sqlite:
            event.listen(self.engine, "connect", sqlite_decimals.register)
        self._tables: dict[str, Table] = {}
        self._in_form: set[str] = set()
        self._bookkeeping_ready = False
        self._checkpoint: threading.Thread | None = None
        log_event(logger, "datacenter.database_opened", logging.DEBUG, url=self.masked_url)

    @classmethod
    def sqlite_file(cls, path: str | Path) -> Database:
        return cls(URL.create("sqlite", database=str(path)))

    @property
    def masked_url(self) -> str:
        """The URL without its password, safe to show."""
        return masked_url(self.url)

    def __repr__(self) -> str:
        return f"Database({self.masked_url!r})"

    def ensure_bookkeeping(self) -> None:
        """Bring the data center's own tables (:mod:`.bookkeeping`) to this release's schema."""
        if not self._bookkeeping_ready:
            ensure_schema(self.engine, SCHEMA_COMPONENT, MIGRATIONS)
            self._bookkeeping_ready = True

    def table(self, spec: TableSpec, *, create: bool = True) -> Table:
        """The SQLAlchemy table for ``spec``, created in the database if missing."""
        table = self._tables.get(spec.name)
        if table is None:
            columns = [
                Column(
                    name,
                    _sql_type(column),
                    nullable=name not in spec.key,
                )
                for name, column in spec.columns.items()
            ]
            table = Table(spec.name, self.metadata, *columns, PrimaryKeyConstraint(*spec.key))
            self._tables[spec.name] = table
        if create:
            self.ensure_bookkeeping()
            _create(self.engine, table)
            self._bring_decimals_to_form(spec, table)
        return table

    def _bring_decimals_to_form(self, spec: TableSpec, table: Table) -> None:
        """SQLite: rewrite decimals an earlier release stored as given, once per column."""
        columns = [name for name, column in spec.columns.items() if column.type == "decimal"]
        if not self.is_sqlite or not columns or spec.name in self._in_form:
            return
        forms = self.decimal_forms
        query = select(forms.c.column_name).where(forms.c.table_name == spec.name)
        with self.engine.connect() as conn:
            done = set(conn.execute(query).scalars())
        if not done.issuperset(columns):
            with self.begin() as conn:
                # Under the write lock: another process may have done it meanwhile.
                done = set(conn.execute(query).scalars())
                for name in columns:
                    if name not in done:
                        sqlite_decimals.bring_to_form(conn, table, name)
                        conn.execute(insert(forms).values(table_name=spec.name, column_name=name))
        self._in_form.add(spec.name)

    @contextlib.contextmanager
    def begin(self, *, durable: bool = False) -> Iterator[Connection]:
        """A write transaction; on SQLite it takes the write lock at once.

        SQLite commits are made durable only by ``durable=True``
        transactions: their commit syncs the write-ahead log, which makes
        every earlier commit durable too.  Callers use one as a barrier
        before anything outside the database (a file move) depends on what
        was committed; a power cut before it loses the last chunks together
        with their bookkeeping rows, which the next run simply redoes.
        """
        with write_transaction(self.engine, durable=True if durable else None) as conn:
            yield conn

    def checkpoint_soon(self) -> threading.Thread | None:
        """SQLite: copy the write-ahead log into the database file now, in a thread.

        SQLite does it anyway when the last connection closes; started as
        soon as the rows are in, it runs while the caller writes its files
        (it holds no lock that a writer waits for), and the close that ends
        the import finds little left to copy.  Durability does not depend on
        it: the log holds every commit, and the barrier before files move
        syncs it.  Returns the thread doing it (``None``: nothing to do, or
        one is at it already); :meth:`dispose` waits for it.
        """
        path = self.url.database
        running = self._checkpoint is not None and self._checkpoint.is_alive()
        if not self.is_sqlite or not path or path == ":memory:" or running:
            return None
        self._checkpoint = threading.Thread(
            target=_checkpoint, args=(path,), name="entrepot-checkpoint", daemon=True
        )
        self._checkpoint.start()
        return self._checkpoint

    def dispose(self) -> None:
        checkpoint, self._checkpoint = self._checkpoint, None
        if checkpoint is not None:
            checkpoint.join()
        self.engine.dispose()


def _checkpoint(path: str) -> None:
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.Error as exc:
        # Only an early start of work that the close does anyway.
        log_event(logger, "datacenter.checkpoint_skipped", logging.DEBUG, error=exc)


def _create(engine: Engine, table: Table) -> None:
    """Create ``table`` unless it exists, also when another process creates it now."""
    for attempt in range(3):
        try:
            with write_transaction(engine) as conn:
                table.create(conn, checkfirst=True)
            return
        except DBAPIError:
            # PostgreSQL: the other process committed its CREATE between our
            # look and ours; the table is there now.  Anything else shows again.
            if attempt == 2:
                raise
