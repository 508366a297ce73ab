"""Backlog-depth samples written by several instances at once, on SQLite and PostgreSQL.

What was wrong: a sample read the hour's row, then inserted it when it was
missing — right for one writer only.  Two instances sampling in the same
hour on a shared PostgreSQL ledger collided (a UniqueViolation warning
that dumped the SQL statement) and the sample was lost.

What is expected now: one insert-or-update statement keeps the hour's
larger figures, whoever writes first; a failed sample says the driver's
first line, never the statement.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from entrepot.db import write_transaction
from entrepot.errors import JobError
from entrepot.jobs import FakeClock, JobState, Ledger
from entrepot.jobs.depth import depth_history, depth_table, hour_of, record_depth

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_a_sample_written_meanwhile_by_another_instance_is_merged(either_database: str) -> None:
    with Ledger(either_database, clock=FakeClock(T0), instance="alpha") as ledger:
        for number in range(3):
            ledger.add_job(f"j{number}", "scripted", {}, state=JobState.BACKLOG)
        hour = hour_of(T0)
        failures: list[BaseException] = []

        def sample() -> None:
            try:
                record_depth(ledger.engine, ledger.rows, T0)
            except BaseException as exc:
                failures.append(exc)

        # Another instance inserts the hour's row and commits only once our sample
        # has looked for it (on SQLite, the write lock makes our sample wait instead).
        with write_transaction(ledger.engine) as other:
            other.execute(depth_table.insert().values(hour=hour, backlog=1, dead=5,
                                                      sampled_at=T0))  # fmt: skip
            thread = threading.Thread(target=sample)
            thread.start()
            time.sleep(0.5)
        thread.join(timeout=60)
        assert failures == []
        assert depth_history(ledger.rows, hour) == {hour: (3, 5)}


@pytest.mark.server
@pytest.mark.xdist_group("postgres")
def test_a_failed_sample_names_no_statement(postgres_url: str) -> None:
    with Ledger(postgres_url, instance="alpha") as ledger:
        with ledger.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE entrepot_backlog_depth"))
        with pytest.raises(JobError) as raised:
            record_depth(ledger.engine, ledger.rows, T0)
    message = str(raised.value)
    assert "entrepot_backlog_depth" in message and "does not exist" in message
    assert "INSERT" not in message and "[SQL" not in message
