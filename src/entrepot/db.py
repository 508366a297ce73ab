"""Databases: one way to name, open, tune and upgrade them.

The jobs ledger and the data center both keep their state in SQLite by
default and in PostgreSQL when a URL names it.  This module is the one place
that decides how:

* :func:`database_url` reads a URL (``postgresql://`` and ``postgres://`` get
  the psycopg 3 driver; a password holding an unencoded ``@`` is read up to
  the last ``@``; a relative SQLite path becomes absolute, so a stored job
  finds its database from any folder).
* :func:`sqlite_url` is the one way a file's path becomes a SQLite URL: the
  path as it is, whatever it holds (a ``%``, ``?`` or ``#`` is part of the
  name, never read as an escape, a query or a fragment).
* :func:`masked_url` is the only form a URL is ever shown in.
* :func:`make_engine` tunes SQLite for the engine's purpose (below) and gives
  every write transaction the write lock at once; a PostgreSQL connection
  gives up after :data:`PG_CONNECT_ARGS`' bounds instead of hanging on a
  server that accepts connections but never answers.
* :func:`ensure_schema` brings a component's tables to the version this
  release knows, through ordered migrations recorded in ``entrepot_schema``.
* :data:`MAX_VALUES` is how many values one statement may bind everywhere
  (the oldest SQLite builds' 999); :func:`groups` cuts a list to fit.

SQLite settings, by purpose:

============  =====================  =========================================
purpose       ``synchronous``        why
============  =====================  =========================================
``ledger``    ``FULL``               A job's failure or success, once recorded,
                                     must survive a power cut: the backlog is
                                     rebuilt from it.  Rows are few and small.
``data``      ``NORMAL`` (+ barrier) Imports write millions of rows; a power
                                     cut may lose the last chunks *with their
                                     ledger rows*, which the next run redoes.
                                     Before anything outside the database
                                     depends on a commit (a file moved), the
                                     caller commits with ``FULL`` once.
============  =====================  =========================================

Both use the write-ahead log (readers never block the writer), a 30 s busy
timeout, foreign keys, and ``BEGIN IMMEDIATE`` for write transactions: a
deferred transaction that reads, then writes after another process committed,
fails at once with "database is locked" instead of waiting its turn.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from entrepot.errors import BackendUnavailable, ConfigError, DatabaseUnavailable
from entrepot.logs import log_event
from entrepot.redact import mask_secrets

__all__ = [
    "LIST_VALUES",
    "MAX_VALUES",
    "Migration",
    "Purpose",
    "database_url",
    "ensure_schema",
    "groups",
    "make_engine",
    "masked_url",
    "schema_version",
    "sqlite_url",
    "write_transaction",
]

logger = logging.getLogger(__name__)

#: Values one statement may bind on every database this release speaks: SQLite builds
#: before 3.32 (Ubuntu 20.04's, RHEL 8's) refuse more than 999, PostgreSQL 65,535.
MAX_VALUES = 999
#: Values of one list in a statement (``IN (…)``), leaving room for its other values.
LIST_VALUES = 900

_T = TypeVar("_T")


def groups(values: Sequence[_T], size: int = LIST_VALUES) -> Iterator[Sequence[_T]]:
    """``values`` in order, ``size`` at a time: lists short enough to bind in one statement."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


Purpose = Literal["ledger", "data"]

#: Pages (of 4 KiB) a data database's write-ahead log grows to before it is
#: checked in: every 64 MiB rather than SQLite's 4 MiB, so a bulk load pays a
#: few checkpoints (two fsyncs each) instead of dozens.
DATA_WAL_CHECKPOINT_PAGES = 16384

#: KiB of pages a connection keeps (SQLite's default: 2 MiB).  A run's provenance
#: commit touches a page of the index on names per file once the ledger is
#: large (1,200 pages for 2,000 files): beyond the cache, SQLite writes the
#: changed pages to the log before the commit, then reads them back —
#: 1,100 writes and 1,100 reads more per such commit, the same bytes.
CACHE_KIB = 16384

#: libpq's connection settings, unless the URL sets them: a server that accepts the
#: connection but never answers is given up after 10 s (rather than never), and one that
#: vanishes mid-session (a dead host, a dropped route) is noticed by TCP keepalives
#: within about a minute, as is data it never acknowledges (``tcp_user_timeout``, ms).
PG_CONNECT_ARGS: dict[str, int] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60000,
}

