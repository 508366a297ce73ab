"""Imports as jobs: recorded in the ledger, failures kept in the backlog, re-runs converge."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from entrepot.datacenter import DataCenter, ImportJob
from entrepot.errors import ConfigError
from entrepot.jobs import Backlog, JobState, Ledger, Outcome, RetryPolicy, Runner, build_job
from tests.servers._common import free_port

SCHEMA = """
[tables.students]
key = ["student_id"]
[tables.students.columns]
student_id = { type = "text" }
name = { type = "text", required = true }
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "dc"
    DataCenter(root, create=True)
    (root / "schema.toml").write_text(SCHEMA)
    return root


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    book = Ledger.open(tmp_path / "state")
    yield book  # type: ignore[misc]
    book.close()


def test_an_import_run_is_recorded_with_its_rows_as_items(root: Path, ledger: Ledger) -> None:
    (root / "s.csv").write_text("student_id,name\nS1,Ann\nS2,\nS3,Cid\n")
    job = ImportJob(root, "s.csv", "students", user="ops")

    run = Runner(ledger).run(job)

    # A rejected row is the import's result, not the job's failure.
    assert run.outcome is Outcome.SUCCEEDED and run.items == 3
    assert job.result is not None and (job.result.successful, job.result.failed) == (2, 1)
    record = ledger.get(run.job_id)
    assert record.kind == "import" and record.state is JobState.SUCCEEDED
    assert record.items == 3 and record.bytes == len("student_id,name\nS1,Ann\nS2,\nS3,Cid\n")
    assert (root / "s.create.pending.csv").exists()
    assert (root / "unfinished" / "s.csv").exists()


def test_a_missing_file_waits_in_the_backlog_and_a_retry_converges(
    root: Path, ledger: Ledger
) -> None:
    run = Runner(ledger).run(ImportJob(root, "late.csv", "students"))

    assert run.outcome is Outcome.FAILED and run.step == "prepare"
    record = ledger.get(run.job_id)
    assert record.state is JobState.BACKLOG
    assert "late.csv" in (record.last_error or "")
    (failed_run,) = ledger.runs(run.job_id)
    assert failed_run.transient is False and failed_run.error_type == "FileNotFoundError"

    (root / "late.csv").write_text("student_id,name\nS1,Ann\nS2,Bo\n")
    again = Backlog(ledger, Runner(ledger)).retry(run.job_id)

    assert again.outcome is Outcome.SUCCEEDED and again.items == 2
    assert ledger.get(run.job_id).state is JobState.SUCCEEDED
    assert (root / "finished" / "late.csv").exists()
    with DataCenter(root) as center:
        assert center.log.search("file=late.csv")


def test_a_schema_error_is_a_permanent_failure(root: Path, ledger: Ledger) -> None:
    (root / "schema.toml").write_text("[tables.students]\nkey = 3\n")
    (root / "s.csv").write_text("student_id,name\nS1,Ann\n")

    run = Runner(ledger).run(ImportJob(root, "s.csv", "students"))

    assert run.outcome is Outcome.FAILED and run.attempts == 1
    assert ledger.get(run.job_id).state is JobState.BACKLOG
    assert ledger.runs(run.job_id)[-1].error_type == "SchemaError"
    assert (root / "s.csv").exists()


def test_an_unreachable_database_is_transient_and_never_stored_with_its_password(
    root: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root / "s.csv").write_text("student_id,name\nS1,Ann\n")
    monkeypatch.setenv("DC_SECRET", "s3cret")
    url = f"postgresql://importer@127.0.0.1:{free_port()}/nowhere?connect_timeout=5"
    job = ImportJob(root, "s.csv", "students", database=url, password_env="DC_SECRET")

    run = Runner(ledger, policy=RetryPolicy.fixed(2, 0.0)).run(job)

    assert run.outcome is Outcome.FAILED and run.attempts == 2
    record = ledger.get(run.job_id)
    assert record.state is JobState.BACKLOG
    (failed_run,) = ledger.runs(run.job_id)
    assert failed_run.transient is True and failed_run.error_type == "DatabaseUnavailable"
    assert "s3cret" not in repr(record) and "s3cret" not in repr(failed_run)
    assert record.params["database"].startswith("postgresql://importer@127.0.0.1:")
    assert record.params["password_env"] == "DC_SECRET"
    # Nothing moved: the file waits for the re-run.
    assert (root / "s.csv").exists()


