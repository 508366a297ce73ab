"""The database the data center imports into, through SQLAlchemy 2 Core.

SQLite is the default: one file in the data center's hidden state folder,
nothing to set up.  PostgreSQL is used when a URL names it
(``postgresql://user:pass@host/db``; psycopg 3 is the driver), and bulk
inserts then go through ``COPY``.

Besides the user's tables the database holds the data center's own
bookkeeping (:mod:`.bookkeeping`): a row per import and one per committed
chunk of rows.  A chunk's rows and its bookkeeping row are written in the
same transaction, which is what lets an interrupted import resume without
importing a row twice.
"""

from __future__ import annotations

import contextlib
import logging
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
    create_engine,
    event,
)
from sqlalchemy.engine import URL, Connection, Dialect, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.types import TypeDecorator, TypeEngine

from entrepot.datacenter.bookkeeping import bookkeeping_tables
from entrepot.datacenter.table_schema import ColumnSpec, TableSpec
from entrepot.errors import ConfigError
from entrepot.logs import log_event

logger = logging.getLogger(__name__)

#: File name of the default SQLite database inside the state folder.
DEFAULT_SQLITE_NAME = "datacenter.sqlite"


class DecimalText(TypeDecorator[Decimal]):
    """Exact decimals on SQLite, which would otherwise round them through floats."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

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
    """An engine plus the tables the data center knows about."""

    def __init__(self, url: str | URL) -> None:
        try:
            self.url = make_url(url)
        except ArgumentError as exc:
            raise ConfigError(f"not a database URL: {exc}") from None
        if self.url.drivername in {"postgresql", "postgres"}:
            self.url = self.url.set(drivername="postgresql+psycopg")
        try:
            self.engine: Engine = create_engine(self.url, future=True)
        except (NoSuchModuleError, ImportError) as exc:
            raise ConfigError(
                f"no driver for {self.url.drivername}: pip install 'entrepot[postgres]'"
            ) from exc
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.is_postgres = self.engine.dialect.name == "postgresql"
        if self.is_sqlite:
            _tune_sqlite(self.engine)
        self.metadata = MetaData()
        self.imports, self.chunks, self.backups = bookkeeping_tables(self.metadata)
        self._tables: dict[str, Table] = {}
        self._bookkeeping_ready = False

    @classmethod
    def sqlite_file(cls, path: str | Path) -> Database:
        return cls(URL.create("sqlite", database=str(path)))

    @property
    def masked_url(self) -> str:
        """The URL without its password, safe to show."""
        return self.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Database({self.masked_url!r})"

    def ensure_bookkeeping(self) -> None:
        """Create the data center's own tables (see :mod:`.bookkeeping`) if missing."""
        if not self._bookkeeping_ready:
            self.metadata.create_all(
                self.engine, tables=[self.imports, self.chunks, self.backups], checkfirst=True
            )
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
            table.create(self.engine, checkfirst=True)
        return table

    @contextlib.contextmanager
    def begin(self, *, durable: bool = False) -> Iterator[Connection]:
        """A write transaction; on SQLite it takes the write lock at once.

        SQLite commits are made durable only by ``durable=True``
        transactions: their commit syncs the write-ahead log, which makes
        every earlier commit durable too.  Callers use one as a barrier
        before anything outside the database (a file move) depends on what
        was committed; a power cut before it loses the last chunks together
        with their ledger rows, which the next run simply redoes.
        """
        with self.engine.connect() as conn:
            conn.execution_options(entrepot_write=True)
            durable = durable and self.is_sqlite
            # Straight to the driver: a PRAGMA through SQLAlchemy would open
            # a transaction, inside which the setting cannot change.
            raw: Any = conn.connection.dbapi_connection
            if durable:
                raw.execute("PRAGMA synchronous=FULL")
            try:
                with conn.begin():
                    yield conn
            finally:
                if durable:
                    raw.execute("PRAGMA synchronous=NORMAL")

    def dispose(self) -> None:
        self.engine.dispose()


#: Pages (of 4 KiB) the write-ahead log grows to before it is checked in.
WAL_CHECKPOINT_PAGES = 16384


def _tune_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and cannot take the
    # write lock up front; switch it off and emit BEGIN IMMEDIATE ourselves for
    # write transactions, so two importers never interleave their key checks
    # and inserts.  Read-only connections begin normally and never block.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint the log every 64 MiB rather than every 4 MiB: a bulk load
        # then pays a few checkpoints (two fsyncs each) instead of dozens.
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        write = connection.get_execution_options().get("entrepot_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    log_event(logger, "datacenter.database_opened", logging.DEBUG, url=engine.url)