_SYNCHRONOUS = {"ledger": "FULL", "data": "NORMAL"}
_POSTGRES_DRIVERS = {"postgresql", "postgres"}
# scheme://user:pass@word@host/db — userinfo up to the LAST "@".
_MANY_AT = re.compile(r"^(?P<scheme>[\w+.\-]+)://(?P<user>[^:@/]*):(?P<pw>.*)@(?P<rest>[^@]*)$")


def _parse(text: str) -> URL:
    match = _MANY_AT.match(text)
    if match and "@" in match["pw"]:
        user, password = quote(match["user"], safe=""), quote(match["pw"], safe="")
        text = f"{match['scheme']}://{user}:{password}@{match['rest']}"
    try:
        return sa.make_url(text)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise ConfigError(f"not a database URL: {mask_secrets(str(exc))}") from None


def database_url(url: str | URL) -> URL:
    """``url`` parsed and completed: driver chosen, SQLite path made absolute."""
    parsed = url if isinstance(url, URL) else _parse(str(url))
    if parsed.drivername in _POSTGRES_DRIVERS:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            parsed = parsed.set(database=str(Path(database).expanduser().absolute()))
    return parsed


def sqlite_url(path: str | os.PathLike[str]) -> URL:
    """The URL of the SQLite file at ``path``, its name taken as it is (never unescaped)."""
    return URL.create("sqlite", database=os.fspath(path))


def masked_url(url: str | URL) -> str:
    """``url`` as it may be shown: passwords masked, in the userinfo or the query."""
    try:
        text = database_url(url).render_as_string(hide_password=True)
    except ConfigError:
        text = str(url)
    return mask_secrets(text)


