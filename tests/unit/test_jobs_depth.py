"""The backlog's depth sampled per hour (issue 15, the overview's chart): the deepest figures of
each hour are kept, read back by hour, pruned with the ledger's history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from entrepot.db import schema_version
from entrepot.jobs import FakeClock, JobState, Ledger
from entrepot.jobs.depth import depth_history, hour_of, record_depth
from entrepot.jobs.ledger import MIGRATIONS

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_each_hour_keeps_its_deepest_backlog(tmp_path: Path) -> None:
    with Ledger.open(tmp_path, clock=FakeClock(T0)) as ledger:
        for number in range(3):
            ledger.add_job(f"j{number}", "scripted", {}, state=JobState.BACKLOG)
        ledger.add_job("dead", "scripted", {}, state=JobState.DEAD)
        assert record_depth(ledger.engine, ledger.rows, T0) == (3, 1)
        ledger.set_state("j0", JobState.DROPPED, reason="gone", from_states=[JobState.BACKLOG])
        assert record_depth(ledger.engine, ledger.rows, T0 + timedelta(minutes=30)) == (2, 1)
        assert record_depth(ledger.engine, ledger.rows, T0 + timedelta(hours=1)) == (2, 1)
        first = hour_of(T0)
        assert depth_history(ledger.rows, first) == {first: (3, 1), first + 1: (2, 1)}
        assert depth_history(ledger.rows, first + 1) == {first + 1: (2, 1)}
        ledger.prune(T0 + timedelta(hours=1))
        assert depth_history(ledger.rows, 0) == {first + 1: (2, 1)}


def test_a_ledger_of_the_version_before_gets_the_table_and_the_indexes(tmp_path: Path) -> None:
    added = ["ix_entrepot_jobs_identity_id", "ix_entrepot_jobs_identity_state_id"]
    with Ledger.open(tmp_path) as ledger, ledger.engine.begin() as conn:
        for index in [*added, "ix_entrepot_job_runs_outcome"]:
            conn.execute(sa.text(f"DROP INDEX {index}"))
        conn.execute(sa.text("DROP TABLE entrepot_backlog_depth"))
        conn.execute(sa.text("UPDATE entrepot_schema SET version = 3 WHERE component = 'ledger'"))
    with Ledger.open(tmp_path) as ledger:
        assert schema_version(ledger.engine, "ledger") == MIGRATIONS[-1].version >= 4
        inspector = sa.inspect(ledger.engine)
        jobs = {index["name"] for index in inspector.get_indexes("entrepot_jobs")}
        runs = {index["name"] for index in inspector.get_indexes("entrepot_job_runs")}
        assert set(added) <= jobs and "ix_entrepot_job_runs_outcome" in runs
        assert record_depth(ledger.engine, ledger.rows, T0) == (0, 0)
