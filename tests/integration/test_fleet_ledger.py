"""Many instances, one ledger: claims of due jobs and keys, leases, heartbeats, scopes.

Each instance is a :class:`Ledger` of its own (its own engine and
connections) on one database, SQLite or a real PostgreSQL server; races are
run by two threads that start together at a barrier.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from entrepot.errors import WorkClaimed
from entrepot.jobs import (
    FakeClock,
    Job,
    JobContext,
    JobState,
    Ledger,
    Outcome,
    Runner,
    register_job_kind,
    unregister_job_kind,
)
from entrepot.jobs.testing import ScriptedJob

RACES = 200
NOW = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.fixture
def url(either_database: str) -> str:
    return either_database


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


#: Every run of a counted job, by job id (jobs run in the racing threads).
RUNS: Counter[str] = Counter()
_RUNS_LOCK = threading.Lock()


class CountedJob(Job):
    """Counts its runs in :data:`RUNS`."""

    kind = "fleet-counted"

    def produce(self, ctx: JobContext) -> int:
        return 1

    def send(self, ctx: JobContext) -> None:
        with _RUNS_LOCK:
            RUNS[ctx.job_id] += 1


@pytest.fixture
def counted() -> Iterator[Counter[str]]:
    register_job_kind(CountedJob.kind, lambda params: CountedJob(), replace=True)
    RUNS.clear()
    yield RUNS
    unregister_job_kind(CountedJob.kind)


@pytest.fixture
def fleet(url: str, clock: FakeClock) -> Iterator[tuple[Ledger, Ledger]]:
    with (
        Ledger(url, clock=clock, instance="alpha", lease=30) as alpha,
        Ledger(url, clock=clock, instance="beta", lease=30) as beta,
    ):
        yield alpha, beta


def _race(*calls: Any) -> list[Any]:
    """Call each of ``calls`` in its own thread, all at once; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def test_two_instances_racing_for_a_due_job_run_it_once(
    fleet: tuple[Ledger, Ledger], counted: Counter[str]
) -> None:
    alpha, beta = fleet
    runners = [Runner(alpha), Runner(beta)]
    winners: Counter[str] = Counter()
    for number in range(RACES):
        job_id = f"race-{number:04d}"
        alpha.add_job(
            job_id, CountedJob.kind, {}, state=JobState.BACKLOG, next_due=NOW, shared=True
        )
        results = _race(runners[0].run_next, runners[1].run_next)
        taken = [r for r in results if r is not None]
        assert [r.job_id for r in taken] == [job_id]
        assert taken[0].outcome is Outcome.SUCCEEDED
        winners[alpha.get(job_id).instance or ""] += 1
    assert counted == Counter({f"race-{n:04d}": 1 for n in range(RACES)})
    assert sum(winners.values()) == RACES
    assert {run.trigger for run in alpha.runs("race-0000")} == {"due"}


