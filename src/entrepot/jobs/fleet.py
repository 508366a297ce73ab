"""Many services, one ledger: instances, their heartbeats, and claiming due jobs.

Every ``entrepot serve`` sharing a ledger is an *instance* with a name of
its own.  Each writes a heartbeat row in ``entrepot_instances`` every few
seconds (:meth:`FleetLog.beat`): its release, configuration generation, and
a report of its spools and routes.  The same transaction renews the lease of
every job this process runs and of every key it claimed
(:mod:`entrepot.jobs.claims`): a process that dies stops renewing, and once
its leases have run out another instance puts its jobs back in the backlog
(:meth:`~entrepot.jobs.runlog.RunLog.recover_expired`) and runs them.  What
is renewed is the process's own, not its name's: a second process that
speaks for the same name (refused at its start when the first is alive:
:meth:`FleetLog.twin`) never keeps alive what a dead one held.

The stamps of a beat are the instance's own clock's.  On PostgreSQL the beat
also reads the database's clock in its transaction and records how far the
instance's is from it (``clock_offset``, seconds ahead): the fleet view then
judges each beat by the database's clock (:meth:`InstanceRecord.clock_now`),
so an instance whose clock is fast or slow is still seen alive or silent as it
is, and flags a clock further off than :func:`skew_limit`.  SQLite has no clock
of its own (its fleet is one host's): the offset is not measured there.

Due jobs are taken one at a time by :meth:`FleetLog.claim_due`: on
PostgreSQL the oldest due job is selected ``FOR UPDATE SKIP LOCKED`` — two
instances asking at once get two different jobs, never the same one — and
claimed with its run's row in the same transaction; on SQLite the write
transaction holds the database's one write lock, and the claim is the same
conditional update.

A job's *scope* is the instance it is confined to (its spool is on that
host); ``None`` means any instance may run it.  Due jobs of other instances
are never taken.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from entrepot.db import LIST_VALUES
from entrepot.jobs.claims import claims_table, process_mark, renew_claims
from entrepot.jobs.clock import Clock
from entrepot.jobs.records import JobRecord
from entrepot.jobs.runlog import RunLog
from entrepot.jobs.schema import UTCDateTime, job_record, jobs_table, metadata, runs_table
from entrepot.jobs.states import WAITING, JobState, Outcome
from entrepot.processes import process_gone

__all__ = [
    "FleetLog",
    "InstanceRecord",
    "add_clock_offset",
    "add_fleet",
    "in_reach",
    "instances_table",
    "skew_limit",
]

#: Due jobs read at a time when the identities left alone are too many to name.
_PAGE = 200

instances_table = sa.Table(
    "entrepot_instances",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("beat_at", UTCDateTime, nullable=False),
    sa.Column("every", sa.Float, nullable=False),
    sa.Column("stopped_at", UTCDateTime),
    sa.Column("report", sa.JSON, nullable=False),
    # Schema version 6: seconds its clock was ahead of the database's at the beat
    # (negative: behind); NULL where not measured (SQLite).
    sa.Column("clock_offset", sa.Float),
)


def skew_limit(lease: float) -> float:
    """How far (seconds) an instance's clock may be from the database's before it is flagged:
    a quarter of the ``lease``, which a skewed clock shortens or stretches by as much."""
    return lease / 4


@dataclass(frozen=True)
class InstanceRecord:
    """One instance's last heartbeat."""

    name: str
    host: str
    pid: int
    version: str
    generation: int
    started_at: datetime
    beat_at: datetime
    every: float
    """Seconds between two heartbeats."""
    stopped_at: datetime | None
    """When it stopped cleanly (``None`` while it runs, or when it died)."""
    report: dict[str, Any]
    """Its spools (files waiting) and routes (last run, last success)."""
    clock_offset: float | None = None
    """Seconds its clock was ahead of the database's at that beat (negative: behind);
    ``None`` where not measured (SQLite)."""

    def clock_now(self, now: datetime, database_now: datetime | None = None) -> datetime:
        """The time now by this instance's clock, to judge the times it stamped: the
        database's ``database_now`` moved by the offset of its last beat; the database's
        alone when that offset is unknown; ``now`` (the reader's clock) without either."""
        if database_now is None:
            return now
        if self.clock_offset is None:
            return database_now
        return database_now + timedelta(seconds=self.clock_offset)

    def silent(self, now: datetime, beats: float) -> bool:
        """True when it neither beat for ``beats`` intervals nor said it stopped (``now``
        by its own clock: :meth:`clock_now`)."""
        late = (now - self.beat_at).total_seconds() >= beats * self.every
        return self.stopped_at is None and late


