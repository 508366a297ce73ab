"""The ledger read without SQLAlchemy (issue 12, start-up): only a ledger it can read as it is.

The queries themselves are checked against the ledger's own methods, on
SQLite and PostgreSQL, in ``tests/integration/test_jobs_ledger_backends.py``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from entrepot.jobs import JobState, Ledger
from entrepot.jobs.ledger import MIGRATIONS
from entrepot.jobs.summary import SCHEMA_VERSION, ledger_file, sqlite_reader, state_counts


def test_the_reader_knows_the_last_schema_version() -> None:
    assert MIGRATIONS[-1].version == SCHEMA_VERSION


def test_no_ledger_no_reader_and_none_is_made(tmp_path: Path) -> None:
    with sqlite_reader(tmp_path / "state") as rows:
        assert rows is None
    assert not (tmp_path / "state").exists()


def test_a_ledger_due_for_an_upgrade_is_left_to_the_full_ledger(tmp_path: Path) -> None:
    Ledger.open(tmp_path).close()
    with sqlite3.connect(ledger_file(tmp_path)) as conn:
        conn.execute("UPDATE entrepot_schema SET version = 1 WHERE component = 'ledger'")
    conn.close()
    with sqlite_reader(tmp_path) as rows:
        assert rows is None
    with Ledger.open(tmp_path):  # upgrades it back
        pass
    with sqlite_reader(tmp_path) as rows:
        assert rows is not None and state_counts(rows)[JobState.PENDING] == 0


def test_a_file_that_is_not_a_ledger_is_not_read(tmp_path: Path) -> None:
    sqlite3.connect(ledger_file(tmp_path)).close()  # an empty database
    with sqlite_reader(tmp_path) as rows:
        assert rows is None


def test_reading_writes_nothing(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:
        ledger.add_job("j1", "k", {})
    before = ledger_file(tmp_path).read_bytes()
    with sqlite_reader(tmp_path) as rows:
        assert rows is not None and state_counts(rows)[JobState.PENDING] == 1
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            rows("DELETE FROM entrepot_jobs", {})
    assert ledger_file(tmp_path).read_bytes() == before


def test_stored_times_are_read_as_utc_whatever_the_database_returns() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from entrepot.jobs.summary import stored_time

    noon = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert stored_time("2026-12-05 12:00:00") == noon  # SQLite's text, naive: UTC
    assert stored_time(datetime(2026, 12, 5, 12, 0)) == noon
    # A driver that hands back an aware time in its session's zone is converted, not relabelled.
    paris = datetime(2026, 12, 5, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert stored_time(paris) == noon and stored_time(paris).tzinfo == UTC  # type: ignore[union-attr]
    assert stored_time(None) is None and stored_time("") is None and stored_time("soon") is None
