"""Read-only summaries of the ledger, for commands that only look.

``entrepot status`` shows how many jobs are in each state and which ones
need attention; ``entrepot ship`` with nothing waiting only asks whether its
route has a job waiting to be settled.  Those questions are answered here,
once, as plain SQL run by either reader:

* :func:`sqlite_reader` reads the state folder's SQLite ledger with the
  standard library's :mod:`sqlite3` — read-only, and without SQLAlchemy,
  whose import alone takes longer than the rest of such a command;
* :meth:`Ledger.rows <entrepot.jobs.ledger.Ledger.rows>` runs the same SQL
  through SQLAlchemy, on any database (PostgreSQL included), and
  :meth:`Ledger.counts <entrepot.jobs.ledger.Ledger.counts>` is
  :func:`state_counts` on it.

A ledger the SQLite reader cannot read as it is — missing, or at a schema
version other than :data:`SCHEMA_VERSION` (an upgrade is due) — gives no
reader: the caller opens the full :class:`~entrepot.jobs.ledger.Ledger`,
which creates or upgrades it.  A file that is no ledger of Entrepôt's is
refused, never made into one (:func:`check_ledger_file`): a damaged file, or
a SQLite database holding other tables but none of the ledger's.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from entrepot.errors import ConfigError, DatabaseUnavailable
from entrepot.jobs.states import OPEN, JobState, Outcome

if TYPE_CHECKING:
    from entrepot.jobs.records import JobRecord

__all__ = [
    "LEDGER_FILE",
    "SCHEMA_VERSION",
    "Rows",
    "check_ledger_file",
    "has_open_job",
    "jobs_in",
    "ledger_file",
    "orphaned",
    "sqlite_reader",
    "state_counts",
    "stored_time",
]

#: File name of the default SQLite ledger inside the state folder.
LEDGER_FILE = "ledger.sqlite3"
#: The ledger's schema version this release reads (its last migration).
SCHEMA_VERSION = 6
#: Tables that only Entrepôt makes: one of them marks a database as a ledger, also one
#: written by a release that predates schema versions (it had the jobs table already).
_OWN_TABLES = ("entrepot_schema", "entrepot_jobs")

# The queries are formatted with the names below and ``:name`` placeholders
# only (hence the S608 exemptions): every value is a bound parameter.
_JOBS = "entrepot_jobs"
_RUNS = "entrepot_job_runs"
_JOB_COLUMNS = (
    "id, kind, name, params, state, created_at, updated_at, runs, failures, next_due, "
    "last_outcome, last_step, last_code, last_error, reason, items, bytes, identity, "
    "scope, instance, lease_until"
)


class Rows(Protocol):
    """Runs one SELECT with ``:name`` parameters and returns its rows."""

    def __call__(self, sql: str, params: Mapping[str, Any], /) -> Sequence[Sequence[Any]]: ...


def _in(states: Sequence[JobState | str]) -> tuple[str, dict[str, str]]:
    """``IN (:s0, :s1…)`` and its parameters (both readers take named parameters)."""
    params = {f"s{i}": str(JobState(state)) for i, state in enumerate(states)}
    return "(" + ", ".join(f":{key}" for key in params) + ")", params


def state_counts(rows: Rows, states: Sequence[JobState] | None = None) -> dict[JobState, int]:
    """How many jobs are in each state (every state, zero included), or only in ``states``
    (an index range: the finished jobs, nearly all of them, are not counted one by one)."""
    sql = f"SELECT state, count(*) FROM {_JOBS}"  # noqa: S608
    params: dict[str, str] = {}
    if states is not None:
        within, params = _in(states)
        sql += f" WHERE state IN {within}"
    found = {JobState(state): int(count) for state, count in rows(sql + " GROUP BY state", params)}
    return {state: found.get(state, 0) for state in states or JobState}


def orphaned(rows: Rows) -> list[str]:
    """The jobs marked running whose run's process, on this host, is gone (a ``kill -9``, a
    crash, a stop past its grace): the ledger says running, nothing runs them.  Read
    only: ``entrepot jobs ls`` (any command that opens the ledger to write) puts them
    back (:meth:`~entrepot.jobs.runlog.RunLog.recover_interrupted`)."""
    import socket

    from entrepot.processes import process_gone

    sql = (
        f"SELECT r.job_id, r.pid FROM {_JOBS} j JOIN {_RUNS} r ON r.job_id = j.id "  # noqa: S608
        "WHERE j.state = :running AND r.outcome = :running AND r.host = :host"
    )
    found = rows(sql, {"running": str(JobState.RUNNING), "host": socket.gethostname()})
    return [job_id for job_id, pid in found if pid != os.getpid() and process_gone(int(pid))]


def jobs_in(rows: Rows, states: Sequence[JobState | str], *, limit: int) -> list[JobRecord]:
    """The newest ``limit`` jobs in ``states``, newest first."""
    within, params = _in(states)
    sql = f"SELECT {_JOB_COLUMNS} FROM {_JOBS} WHERE state IN {within}"  # noqa: S608
    sql += " ORDER BY id DESC LIMIT :limit"
    found = rows(sql, {**params, "limit": limit})
    if not found:  # the usual answer: spare the imports below
        return []
    import json

    from entrepot.jobs.records import JobRecord

    return [_job(JobRecord, json.loads, row) for row in found]


def has_open_job(rows: Rows, identity: str) -> bool:
    """Whether a job of ``identity`` waits for a run or an operator (:data:`OPEN`)."""
    within, params = _in(OPEN)
    sql = f"SELECT 1 FROM {_JOBS} WHERE identity = :identity AND state IN {within}"  # noqa: S608
    return bool(rows(sql + " LIMIT 1", {**params, "identity": identity}))


def ledger_file(state_dir: str | os.PathLike[str]) -> Path:
    """The SQLite ledger file of ``state_dir``."""
    return Path(state_dir).expanduser().absolute() / LEDGER_FILE


@contextmanager
def sqlite_reader(state_dir: str | os.PathLike[str]) -> Iterator[Rows | None]:
    """A read-only reader of ``state_dir``'s SQLite ledger; ``None`` when it cannot be read
    as it is (no ledger yet, or one at another schema version).

    A file that is not a ledger raises :class:`~entrepot.errors.ConfigError` (see
    :func:`check_ledger_file`); one locked by a writer past the busy timeout,
    :class:`~entrepot.errors.DatabaseUnavailable`.
    """
    path = ledger_file(state_dir)
    if not path.is_file():
        yield None
        return
    with _read_only(path) as rows:
        tables = _ledger_tables(rows, path)
        version: Sequence[Sequence[Any]] = []
        if "entrepot_schema" in tables:  # else: made before schema versions, or empty
            sql = "SELECT version FROM entrepot_schema WHERE component = :component"
            version = rows(sql, {"component": "ledger"})
        yield rows if [tuple(row) for row in version] == [(SCHEMA_VERSION,)] else None


def check_ledger_file(path: Path) -> None:
    """Refuse the SQLite file at ``path`` unless it is a ledger (or an empty database):
    a damaged file or another program's database is told (exit 3), never given
    Entrepôt's tables by a command that only meant to read."""
    with _read_only(path) as rows:
        _ledger_tables(rows, path)


