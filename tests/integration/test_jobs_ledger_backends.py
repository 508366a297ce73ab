"""The same ledger behaviour on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from entrepot.errors import UnknownJob
from entrepot.jobs import (
    FakeClock,
    JobContext,
    JobState,
    Ledger,
    Outcome,
    RetryPolicy,
    Runner,
    register_job_kind,
    summary,
    unregister_job_kind,
)
from entrepot.jobs.testing import ScriptedJob


@pytest.fixture
def url(either_database: str) -> str:
    return either_database


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC))


def test_runs_persist_across_reopening(url: str, clock: FakeClock) -> None:
    with Ledger(url, clock=clock) as book:
        runner = Runner(book, policy=RetryPolicy(attempts=2, delay=3, jitter=0))
        ok = runner.run(ScriptedJob(items=2, item_bytes=2**33, label="big"))
        bad = runner.run(ScriptedJob(fail={"send": ["transient", "permanent"]}))
    with Ledger(url, clock=clock) as book:
        job = book.get(ok.job_id)
        assert (job.state, job.items, job.bytes, job.name) == (
            JobState.SUCCEEDED,
            2,
            2**34,  # beyond 32 bits
            "big",
        )
        assert job.created_at == datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
        failed = book.get(bad.job_id)
        assert failed.state == JobState.BACKLOG and failed.last_code == 300
        assert failed.params["fail"] == {"send": ["transient", "permanent"]}
        [run] = book.runs(bad.job_id)
        assert (run.outcome, run.attempts, run.transient, run.duration) == (
            Outcome.FAILED,
            2,
            False,
            3.0,
        )
        assert [entry["delay"] for entry in run.history] == [3.0, None]
        assert book.counts()[JobState.BACKLOG] == 1


def test_lookups_and_filters(url: str, clock: FakeClock) -> None:
    with Ledger(url, clock=clock) as book:
        for job_id, kind in [("2026-a_1", "ship"), ("2026-a_2", "ship"), ("2026-b", "import")]:
            book.add_job(job_id, kind, {"n": job_id})
        assert book.find("2026-b").kind == "import"
        with pytest.raises(UnknownJob, match="more than one"):
            book.find("2026-a_")
        with pytest.raises(UnknownJob):
            book.find("2026-a%")  # a wildcard in a prefix is literal
        assert [j.id for j in book.jobs(kind="ship")] == ["2026-a_2", "2026-a_1"]
        assert [j.id for j in book.due()] == ["2026-a_1", "2026-a_2", "2026-b"]
        assert book.jobs(states=[JobState.DEAD]) == []


def test_claims_are_exclusive(url: str) -> None:
    with Ledger(url) as first, Ledger(url) as second:
        first.add_job("j", "k", {}, state=JobState.BACKLOG)
        assert first.claim("j", [JobState.BACKLOG])
        assert not second.claim("j", [JobState.BACKLOG])


def test_concurrent_runners_run_each_due_job_once(url: str) -> None:
    ran: Counter[str] = Counter()
    lock = threading.Lock()

    def counted(params: dict[str, Any]) -> ScriptedJob:
        class Counted(ScriptedJob):
            kind = "counted-db"

            def send(self, ctx: JobContext) -> None:
                with lock:
                    ran[ctx.job_id] += 1

        return Counted(**params)

    register_job_kind("counted-db", counted, replace=True)
    try:
        with Ledger(url) as book:
            for n in range(30):
                book.add_job(f"job-{n:02d}", "counted-db", {"items": 1})
        books = [Ledger(url) for _ in range(3)]
        threads = [threading.Thread(target=Runner(b).run_due) for b in books]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for book in books:
            book.close()
        assert len(ran) == 30 and set(ran.values()) == {1}
        with Ledger(url) as book:
            assert book.counts()[JobState.SUCCEEDED] == 30
    finally:
        unregister_job_kind("counted-db")


def test_backlog_timing_is_stored_exactly(url: str, clock: FakeClock) -> None:
    with Ledger(url, clock=clock) as book:
        runner = Runner(
            book,
            policy=RetryPolicy.never(),
            reruns=RetryPolicy(attempts=5, delay=90, max_delay=900, jitter=0),
        )
        result = runner.run(ScriptedJob(fail={"prepare": ["permanent"]}))
        assert book.get(result.job_id).next_due == clock.now() + timedelta(seconds=90)
        assert book.due() == []
        clock.advance(90)
        assert [j.id for j in book.due()] == [result.job_id]


def test_the_read_only_summaries_agree_with_the_ledger(url: str, clock: FakeClock) -> None:
    """``status`` and ``ship`` read through :mod:`entrepot.jobs.summary` (issue 12): its
    queries give what the ledger's own methods give, on both databases."""
    attention = (JobState.BACKLOG, JobState.DEAD)
    with Ledger(url, clock=clock) as book:
        runner = Runner(book, policy=RetryPolicy(attempts=1, delay=0, jitter=0))
        runner.run(ScriptedJob(items=1, label="fine"))
        failed = runner.run(ScriptedJob(fail={"send": ["permanent"]}, label="broken"))
        for n, state in enumerate([JobState.DEAD, JobState.BACKLOG, JobState.DROPPED]):
            clock.advance(1)
            book.add_job(f"job-{n}", "k", {"n": n, "url": "ftp://h/x"}, identity=f"route-{n}")
            book.set_state(f"job-{n}", state, reason="by hand" if n == 2 else None)
        rows = book.rows
        assert summary.state_counts(rows) == book.counts()
        for limit in (1, 2, 20):
            assert summary.jobs_in(rows, attention, limit=limit) == book.jobs(
                states=attention, limit=limit
            )
        for identity in ("route-0", "route-1", "route-2", "no-such-route"):
            assert summary.has_open_job(rows, identity) == bool(book.open_jobs(identity))
        assert [job.id for job in summary.jobs_in(rows, attention, limit=20)][-1] == failed.job_id
        if url.startswith("sqlite"):
            with summary.sqlite_reader(Path(url.removeprefix("sqlite:///")).parent) as direct:
                assert direct is not None
                assert summary.state_counts(direct) == book.counts()
                assert summary.jobs_in(direct, attention, limit=20) == book.jobs(states=attention)
                assert summary.has_open_job(direct, "route-1")
                assert not summary.has_open_job(direct, "route-2")