def test_two_instances_retrying_one_job_by_its_id_run_it_once(
    fleet: tuple[Ledger, Ledger], counted: Counter[str]
) -> None:
    alpha, beta = fleet
    runners = [Runner(alpha), Runner(beta)]

    def rerun(runner: Runner, job_id: str) -> str | None:
        try:
            return runner.rerun(job_id).job_id
        except Exception:
            return None

    for number in range(RACES // 4):
        job_id = f"retry-{number:04d}"
        alpha.add_job(
            job_id, CountedJob.kind, {}, state=JobState.BACKLOG, next_due=NOW, shared=True
        )
        results = _race(partial(rerun, runners[0], job_id), partial(rerun, runners[1], job_id))
        assert (results.count(job_id), results.count(None)) == (1, 1)
        assert len(alpha.runs(job_id)) == 1
    assert set(counted.values()) == {1}


def test_claimed_keys_are_held_by_one_instance_at_a_time(
    fleet: tuple[Ledger, Ledger], clock: FakeClock
) -> None:
    alpha, beta = fleet
    for number in range(RACES):
        key = f"bucket/edge-1/file-{number}.csv\netag-{number}"
        claims = _race(
            partial(alpha.claim_key, "fetch", key, lease=30),
            partial(beta.claim_key, "fetch", key, lease=30),
        )
        assert len([c for c in claims if c is not None]) == 1
    claim = alpha.claim_key("object", "k1", lease=30, detail={"etag": "e1"})
    assert claim is not None and claim.holder == "alpha"
    assert beta.claim_key("object", "k1", lease=30) is None
    assert alpha.claim_key("object", "k1", lease=30) is None  # held: not twice, even here
    assert alpha.release_key(claim)
    again = beta.claim_key("object", "k1", lease=30)
    assert again is not None and again.holder == "beta"
    assert beta.finish_key(again, {"etag": "e1", "stored": "inbox/k1"})
    clock.advance(3600)
    assert alpha.claim_key("object", "k1", lease=30) is None  # done for good
    done = alpha.key_claim("object", "k1")
    assert done is not None and done.done and done.detail == {"etag": "e1", "stored": "inbox/k1"}


def test_a_claim_whose_holder_stopped_renewing_passes_to_another(
    fleet: tuple[Ledger, Ledger], clock: FakeClock
) -> None:
    alpha, beta = fleet
    held = alpha.claim_key("object", "k2", lease=30)
    assert held is not None
    clock.advance(20)
    assert alpha.renew_keys(30) == 1
    clock.advance(20)
    assert beta.claim_key("object", "k2", lease=30) is None  # renewed: still alpha's
    clock.advance(11)
    taken = beta.claim_key("object", "k2", lease=30)
    assert taken is not None and taken.holder == "beta"
    # The old holder can neither finish nor release the new holder's claim.
    assert not alpha.finish_key(held)
    assert not alpha.release_key(held)
    assert beta.finish_key(taken)


def test_a_dead_instances_running_job_is_taken_over_after_its_lease(
    fleet: tuple[Ledger, Ledger], clock: FakeClock
) -> None:
    alpha, beta = fleet
    alpha.add_job(
        "j1", "scripted", ScriptedJob().params(), state=JobState.BACKLOG, next_due=NOW, shared=True
    )
    run_id = alpha.start_run("j1", trigger="due", claim_from=[JobState.BACKLOG])
    assert run_id is not None
    job = alpha.get("j1")
    lease = clock.now() + timedelta(seconds=30)
    assert (job.state, job.instance, job.lease_until) == (JobState.RUNNING, "alpha", lease)
    clock.advance(25)
    alpha.beat(started_at=clock.now(), generation=1, every=10, lease=30, report={})
    clock.advance(25)
    assert beta.recover_expired() == []  # alpha's heartbeat renewed the lease
    clock.advance(6)  # alpha died: no heartbeat since
    assert beta.recover_expired() == ["j1"]
    job = alpha.get("j1")
    assert (job.state, job.last_outcome) == (JobState.BACKLOG, Outcome.INTERRUPTED)
    [run] = alpha.runs("j1")
    assert (run.outcome, run.instance) == (Outcome.INTERRUPTED, "alpha")
    assert run.error == "the lease of instance alpha ran out"
    result = Runner(beta).run_next()
    assert result is not None and result.ok
    # The old run ending late changes nothing of the job another instance ran since.
    alpha.finish_run(
        run_id, outcome=Outcome.FAILED, attempts=1, items=0, bytes=0, history=[],
        job_state=JobState.BACKLOG,
    )  # fmt: skip
    job = alpha.get("j1")
    assert (job.state, job.instance, job.runs) == (JobState.SUCCEEDED, "beta", 2)


def test_an_instances_own_jobs_are_never_run_by_another(
    fleet: tuple[Ledger, Ledger], counted: Counter[str]
) -> None:
    alpha, beta = fleet
    alpha.add_job("own", CountedJob.kind, {}, state=JobState.BACKLOG, next_due=NOW)
    assert alpha.get("own").scope == "alpha"
    assert [job.id for job in beta.due()] == []
    assert Runner(beta).run_next() is None
    assert [job.id for job in alpha.due()] == ["own"]
    result = Runner(alpha).run_next()
    assert result is not None and result.ok and counted == Counter({"own": 1})


def test_one_route_on_two_hosts_own_spools_is_two_pieces_of_work(
    fleet: tuple[Ledger, Ledger], tmp_path: Path
) -> None:
    alpha, beta = fleet
    outage = tmp_path / "down"
    outage.touch()
    first = Runner(alpha).run(ScriptedJob(identity="route-x", outage=str(outage)))
    second = Runner(beta).run(ScriptedJob(identity="route-x", outage=str(outage)))
    assert first.job_id != second.job_id  # beta did not join alpha's job
    outage.unlink()
    assert Runner(beta).run(ScriptedJob(identity="route-x", outage=str(outage))).ok
    # beta's success supersedes only its own waiting job of the route.
    assert alpha.get(first.job_id).state is JobState.BACKLOG
    assert alpha.get(second.job_id).state is JobState.SUCCEEDED


def test_shared_work_runs_on_one_instance_at_a_time(fleet: tuple[Ledger, Ledger]) -> None:
    alpha, beta = fleet
    inside: list[str] = []

    class Nested(ScriptedJob):
        def send(self, ctx: JobContext) -> None:
            with pytest.raises(WorkClaimed) as refused:
                Runner(beta).run(ScriptedJob(identity="shared-route"), shared=True)
            inside.append(refused.value.holder)

    assert Runner(alpha).run(Nested(identity="shared-route"), shared=True).ok
    assert inside == ["alpha"]
    # Released at the end of the run: beta runs it now, joining no job (none waits).
    assert Runner(beta).run(ScriptedJob(identity="shared-route"), shared=True).ok
    assert beta.key_claim("work", "shared-route") is None


def test_heartbeats_list_every_instance(fleet: tuple[Ledger, Ledger], clock: FakeClock) -> None:
    alpha, beta = fleet
    started = clock.now()
    alpha.beat(started_at=started, generation=2, every=10, lease=30, report={"spools": {"o": 3}})
    beta.beat(started_at=started, generation=1, every=10, lease=30, report={})
    clock.advance(15)
    alpha.beat(started_at=started, generation=3, every=10, lease=30, report={"spools": {"o": 0}})
    beta.stopped()
    clock.advance(30)
    found = {record.name: record for record in alpha.instances()}
    assert sorted(found) == ["alpha", "beta"]
    assert (found["alpha"].generation, found["alpha"].report) == (3, {"spools": {"o": 0}})
    assert found["alpha"].silent(clock.now(), 3) is True  # 30 s without a beat, 10 s apart
    assert found["alpha"].silent(clock.now(), 4) is False
    assert found["beta"].silent(clock.now(), 3) is False  # it said it stopped


def test_retrying_every_waiting_job_leaves_other_instances_own_alone(
    fleet: tuple[Ledger, Ledger], counted: Counter[str]
) -> None:
    from entrepot.jobs import Backlog

    alpha, beta = fleet
    later = datetime(2030, 1, 1, tzinfo=UTC)
    alpha.add_job("alphas", CountedJob.kind, {}, state=JobState.BACKLOG, next_due=later)
    alpha.add_job("anyones", CountedJob.kind, {}, state=JobState.BACKLOG, next_due=later,
                  shared=True)  # fmt: skip
    assert sorted(r.job_id for r in Backlog(beta).retry_all()) == ["anyones"]
    assert alpha.get("alphas").state is JobState.BACKLOG
