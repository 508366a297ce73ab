"""Retention prunes exactly the old finished history and old delivered files — on SQLite and
on a real PostgreSQL — and never a waiting, running or dead job, nor new/ or claimed/."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from entrepot.jobs import Backlog, FakeClock, JobState, Ledger, RetryPolicy, Runner
from entrepot.jobs.testing import ScriptedJob
from entrepot.service.config import Config
from entrepot.service.retention import PruneReport, prune
from entrepot.spool import Spool
from tests.integration import test_jobs_ledger_backends as backends

#: The same two ledgers as the ledger's own tests: SQLite, and a real PostgreSQL.
url = backends.url
DAY = 86400.0
FAIL = {"send": ["permanent"]}


@pytest.fixture
def clock() -> FakeClock:
    # Real time: the spool's files get their status-change time from the kernel.
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def ledger(url: str, clock: FakeClock) -> Iterator[Ledger]:
    with Ledger(url, clock=clock) as book:
        yield book


def config(tmp_path: Path, **retention: str) -> Config:
    return Config.model_validate(
        {
            "service": {"state": str(tmp_path / "state"), "retention": retention},
            "spools": {"out": {"path": str(tmp_path / "out")}},
        }
    )


def history(ledger: Ledger, clock: FakeClock, outage: Path) -> dict[str, str]:
    """Jobs in every state, 40 days old and 5 days old; name → job id.

    Jobs that fail and later succeed fail while the ``outage`` file exists.
    """
    outage.touch()
    runner = Runner(ledger, policy=RetryPolicy.never(), reruns=RetryPolicy(attempts=5))
    ids: dict[str, str] = {}

    def run(name: str, job: ScriptedJob) -> str:
        ids[name] = runner.run(job, job_id=f"{name}-job").job_id
        return ids[name]

    run("old-ok", ScriptedJob())
    run("old-ok-rerun", ScriptedJob(outage=str(outage)))
    run("mixed", ScriptedJob(outage=str(outage)))  # an old failed run...
    outage.unlink()
    runner.rerun(ids["old-ok-rerun"])  # failed, then succeeded: two old runs
    run("old-backlog", ScriptedJob(fail=FAIL))
    dying = Runner(ledger, policy=RetryPolicy.never(), reruns=RetryPolicy(attempts=1))
    ids["old-dead"] = dying.run(ScriptedJob(fail=FAIL), job_id="old-dead-job").job_id
    Backlog(ledger).drop(run("old-dropped", ScriptedJob(fail=FAIL)), "given up")
    run("old-superseded", ScriptedJob(fail=FAIL, identity="route"))
    run("old-superseding", ScriptedJob(identity="route"))
    ids["old-pending"] = runner.submit(ScriptedJob(), job_id="old-pending-job").id
    ledger.add_job("old-running-job", "scripted", {}, name="old-running")
    ledger.start_run("old-running-job", claim_from=[JobState.PENDING])
    ids["old-running"] = "old-running-job"
    clock.advance(35 * DAY)
    runner.rerun(ids["mixed"])  # ... and a recent successful one
    run("recent-ok", ScriptedJob())
    clock.advance(5 * DAY)
    return ids


def test_runs_and_jobs_older_than_the_retention_go_and_nothing_else(
    tmp_path: Path, ledger: Ledger, clock: FakeClock
) -> None:
    ids = history(ledger, clock, tmp_path / "outage")
    assert ledger.get(ids["old-superseded"]).state == JobState.SUPERSEDED
    runs_before = {name: len(ledger.runs(job_id)) for name, job_id in ids.items()}

    report = prune(config(tmp_path, runs="30d"), ledger, clock.now(), batch=2)

    gone = {"old-ok", "old-ok-rerun", "old-dropped", "old-superseded", "old-superseding"}
    left = {job.id for job in ledger.jobs()}
    for name, job_id in ids.items():
        if name in gone:
            assert job_id not in left, name
            assert ledger.runs(job_id) == [], name
        elif name == "mixed":
            (kept,) = ledger.runs(job_id)
            assert kept.number == 2 and kept.outcome == "succeeded"
            assert ledger.get(job_id).state == JobState.SUCCEEDED
        else:
            assert len(ledger.runs(job_id)) == runs_before[name], name
            ledger.get(job_id)  # still there
    states = {ledger.get(ids[name]).state for name in ("old-backlog", "old-dead", "old-pending")}
    assert states == {JobState.BACKLOG, JobState.DEAD, JobState.PENDING}
    assert ledger.get(ids["old-running"]).state == JobState.RUNNING
    assert report == PruneReport(runs=7, jobs=5, files=0, bytes=0)
    # Nothing more to prune: a second pass changes nothing.
    assert prune(config(tmp_path, runs="30d"), ledger, clock.now()) == PruneReport()


def test_a_longer_retention_keeps_everything(
    tmp_path: Path, ledger: Ledger, clock: FakeClock
) -> None:
    ids = history(ledger, clock, tmp_path / "outage")
    assert prune(config(tmp_path, runs="60d"), ledger, clock.now()) == PruneReport()
    assert all(ledger.runs(job_id) for job_id in ids.values() if job_id != ids["old-pending"])


def test_cur_files_older_than_the_retention_go_and_no_other_file(
    tmp_path: Path, ledger: Ledger, clock: FakeClock
) -> None:
    spool = Spool(tmp_path / "out").prepare()
    outside = tmp_path / "precious.txt"
    outside.write_text("never pruned through a link")
    now = datetime.now(UTC)
    recent = (now + timedelta(days=35)).timestamp()
    for number in range(5):
        spool.publish_bytes(b"x" * (number + 1), f"old-{number}.dat", area="cur")
    for number in range(2):
        name = spool.publish_bytes(b"new", f"recent-{number}.dat", area="cur")
        os.utime(spool.path("cur", name), (recent, recent))  # arrived 5 days before the pruning
    spool.publish_bytes(b"waiting", "waiting.dat")  # new/
    (spool.root / "claimed").mkdir(exist_ok=True)
    (spool.root / "claimed" / "held.dat").write_bytes(b"held")
    (spool.root / "cur" / ".hidden").write_bytes(b"dot")
    (spool.root / "cur" / "link.dat").symlink_to(outside)
    (spool.root / "cur" / "sub").mkdir()

    later = now + timedelta(days=40)
    report = prune(config(tmp_path, runs="3650d", cur="30d"), ledger, later, batch=2)

    assert (report.files, report.bytes) == (5, 1 + 2 + 3 + 4 + 5)
    assert sorted(os.listdir(spool.root / "cur")) == [
        ".hidden",
        "link.dat",
        "recent-0.dat",
        "recent-1.dat",
        "sub",
    ]
    assert spool.names("new") == ["waiting.dat"]
    assert os.listdir(spool.root / "claimed") == ["held.dat"]
    assert outside.read_text() == "never pruned through a link"


def test_cur_is_kept_unless_configured(tmp_path: Path, ledger: Ledger) -> None:
    spool = Spool(tmp_path / "out").prepare()
    spool.publish_bytes(b"delivered", "a.dat", area="cur")
    far = datetime.now(UTC) + timedelta(days=3650)
    assert prune(config(tmp_path), ledger, far).files == 0
    assert spool.names("cur") == ["a.dat"]


def test_a_stop_request_ends_the_pruning_between_batches(
    tmp_path: Path, ledger: Ledger, clock: FakeClock
) -> None:
    history(ledger, clock, tmp_path / "outage")
    stop = threading.Event()
    stop.set()
    assert prune(config(tmp_path, runs="30d"), ledger, clock.now(), stop=stop) == PruneReport()
    assert prune(config(tmp_path, runs="30d"), ledger, clock.now()).jobs == 5


def test_ledger_prune_deletes_at_most_one_batch_per_call(ledger: Ledger, clock: FakeClock) -> None:
    runner = Runner(ledger)
    for number in range(5):
        runner.run(ScriptedJob(), job_id=f"job-{number}")
    clock.advance(2 * DAY)
    cutoff = clock.now() - timedelta(days=1)
    assert ledger.prune(cutoff, batch=2) == (2, 2)
    assert ledger.prune(cutoff, batch=2) == (2, 2)
    assert ledger.prune(cutoff, batch=2) == (1, 1)
    assert ledger.prune(cutoff, batch=2) == (0, 0)
    assert ledger.jobs() == []


def test_a_batch_longer_than_a_statement_binds_is_pruned(ledger: Ledger, clock: FakeClock) -> None:
    # The default batch (1,000) is more than SQLite's oldest builds bind values in one
    # statement (999; the tests' connections are held to it): each batch still goes whole.
    from entrepot.jobs.schema import jobs_table, runs_table

    then = clock.now() - timedelta(days=40)
    jobs = [
        {
            "id": f"old-{number:04d}", "kind": "scripted", "name": "scripted", "params": {},
            "state": str(JobState.SUCCEEDED), "created_at": then, "updated_at": then,
        }
        for number in range(1200)
    ]  # fmt: skip
    runs = [
        {
            "job_id": job["id"], "number": 1, "trigger": "schedule", "host": "h", "pid": 1,
            "started_at": then, "ended_at": then, "outcome": "succeeded", "history": [],
        }
        for job in jobs
    ]  # fmt: skip
    with ledger.engine.begin() as conn:
        conn.execute(jobs_table.insert(), jobs)
        conn.execute(runs_table.insert(), runs)
    cutoff = clock.now() - timedelta(days=30)
    assert ledger.prune(cutoff) == (1000, 1000)
    assert ledger.prune(cutoff) == (200, 200)
    assert ledger.prune(cutoff) == (0, 0)
    assert ledger.jobs() == []
