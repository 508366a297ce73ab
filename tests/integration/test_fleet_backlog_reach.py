"""A service's backlog lane takes only the due jobs it should.

Found by the fleet's end-to-end test:

* an edge instance (no data center, no central route) re-ran a shared
  route's job and shared imports that a killed central instance had left —
  on a real deployment it has neither the central spool nor the data
  center, and its backlog lane ran the route without the claim on its
  work, beside the central instance's lane;
* a job a lane had just recorded, before its run started, was taken by
  another instance's backlog lane, and the lane's pass failed ("taken by
  another runner before it started").

Found with SQLite held to 999 values a statement, as its builds before 3.32
are ("too many SQL variables"):

* a pass named every job it had run in each query for the next, so a pass
  over more than some 990 due jobs failed;
* the lane's query named the identity of every route and fetch of the
  configuration, so a service of a thousand routes could re-run nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from entrepot.errors import ConnectionFailed
from entrepot.jobs import Job, JobContext, JobState, Ledger, RetryPolicy, Runner, register_job_kind
from entrepot.jobs.kinds import unregister_job_kind
from entrepot.jobs.records import JobRecord
from entrepot.service.loading import load_config
from entrepot.service.telemetry import Telemetry
from entrepot.service.works import BacklogWork, Context, foreign_kinds

EDGE = """\
[service]
state = "state"
instance = "edge-1"
"""

CENTRAL = (
    EDGE.replace("edge-1", "central-2")
    + """
[datacenter]
root = "dc"
shared = true
"""
)


class Probe(Job):
    """A job of the tests' own kind: any instance may run it."""

    kind = "reach-probe"

    def params(self) -> dict[str, str]:
        return {}

    def produce(self, ctx: JobContext) -> int:
        return 1

    def send(self, ctx: JobContext) -> None:
        """Nothing to send: that it ran is the point."""


class Refused(Probe):
    """A probe whose every send fails."""

    kind = "reach-refused"

    def send(self, ctx: JobContext) -> None:
        raise ConnectionFailed("refused")


@pytest.fixture
def probe_kind() -> Iterator[None]:
    register_job_kind(Probe.kind, lambda params: Probe())
    register_job_kind(Refused.kind, lambda params: Refused())
    yield
    unregister_job_kind(Probe.kind)
    unregister_job_kind(Refused.kind)


def test_claim_due_leaves_shared_jobs_of_skipped_kinds_but_takes_its_own(
    either_database: str,
) -> None:
    now = datetime.now(UTC)
    with Ledger(either_database, instance="central-1") as central:
        central.add_job("shared-import", "import", {}, next_due=now, shared=True)
        central.add_job("shared-route", "ship", {}, next_due=now, shared=True)
    with Ledger(either_database, instance="edge-1") as edge:
        edge.add_job("own-ship", "ship", {}, next_due=now)
        edge.add_job("shared-other", Probe.kind, {}, next_due=now, shared=True)
        taken = []
        while claimed := edge.claim_due(skip_shared_kinds={"import", "ship"}):
            taken.append(claimed[0].id)
        assert sorted(taken) == ["own-ship", "shared-other"]


def test_a_new_job_is_not_taken_by_another_backlog_lane_before_its_run_starts(
    either_database: str, monkeypatch: pytest.MonkeyPatch, probe_kind: None
) -> None:
    with Ledger(either_database, instance="central-1") as ledger, \
            Ledger(either_database, instance="central-2") as other:  # fmt: skip
        recorded = ledger.add_job
        taken = []

        def recorded_then_looked_for(*args: Any, **kwargs: Any) -> JobRecord:
            record = recorded(*args, **kwargs)
            taken.append(other.claim_due())  # the other instance's lane, in between
            return record

        monkeypatch.setattr(ledger, "add_job", recorded_then_looked_for)
        result = Runner(ledger).run(Probe(), shared=True)
        assert taken == [None]
        assert result.ok and ledger.get(result.job_id).instance == "central-1"