def make_engine(url: str | URL, *, purpose: Purpose) -> Engine:
    """An engine for ``url``, tuned for ``purpose`` (``"ledger"`` or ``"data"``)."""
    parsed = database_url(url)
    options: dict[str, Any] = {}
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        options["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        options["pool_pre_ping"] = True
        if parsed.get_backend_name() == "postgresql":
            given = set(parsed.query)
            options["connect_args"] = {
                key: value for key, value in PG_CONNECT_ARGS.items() if key not in given
            }
    try:
        engine = sa.create_engine(parsed, **options)
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        extra = "postgres" if parsed.get_backend_name() == "postgresql" else None
        fix = f": pip install 'entrepot[{extra}]'" if extra else ""
        raise BackendUnavailable(f"no database driver for {parsed.drivername}{fix}") from exc
    if sqlite:
        _tune_sqlite(engine, purpose)
    return engine


def _tune_sqlite(engine: Engine, purpose: Purpose) -> None:
    # pysqlite's own transaction handling defers BEGIN and cannot take the
    # write lock up front; switch it off and emit BEGIN ourselves.
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA busy_timeout = 30000")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute(f"PRAGMA synchronous = {_SYNCHRONOUS[purpose]}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            if purpose == "data":
                cursor.execute(f"PRAGMA wal_autocheckpoint = {DATA_WAL_CHECKPOINT_PAGES}")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        write = connection.get_execution_options().get("entrepot_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextlib.contextmanager
def write_transaction(engine: Engine, *, durable: bool | None = None) -> Iterator[Connection]:
    """A transaction that may write; on SQLite it holds the write lock from the start.

    ``durable``: whether its commit waits for the disk — None: as the
    engine's purpose says (see the module); True: it does, and makes every
    earlier commit durable with it (SQLite ``synchronous=FULL``; PostgreSQL
    as its server is set up); False: it does not (SQLite ``NORMAL``,
    PostgreSQL ``synchronous_commit`` off), and a crash of the machine may
    lose it until a later durable commit.
    """
    with engine.connect() as conn:
        conn.execution_options(entrepot_write=True)
        sqlite = durable is not None and conn.dialect.name == "sqlite"
        if sqlite:
            # Straight to the driver: a PRAGMA through SQLAlchemy would open a
            # transaction, inside which the setting cannot change.
            raw: Any = conn.connection.dbapi_connection
            before = raw.execute("PRAGMA synchronous").fetchone()[0]
            raw.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        try:
            with conn.begin():
                if durable is False and conn.dialect.name == "postgresql":
                    conn.exec_driver_sql("SET LOCAL synchronous_commit TO off")
                yield conn
        finally:
            if sqlite:
                raw.execute(f"PRAGMA synchronous = {int(before)}")


# -- schema versions -------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    """One step of a component's schema: version ``version`` is reached by ``apply``.

    Migrations run in version order, each in the same transaction as the
    version it records, and must be written so that running one on a
    database that already has its change (made by a release that predates
    versioning) does no harm — ``create_all(checkfirst=True)``, ``ADD COLUMN``
    guarded by an inspection.
    """

    version: int
    description: str
    apply: Callable[[Connection], None]


_schema_metadata = sa.MetaData()
schema_table = sa.Table(
    "entrepot_schema",
    _schema_metadata,
    sa.Column("component", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)


def schema_version(engine: Engine, component: str) -> int:
    """The schema version ``component`` has in this database (0: none yet)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(schema_table.name):
            return 0
        row = conn.execute(
            sa.select(schema_table.c.version).where(schema_table.c.component == component)
        ).first()
    return int(row[0]) if row else 0


def ensure_schema(engine: Engine, component: str, migrations: Sequence[Migration]) -> int:
    """Bring ``component``'s tables to the last of ``migrations``; return that version.

    Safe when several processes open a new database at once: the version
    table is created idempotently and the migrations run under the write
    lock (SQLite) or a transaction-scoped advisory lock (PostgreSQL), so one
    process migrates and the others find the work done.  A database newer
    than this release is refused rather than written to.
    """
    versions = [step.version for step in migrations]
    if versions != sorted(set(versions)) or (versions and versions[0] < 1):
        raise ValueError(f"migrations of {component} must have increasing versions from 1")
    latest = versions[-1] if versions else 0
    try:
        if _is_current(engine, component, latest):
            # Nothing to create or upgrade: no write lock is taken, so a command that
            # only reads is never held up by a writer (WAL readers are not blocked).
            return latest
        _create_version_table(engine)
        with write_transaction(engine) as conn:
            if conn.dialect.name == "postgresql":
                lock = zlib.crc32(f"entrepot_schema:{component}".encode()) & 0x7FFFFFFF
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})
            current = conn.execute(
                sa.select(schema_table.c.version).where(schema_table.c.component == component)
            ).scalar()
            current = int(current or 0)
            if current > latest:
                raise ConfigError(
                    f"the {component} tables of {masked_url(engine.url)} are at schema version"
                    f" {current}, newer than this release of Entrepôt knows ({latest}): upgrade"
                )
            for step in migrations:
                if step.version > current:
                    step.apply(conn)
                    log_event(
                        logger,
                        "db.migrated",
                        component=component,
                        version=step.version,
                        step=step.description,
                    )
            if latest > current:
                values = {"version": latest, "updated_at": time.time()}
                if current:
                    conn.execute(
                        schema_table.update()
                        .where(schema_table.c.component == component)
                        .values(**values)
                    )
                else:
                    conn.execute(schema_table.insert().values(component=component, **values))
    except sa.exc.OperationalError as exc:
        raise DatabaseUnavailable(
            f"cannot reach the database {masked_url(engine.url)}: {_reason(exc)}{_busy_hint(exc)}"
        ) from exc
    return latest


def _is_current(engine: Engine, component: str, latest: int) -> bool:
    """Whether ``component`` is already at ``latest``: read only, no lock taken."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(schema_table.name):
            return False
        found = conn.execute(
            sa.select(schema_table.c.version).where(schema_table.c.component == component)
        ).scalar()
    return found is not None and int(found) == latest


def _create_version_table(engine: Engine) -> None:
    # Two processes may create it at once; the loser finds it on a retry.
    for attempt in range(5):
        try:
            with write_transaction(engine) as conn:
                _schema_metadata.create_all(conn, checkfirst=True)
            return
        except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
            # "already exists" (or a duplicate catalog key on PostgreSQL) when another
            # process won the race.  Anything else ("database is locked" after the
            # busy timeout, a server gone) is no race: retrying would only wait again.
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))


def _busy_hint(exc: sa.exc.DBAPIError) -> str:
    """What to do when another process held a SQLite database's write lock too long."""
    if "locked" not in str(exc.orig) and "busy" not in str(exc.orig):
        return ""
    return " (another process held its write lock for 30 s): try again later"


def _reason(exc: sa.exc.DBAPIError) -> str:
    """The driver's first line, secrets masked."""
    text = str(exc.orig).strip().splitlines()
    return mask_secrets(text[0] if text else type(exc.orig).__name__)