def test_a_header_only_file_is_an_empty_run_and_still_finished(root: Path, ledger: Ledger) -> None:
    (root / "h.csv").write_text("student_id,name\n")

    run = Runner(ledger).run(ImportJob(root, "h.csv", "students"))

    assert run.outcome is Outcome.EMPTY and run.items == 0
    assert (root / "finished" / "h.csv").exists()


def test_the_job_is_rebuilt_from_its_parameters(root: Path, tmp_path: Path) -> None:
    (root / "s.csv").write_text("student_id,name\nS1,Ann\n")
    job = ImportJob(
        root,
        "s.csv",
        "students",
        "update",
        schema=root / "schema.toml",
        database="postgresql://u@db.example/dc",
        password_file=tmp_path / "pw",
        chunk_size=7,
        encoding="latin-1",
        user="ops",
    )

    rebuilt = build_job("import", job.params())

    assert isinstance(rebuilt, ImportJob)
    assert rebuilt.params() == job.params()
    assert job.params()["database"] == "postgresql://u@db.example/dc"
    assert job.params()["password_file"] == str(tmp_path / "pw")
    assert (rebuilt.root, rebuilt.file, rebuilt.mode, rebuilt.options.chunk_size) == (
        root,
        "s.csv",
        "update",
        7,
    )
    assert rebuilt.name == "import s.csv → students (update)"


def test_parameters_of_an_older_release_still_rebuild_the_job(root: Path) -> None:
    # What the ledger of the previous release stored for an import.
    old = {
        "root": str(root),
        "file": "s.csv",
        "table": "students",
        "mode": "update",
        "schema": None,
        "database": None,
        "chunk_size": 9,
        "encoding": "latin-1",
        "user": "ops",
        "reader": "csv",
    }
    job = build_job("import", old)
    assert isinstance(job, ImportJob)
    assert (job.mode, job.options.chunk_size, job.options.encoding) == ("update", 9, "latin-1")
    assert (job.options.user, job.options.reader, job.options.empty) == ("ops", "csv", "keep")


def test_a_database_url_with_a_password_is_refused(root: Path) -> None:
    for url in ("postgresql://u:pw@h/db", "postgresql://u@h/db?password=pw"):
        with pytest.raises(ConfigError, match="carries a password") as caught:
            ImportJob(root, "s.csv", "students", database=url)
        assert "pw" not in str(caught.value)


def test_the_command_line_records_the_import_and_backlog_retry_finishes_it(
    root: Path, tmp_path: Path, cli
) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    args = ("--root", root, "-t", "students")
    code, out, err = cli("dc", "import", "s.csv", *args, "--state", state)
    assert code == 4, out + err
    assert "backlog" in err
    with Ledger.open(state) as book:
        (record,) = book.jobs()
    assert record.kind == "import" and record.state is JobState.BACKLOG

    (root / "s.csv").write_text("student_id,name\nS1,Ann\nS2,\n")
    code, out, err = cli("backlog", "retry", record.id, "--state", state)
    assert code == 0, out + err
    with Ledger.open(state) as book:
        assert book.get(record.id).state is JobState.SUCCEEDED
    assert (root / "s.create.pending.csv").exists()

    (root / "t.csv").write_text("student_id,name\nS3,Cy\n")
    code, out, err = cli("dc", "import", "t.csv", *args, "--no-ledger")
    assert code == 0, out + err
    assert "job" in out


class Stop(Exception):
    pass


def test_an_import_has_the_ledger_jobs_id_and_a_later_job_takes_over_an_interrupted_one(
    root: Path, ledger: Ledger
) -> None:
    (root / "s.csv").write_text("student_id,name\n" + "".join(f"S{n},n{n}\n" for n in range(9)))

    def stop_after_the_first_chunk(rows: int, fraction: float | None) -> None:
        raise Stop

    first = Runner(ledger).run(
        ImportJob(root, "s.csv", "students", chunk_size=3, on_progress=stop_after_the_first_chunk)
    )
    assert first.outcome is Outcome.FAILED
    second = Runner(ledger).run(ImportJob(root, "s.csv", "students"))

    assert second.outcome is Outcome.SUCCEEDED and second.job_id != first.job_id
    with DataCenter(root) as center:
        db = center.database
        with db.engine.connect() as conn:
            (found,) = conn.execute(db.imports.select()).mappings().all()
            owners = set(conn.execute(select(db.chunks.c.job_id)).scalars())
        assert found["job_id"] == second.job_id and found["earlier_ids"] == first.job_id
        assert owners == {second.job_id}
        (line,) = center.log.search("file=s.csv")
    assert line.endswith(f" job={second.job_id}")
