"""Job identities: one piece of work (a shipping route) has at most one waiting job.

Also: the ledger's schema upgrade that brought the identity column, and the
rule that no parameter stored in the ledger holds a secret.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from entrepot.db import schema_version
from entrepot.errors import ConfigError
from entrepot.jobs import FakeClock, JobState, Ledger, RetryPolicy, Runner
from entrepot.jobs.ledger import MIGRATIONS
from entrepot.jobs.testing import ScriptedJob


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    book = Ledger.open(tmp_path / "state", clock=FakeClock())
    yield book  # type: ignore[misc]
    book.close()


@pytest.fixture
def runner(ledger: Ledger) -> Runner:
    return Runner(
        ledger,
        policy=RetryPolicy.never(),
        reruns=RetryPolicy(attempts=3, delay=60, jitter=0),
    )


def failing(outage: Path, identity: str | None = "route-a") -> ScriptedJob:
    return ScriptedJob(outage=str(outage), identity=identity)


def test_each_failing_run_of_a_route_joins_its_waiting_job(
    runner: Runner, ledger: Ledger, tmp_path: Path
) -> None:
    outage = tmp_path / "outage"
    outage.touch()
    ids = {runner.run(failing(outage)).job_id for _ in range(3)}
    assert len(ids) == 1  # three cron runs, one job
    [job] = ledger.jobs()
    assert (job.state, job.runs, job.failures) == (JobState.DEAD, 3, 3)
    assert [run.trigger for run in ledger.runs(job.id)] == ["new", "joined", "joined"]
    # The server is back: the next run of the route clears it.
    outage.unlink()
    back = runner.run(failing(outage))
    assert back.job_id == job.id and back.ok
    assert ledger.counts()[JobState.DEAD] == ledger.counts()[JobState.BACKLOG] == 0


def test_jobs_without_an_identity_stay_apart(
    runner: Runner, ledger: Ledger, tmp_path: Path
) -> None:
    outage = tmp_path / "outage"
    outage.touch()
    for identity in (None, None, "route-a", "route-b"):
        runner.run(failing(outage, identity))
    assert ledger.counts()[JobState.BACKLOG] == 4


def test_a_joining_run_brings_its_own_parameters(
    runner: Runner, ledger: Ledger, tmp_path: Path
) -> None:
    outage = tmp_path / "outage"
    outage.touch()
    first = runner.run(ScriptedJob(outage=str(outage), identity="r", label="old"))
    outage.unlink()
    runner.run(ScriptedJob(outage=str(outage), identity="r", items=5, label="new"))
    job = ledger.get(first.job_id)
    assert (job.name, job.params["items"], job.state) == ("new", 5, JobState.SUCCEEDED)


def test_when_a_run_ends_the_other_waiting_jobs_of_its_identity_are_superseded(
    runner: Runner, ledger: Ledger, tmp_path: Path
) -> None:
    # Two jobs of one route can both wait after a race (two runs starting at once):
    # the next run to end leaves only itself.
    outage = tmp_path / "outage"
    outage.touch()
    runner.run(failing(outage), job_id="a-first")
    runner.run(failing(outage), job_id="b-second")
    assert ledger.get("a-first").state is JobState.SUPERSEDED
    assert (
        ledger.get("a-first").reason == "superseded by job b-second, a later run of the same work"
    )
    outage.unlink()
    assert runner.run(failing(outage)).job_id == "b-second"
    assert [j.id for j in ledger.jobs(states=[JobState.BACKLOG, JobState.DEAD])] == []


def test_the_identity_column_is_added_to_a_ledger_made_before_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Ledger.open(state) as book:
        Runner(book).run(ScriptedJob(), job_id="old-job")
        # Back to the schema of version 1: no identity column.
        with book.engine.begin() as conn:
            for index in ("identity", "identity_id", "identity_state_id"):
                conn.execute(sa.text(f"DROP INDEX ix_entrepot_jobs_{index}"))
            conn.execute(sa.text("ALTER TABLE entrepot_jobs DROP COLUMN identity"))
            conn.execute(sa.text("UPDATE entrepot_schema SET version = 1"))
    with Ledger.open(state) as book:
        assert schema_version(book.engine, "ledger") == MIGRATIONS[-1].version
        assert book.get("old-job").identity is None
        assert Runner(book).run(ScriptedJob(identity="r")).ok


def test_the_ledger_refuses_parameters_holding_a_secret(ledger: Ledger) -> None:
    hostile = [
        {"url": "ftp://u:SECRET@host/in"},
        {"url": "ftp://u:ab/cdSECRET@host:2131/in"},
        {"url": "ftp://u:123/abcSECRET@host/in"},
        {"url": "ftp://bob:SEC@RET@host/in"},
        {"url": "ftp:/u:SECRET@host/in"},
        {"url": "s3://bucket/in?secret_key=SECRET"},
        {"target_options": {"password": "SECRET"}},
        {"nested": [{"dsn": "postgresql://u:SECRET@db/x"}]},
    ]
    for params in hostile:
        with pytest.raises(ConfigError) as raised:
            ledger.add_job("j", "scripted", params)
        assert "SECRET" not in str(raised.value)
    assert ledger.jobs() == []
    # References to a secret are what a job keeps.
    ledger.add_job(
        "j", "scripted", {"target_options": {"password_env": "PW", "password_file": "f"}}
    )


def test_a_job_whose_parameters_hold_a_secret_is_not_run(runner: Runner, ledger: Ledger) -> None:
    class Leaky(ScriptedJob):
        def params(self) -> dict[str, object]:
            return {**super().params(), "url": "ftp://u:SECRET@host/in"}

    job = Leaky()
    with pytest.raises(ConfigError, match="'url' carries a password"):
        runner.run(job)
    assert job.calls == [] and ledger.jobs() == []


def test_more_waiting_jobs_than_one_statement_binds_are_all_superseded(
    runner: Runner, ledger: Ledger
) -> None:
    # However many jobs of the route wait, the run that ends supersedes every one: more
    # than SQLite's oldest builds bind values in one statement (999; the tests'
    # connections are held to it).
    from entrepot.jobs.schema import jobs_table

    now = ledger.clock.now()
    waiting = [
        {
            "id": f"waiting-{number:04d}", "kind": "scripted", "name": "scripted", "params": {},
            "identity": "route-a", "scope": ledger.instance, "state": str(JobState.BACKLOG),
            "created_at": now, "updated_at": now, "next_due": now,
        }
        for number in range(1000)
    ]  # fmt: skip
    with ledger.engine.begin() as conn:
        conn.execute(jobs_table.insert(), waiting)
    done = runner.run(ScriptedJob(identity="route-a"), job_id="z-last")
    assert done.ok
    superseded = ledger.jobs(states=[JobState.SUPERSEDED])
    assert len(superseded) == 1000
    assert {job.reason for job in superseded} == {
        "superseded by job z-last, a later run of the same work"
    }