def in_reach(instance: str) -> sa.ColumnElement[bool]:
    """Jobs ``instance`` may run: those of any instance and its own."""
    scope = jobs_table.c.scope
    return sa.or_(scope.is_(None), scope == instance)


def add_fleet(conn: Connection) -> None:
    """Migration 3: the scope, instance and lease of jobs and runs; claims; instances."""
    inspector = sa.inspect(conn)
    for table, names in (
        (jobs_table, ("scope", "instance", "lease_until")),
        (runs_table, ("instance",)),
    ):
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for name in names:
            if name not in present:
                kind = table.c[name].type.compile(dialect=conn.dialect)
                conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}"))
    for table in (claims_table, instances_table):
        table.create(conn, checkfirst=True)


def add_clock_offset(conn: Connection) -> None:
    """Migration 6: the instances' ``clock_offset`` (where version 3 made the table without it)."""
    present = {column["name"] for column in sa.inspect(conn).get_columns(instances_table.name)}
    if "clock_offset" not in present:
        kind = instances_table.c.clock_offset.type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE {instances_table.name} ADD COLUMN clock_offset {kind}"))


def _clocks(conn: Connection, clock: Clock) -> tuple[datetime, float | None]:
    """This instance's time now, and how many seconds it is ahead of the database's
    (PostgreSQL's ``clock_timestamp()``, read on ``conn``); ``None`` on SQLite."""
    before = clock.now()
    if conn.dialect.name != "postgresql":
        return before, None
    database = conn.execute(sa.select(sa.func.clock_timestamp())).scalar_one()
    # The database read its clock between our two readings: compare with their middle.
    middle = before + (clock.now() - before) / 2
    return before, round((middle - database).total_seconds(), 3)