@contextmanager
def _read_only(path: Path) -> Iterator[Rows]:
    """Rows of the SQLite file ``path``, opened read-only; the errors of the file that
    reach the end of the ``with`` (a damaged file, a lock) are told as Entrepôt's."""
    # Read-only: never creates the file, never writes (not even a checkpoint on close).
    # The path's bytes, %-escaped: a "?" or "#" in a folder's name is part of it.
    uri = f"file:{quote(os.fsencode(path))}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=30.0)) as conn:

        def rows(sql: str, params: Mapping[str, Any], /) -> list[tuple[Any, ...]]:
            return conn.execute(sql, dict(params)).fetchall()

        try:
            yield rows
        except sqlite3.DatabaseError as exc:
            raise _ledger_error(path, exc) from exc


def _ledger_error(path: Path, exc: sqlite3.DatabaseError) -> Exception:
    reason = str(exc) or type(exc).__name__
    if "locked" in reason or "busy" in reason:
        return DatabaseUnavailable(
            f"cannot read the ledger {path}: {reason} (another process held it for 30 s): "
            "try again later"
        )
    return ConfigError(f"cannot open the ledger {path}: {reason}")


def _ledger_tables(rows: Rows, path: Path) -> set[str]:
    """The tables of a ledger (none: an empty database, a ledger whose making was cut
    short); ConfigError for a database holding tables but none of a ledger's."""
    names = {row[0] for row in rows("SELECT name FROM sqlite_master WHERE type = 'table'", {})}
    if names and not names & set(_OWN_TABLES):
        raise ConfigError(
            f"{path} is not a ledger of Entrepôt's: a SQLite database without its tables "
            "(left as it is; name the right state folder, or move that file away)"
        )
    return names


def stored_time(value: Any) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite keeps text, PostgreSQL a timestamp).

    A naive value is UTC, as the ledger writes it; an aware one is converted.
    ``None``, an empty or an unreadable value is ``None``.
    """
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        return None
    if not isinstance(moment, datetime):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _time(value: Any) -> datetime:
    moment = stored_time(value)
    if moment is None:
        raise ValueError(f"not a stored time: {value!r}")
    return moment


def _job(
    record: type[JobRecord], loads: Callable[[str | bytes], Any], row: Sequence[Any]
) -> JobRecord:
    (job_id, kind, name, params, state, created, updated, runs, failures, due,
     outcome, step, code, error, reason, items, size, identity, scope, instance,
     lease_until) = row  # fmt: skip
    return record(
        id=job_id,
        kind=kind,
        name=name,
        params=dict(loads(params) if isinstance(params, str | bytes) else params),
        state=JobState(state),
        created_at=_time(created),
        updated_at=_time(updated),
        runs=runs,
        failures=failures,
        next_due=_time(due) if due is not None else None,
        last_outcome=Outcome(outcome) if outcome else None,
        last_step=step,
        last_code=code,
        last_error=error,
        reason=reason,
        items=items,
        bytes=size,
        identity=identity,
        scope=scope,
        instance=instance,
        lease_until=_time(lease_until) if lease_until is not None else None,
    )