def test_an_edges_backlog_lane_runs_no_shared_route_or_import_of_the_centrals(
    tmp_path: Path, probe_kind: None
) -> None:
    (tmp_path / "edge.toml").write_text(EDGE)
    (tmp_path / "central.toml").write_text(CENTRAL)
    edge, central = load_config(tmp_path / "edge.toml"), load_config(tmp_path / "central.toml")
    assert foreign_kinds(edge) == {"ship", "fetch", "import"}
    assert foreign_kinds(central) == {"ship", "fetch"}
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    now = datetime.now(UTC)
    with Ledger(url, instance="central-1") as ledger:
        # What a killed central instance leaves: its shared route's and imports' jobs.
        ledger.add_job("central-route", "ship", {}, next_due=now, identity="r" * 64, shared=True)
        ledger.add_job("central-import", "import", {}, next_due=now, shared=True)
        ledger.add_job("anyones", Probe.kind, {}, next_due=now, shared=True)
    with Ledger(url, instance="edge-1") as ledger:
        runner = Runner(ledger)
        ctx = Context(edge, ledger, runner, Telemetry(), threading.Event(), lambda *a: None)
        BacklogWork(ctx, dict).run("due")
        runs = {job_id: len(ledger.runs(job_id)) for job_id in ("central-route",
                "central-import", "anyones")}  # fmt: skip
    assert runs == {"central-route": 0, "central-import": 0, "anyones": 1}


def test_a_backlog_pass_runs_each_due_job_once_however_many(
    tmp_path: Path, probe_kind: None
) -> None:
    (tmp_path / "edge.toml").write_text(EDGE)
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    now = datetime.now(UTC)
    with Ledger(url, instance="edge-1") as ledger:
        for number in range(1_000):
            ledger.add_job(f"probe-{number:04}", Probe.kind, {}, next_due=now)
        ledger.add_job("refused", Refused.kind, {}, next_due=now)
        # No wait between runs: the refused job is due again as soon as its run ends.
        runner = Runner(ledger, policy=RetryPolicy(attempts=1),
                        reruns=RetryPolicy(attempts=9, delay=0, jitter=0))  # fmt: skip
        ctx = Context(load_config(tmp_path / "edge.toml"), ledger, runner, Telemetry(),
                      threading.Event(), lambda *a: None)  # fmt: skip
        BacklogWork(ctx, dict).run("due")
        assert len(ledger.jobs(states=[JobState.SUCCEEDED])) == 1_000
        refused = ledger.get("refused")
        assert refused.state == JobState.BACKLOG and refused.runs == 1
        assert refused.next_due is not None and refused.next_due <= datetime.now(UTC)
        BacklogWork(ctx, dict).run("due")  # the next pass takes it again, once
        assert ledger.get("refused").runs == 2


def test_a_lane_that_leaves_more_routes_than_a_statement_may_name_still_claims(
    either_database: str,
) -> None:
    # A service of a thousand routes: their identities are too many to name in the
    # claim's query on SQLite builds before 3.32; the jobs of 250 of them are due first.
    owned = [f"{number:064x}" for number in range(1_000)]
    first = datetime(2026, 1, 1, tzinfo=UTC)
    with Ledger(either_database, instance="edge-1") as ledger:
        for number, identity in enumerate(owned[:250]):
            due = first + timedelta(seconds=number)
            ledger.add_job(f"route-{number:03}", "ship", {}, next_due=due, identity=identity)
        ledger.add_job("one-shot", "ship", {}, next_due=first + timedelta(hours=1))
        ledger.add_job("other", "ship", {}, next_due=first + timedelta(hours=2), identity="f" * 64)
        taken = []
        while claimed := ledger.claim_due(skip_identities=owned):
            taken.append(claimed[0].id)
        assert taken == ["one-shot", "other"]
        assert ledger.claim_due(skip_identities=owned[:10]) is not None  # route-010 on