class FleetLog(RunLog):
    """Heartbeats and claims of due jobs; part of :class:`~entrepot.jobs.Ledger`."""

    opened_at: datetime

    def beat(
        self,
        *,
        started_at: datetime,
        generation: int,
        every: float,
        lease: float,
        report: Mapping[str, Any],
    ) -> float | None:
        """Write this instance's heartbeat and renew its jobs' leases and its claims; the
        seconds its clock is ahead of the database's (``None``: not measured, SQLite)."""
        from entrepot import __version__

        row, job, run = instances_table.c, jobs_table.c, runs_table.c
        # The jobs whose current run is this process's (not another of the same name's).
        ours = (
            sa.select(run.id)
            .where(run.job_id == job.id, run.number == job.runs)
            .where(run.outcome == str(Outcome.RUNNING))
            .where(run.host == self._host, run.pid == os.getpid())
        )
        with self._tx() as conn:
            now, offset = _clocks(conn, self.clock)
            values = {
                "host": self._host,
                "pid": os.getpid(),
                "version": __version__,
                "generation": generation,
                "started_at": started_at,
                "beat_at": now,
                "every": every,
                "stopped_at": None,
                "report": dict(report),
                "clock_offset": offset,
            }
            mine = instances_table.update().where(row.name == self.instance)
            if conn.execute(mine.values(**values)).rowcount == 0:
                conn.execute(instances_table.insert().values(name=self.instance, **values))
            conn.execute(
                jobs_table.update()
                .where(job.instance == self.instance, job.state == str(JobState.RUNNING))
                .where(job.lease_until.is_not(None), ours.exists())
                .values(lease_until=now + timedelta(seconds=lease))
            )
            # Claims of an earlier life of this instance, or of another process under
            # its name, are not renewed: they lapse.
            renew_claims(conn, self.instance, now, lease, since=self.opened_at, mark=process_mark())
        return offset

    def twin(self, beats: float) -> InstanceRecord | None:
        """Another live process that speaks for this instance's name, if any.

        The name's row was last written by another process (its host and
        PID), which neither stopped cleanly nor went silent for ``beats`` of
        its heartbeat intervals, nor is known gone (on this host).  A name
        reused after a clean stop, a crash, or a silence that long is free.
        """
        query = instances_table.select().where(instances_table.c.name == self.instance)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        record = _instance(row)
        now = record.clock_now(self.clock.now(), self.database_now())
        if record.stopped_at is not None or record.silent(now, beats):
            return None
        if record.host == self._host and (record.pid == os.getpid() or process_gone(record.pid)):
            return None
        return record

    def stopped(self) -> None:
        """Say that this instance stopped cleanly (it is then not reported silent)."""
        row = instances_table.c
        with self._tx() as conn:
            conn.execute(
                instances_table.update()
                .where(row.name == self.instance)
                .values(stopped_at=self.clock.now())
            )

    def database_now(self) -> datetime | None:
        """The database's clock, which judges the fleet's beats (PostgreSQL's
        ``clock_timestamp()``); ``None`` on SQLite, whose fleet shares one host's clock."""
        if self._engine.dialect.name != "postgresql":
            return None
        with self._engine.connect() as conn:
            moment: datetime = conn.execute(sa.select(sa.func.clock_timestamp())).scalar_one()
        return moment.astimezone(UTC)

    def instances(self) -> list[InstanceRecord]:
        """Every instance that ever beat on this ledger, by name."""
        query = instances_table.select().order_by(instances_table.c.name)
        with self._engine.connect() as conn:
            return [_instance(row) for row in conn.execute(query)]

    def claim_due(
        self,
        *,
        skip_identities: Collection[str] = (),
        skip_shared_kinds: Collection[str] = (),
        not_run_since: datetime | None = None,
        trigger: str = "due",
    ) -> tuple[JobRecord, int] | None:
        """Claim the longest-waiting due job this instance may run; ``(job, run id)``
        (the job as it was when claimed).

        Jobs of ``skip_identities`` (a route's own job, run by its lane), shared
        jobs of ``skip_shared_kinds`` (work of the fleet that this instance is
        not configured for) and jobs with a run started at ``not_run_since`` or
        later (a pass over the due jobs, begun then, ran them already) are left
        alone; ``None`` when nothing is due.  A pass names its start, not the
        jobs it ran: a list of them would grow with the pass, in every query,
        past the values one statement may bind.
        """
        job = jobs_table.c
        query = (
            jobs_table.select()
            .where(job.state.in_([str(s) for s in WAITING]), job.next_due <= self.clock.now())
            .where(in_reach(self.instance))
            .order_by(job.next_due, job.id)
            .with_for_update(skip_locked=True)
        )
        named = len(skip_identities) <= LIST_VALUES
        if skip_identities and named:
            query = query.where(
                sa.or_(job.identity.is_(None), job.identity.not_in(skip_identities))
            )
        if not_run_since is not None:
            run = runs_table.c
            ran = sa.select(run.id).where(run.job_id == job.id, run.started_at >= not_run_since)
            query = query.where(~ran.exists())
        if skip_shared_kinds:
            foreign = job.kind.in_(list(skip_shared_kinds))
            query = query.where(sa.or_(job.scope.is_not(None), sa.not_(foreign)))
        with self._tx() as conn:
            row = _first(conn, query, frozenset() if named else frozenset(skip_identities))
            if row is None:
                return None
            run_id = self._start_in(conn, row.id, trigger, WAITING)
        return None if run_id is None else (job_record(row), run_id)


def _instance(row: sa.Row[Any]) -> InstanceRecord:
    return InstanceRecord(**{f.name: row._mapping[f.name] for f in fields(InstanceRecord)})


def _first(conn: Connection, query: sa.Select[Any], skipped: frozenset[str]) -> sa.Row[Any] | None:
    """The first job of ``query`` whose identity is none of ``skipped``: identities too
    many to name in a statement (a service of a thousand routes) are left out here,
    :data:`_PAGE` jobs read at a time."""
    if not skipped:
        return conn.execute(query.limit(1)).first()
    offset = 0
    while True:
        rows = conn.execute(query.limit(_PAGE).offset(offset)).all()
        for row in rows:
            if row.identity is None or row.identity not in skipped:
                return row
        if len(rows) < _PAGE:
            return None
        offset += _PAGE
