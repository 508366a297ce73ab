"""The data center's steps in provenance, on SQLite and on a real PostgreSQL server.

Rows retired from a table (``retired``, on the backup in ``graduated/``), and
rows removed by an import in ``remove`` mode (``removed``, with the backups
in ``deleted/`` that keep them, beside ``imported``).  The ledger and the
data center's tables share the database of each backend.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from entrepot.datacenter import DataCenter, ImportJob, parse_schema
from entrepot.jobs import Ledger, Runner
from entrepot.provenance import Kind, find, recover_journals
from entrepot.provenance.journal import JOURNAL_DIR
from tests.integration import test_jobs_ledger_backends as backends
from tests.unit.dc_imports import SCHEMA, put

url = backends.url


def _center(url: str, tmp_path: Path) -> DataCenter:
    database = url if url.startswith("postgresql") else None
    schema = parse_schema(SCHEMA)
    center = DataCenter(tmp_path / "dc", database=database, schema=schema, create=True)
    (tmp_path / "dc" / "schema.toml").write_text(SCHEMA)
    return center


def test_retired_rows_are_recorded_on_their_backup(url: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    with _center(url, tmp_path) as center:
        put(center, "a.csv", "student_id,name,status\nS0001,Ann,graduated\nS0002,Bob,active\n")
        assert center.import_file("a.csv", "students").all_ok
        backup, count = center.retire("students", where=["status=graduated"], provenance=state)
        # Nothing retired: nothing recorded.
        assert center.retire("students", where=["name=Zed"], provenance=state) == (None, 0)
    assert backup is not None and count == 1
    with Ledger(url) as ledger:
        assert recover_journals(ledger.engine, state / JOURNAL_DIR) == 1
        (event,) = find(ledger.engine, backup.name, kinds=[Kind.RETIRED])
    assert event.place == os.path.realpath(tmp_path / "dc" / "graduated")
    assert event.details == {"table": "students", "rows": 1, "where": ["status=graduated"]}
    assert event.size == backup.stat().st_size


def test_an_import_in_remove_mode_records_the_rows_removed_with_their_backup(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _center(url, tmp_path) as center:
        put(center, "a.csv", "student_id,name\nS0001,Ann\nS0002,Bob\nS0003,Cid\n")
        assert center.import_file("a.csv", "students").all_ok
        put(center, "gone.csv", "student_id,name\nS0001,x\nS0003,y\nS0404,z\n")
    options: dict[str, str] = {}
    if url.startswith("postgresql"):  # the job keeps its URL: the password by reference
        parsed = sa.make_url(url)
        monkeypatch.setenv("DC_PASSWORD", parsed.password or "")
        bare = sa.URL.create(
            parsed.drivername, parsed.username, None, parsed.host, parsed.port, parsed.database
        ).render_as_string(hide_password=False)
        options = {"database": bare, "password_env": "DC_PASSWORD"}
    with Ledger(url) as ledger:
        ledger.state_dir = tmp_path / "state"
        job = ImportJob(tmp_path / "dc", "gone.csv", "students", "remove", **options)
        Runner(ledger).run(job)
        journey = find(ledger.engine, "gone.csv")
    assert [e.kind for e in journey] == [Kind.IMPORTED, Kind.REMOVED]
    imported, removed = journey
    assert (imported.details["rows_ok"], imported.details["rows_failed"]) == (2, 1)
    assert removed.details == {"table": "students", "rows": 2, "backups": ["students.csv"]}
    assert removed.job_id == imported.job_id and removed.place == imported.place
    assert (tmp_path / "dc" / "deleted" / "students.csv").is_file()


def test_an_import_can_leave_provenance_out(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"  # the switch is the job's, on any database
    with _center(url, tmp_path) as center:
        put(center, "quiet.csv", "student_id,name\nS0001,Ann\n")
    job = ImportJob(tmp_path / "dc", "quiet.csv", "students", provenance=False)
    assert ImportJob.from_params(job.params()).provenance is False
    assert "provenance" not in ImportJob(tmp_path / "dc", "x.csv", "students").params()
    with Ledger(url) as ledger:
        ledger.state_dir = tmp_path / "state"
        assert Runner(ledger).run(job).ok
        assert find(ledger.engine, "quiet.csv") == []
