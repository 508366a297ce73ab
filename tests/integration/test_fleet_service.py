"""Whole services in a fleet: ``entrepot serve`` processes sharing one real PostgreSQL ledger.

Each instance is a real ``serve`` subprocess (with a job kind of the tests,
:mod:`tests.integration.fleet_node`) with its own state folder and instance
name; heartbeats come every 0.3 s and leases last 1.5 s, so an instance
killed with ``kill -9`` is seen silent, and its work taken over, within
seconds.  No timing is asserted beyond generous waits.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from entrepot.jobs import JobState, Ledger, Outcome
from tests.integration._service import Service
from tests.integration.fleet_node import HoldJob, ran
from tests.servers._common import wait_until
from tests.servers.postgres import PostgresServer
from tests.unit.test_dc_job import SCHEMA

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("postgres")]

NODE = """\
[service]
state = "state-{name}"
ledger = "postgresql://{user}@{host}:{port}/{db}"
instance = "{name}"
scan_every = "1s"
grace = "5s"
backlog = {{ delay = "1s", max_delay = "2s", runs = 100 }}
fleet = {{ heartbeat = "0.3s", lease = "1.5s", silent_after = 3 }}
{extra}
"""


class Node(Service):
    module = "tests.integration.fleet_node"


class Fleet:
    """A database on the test server, and nodes started on it."""

    def __init__(self, server: PostgresServer, root: Path) -> None:
        self.server = server
        self.root = root
        self.db = server.create_database()
        self.url = server.url(self.db)
        self.nodes: dict[str, Node] = {}
        self.work = root / "work"
        for folder in ("started", "done"):
            (self.work / folder).mkdir(parents=True)
        source = Path(__file__).resolve().parents[2]
        path = os.pathsep.join([str(source / "src"), str(source)])
        self.env = {"PGPASSWORD": server.password, "PYTHONPATH": path}

    def config(self, name: str, extra: str = "") -> Path:
        server = self.server
        text = NODE.format(name=name, user=server.user, host=server.host, port=server.port,
                           db=self.db, extra=extra)  # fmt: skip
        path = self.root / f"{name}.toml"
        path.write_text(text)
        return path

    def start(self, name: str, extra: str = "") -> Node:
        node = Node(self.config(name, extra), env=self.env)
        self.nodes[name] = node
        return node.start()

    def ledger(self) -> Ledger:
        return Ledger(self.url, instance="test")

    def submit(self, ledger: Ledger, job_id: str) -> None:
        params = HoldJob(str(self.work)).params()
        ledger.add_job(job_id, HoldJob.kind, params, next_due=datetime.now(UTC), shared=True)

    def status(self, name: str) -> tuple[int, dict[str, object]]:
        done = subprocess.run(
            [sys.executable, "-m", "entrepot", "status", "--fleet", "--json",
             "--config", str(self.root / f"{name}.toml")],
            capture_output=True, text=True, env={**os.environ, **self.env}, timeout=60,
        )  # fmt: skip
        return done.returncode, json.loads(done.stdout)

    def close(self) -> None:
        for node in self.nodes.values():
            node.close()


@pytest.fixture
def fleet(postgres_server: PostgresServer, tmp_path: Path) -> Iterator[Fleet]:
    group = Fleet(postgres_server, tmp_path)
    try:
        yield group
    finally:
        group.close()


def test_two_services_racing_for_backlog_jobs_run_each_once(fleet: Fleet) -> None:
    fleet.start("alpha")
    fleet.start("beta")
    jobs = [f"shared-{number:03d}" for number in range(40)]
    with fleet.ledger() as ledger:
        for job_id in jobs:
            fleet.submit(ledger, job_id)

        def finished() -> bool:
            return {job.state for job in map(ledger.get, jobs)} == {JobState.SUCCEEDED}

        wait_until(finished, timeout=120, what="every job run")
        assert [len(ledger.runs(job_id)) for job_id in jobs] == [1] * len(jobs)
    started = ran(fleet.work, "started")
    assert sorted(job for job, _ in started) == jobs  # each job started once, in all
    assert ran(fleet.work, "done") == started


def test_a_killed_instances_job_is_finished_by_another_after_its_lease(fleet: Fleet) -> None:
    (fleet.work / "hold").touch()
    fleet.start("alpha")
    fleet.start("beta")
    with fleet.ledger() as ledger:
        fleet.submit(ledger, "held-job")
        wait_until(lambda: ran(fleet.work, "started"), timeout=60, what="a run started")
        [(_, victim)] = ran(fleet.work, "started")
        survivor = "beta" if victim == "alpha" else "alpha"
        assert ledger.get("held-job").instance == victim
        fleet.nodes[victim].kill()  # kill -9: no clean-up, the lease is left to run out
        (fleet.work / "hold").unlink()
        wait_until(lambda: ledger.get("held-job").state is JobState.SUCCEEDED, timeout=60,
                   what="the job finished")  # fmt: skip
        assert ran(fleet.work, "done") == [("held-job", survivor)]
        assert ledger.get("held-job").instance == survivor
        runs = [(run.instance, run.outcome, run.error) for run in ledger.runs("held-job")]
        assert runs == [
            (victim, Outcome.INTERRUPTED, f"the lease of instance {victim} ran out"),
            (survivor, Outcome.SUCCEEDED, None),
        ]
    code, view = fleet.status(survivor)
    states = {i["name"]: i["state"] for i in view["instances"]}  # type: ignore[attr-defined]
    assert states == {victim: "silent", survivor: "alive"}
    assert (code, view["silent"]) == (1, [victim])
    assert "service.fleet_recovered" in fleet.nodes[survivor].log()


DATACENTER = """
[datacenter]
root = "{root}"
database = "postgresql://{user}@{host}:{port}/{db}"
watch = "{watch}"
settle = "0.2s"
shared = true
"""


def test_an_import_killed_midway_is_resumed_by_another_instance_with_every_row_once(
    fleet: Fleet,
) -> None:
    from entrepot.datacenter import DataCenter

    server, rows = fleet.server, 250_000
    data = server.create_database()
    root, watch = fleet.root / "dc", fleet.root / "uploads"
    DataCenter(root, create=True)
    (root / "schema.toml").write_text(SCHEMA)
    watch.mkdir()
    extra = DATACENTER.format(root=root, watch=watch, user=server.user, host=server.host,
                              port=server.port, db=data)  # fmt: skip
    fleet.start("alpha", extra)
    fleet.start("beta", extra)
    part = watch / "students.csv.part"
    with open(part, "w") as out:
        out.write("student_id,name\n")
        out.writelines(f"S{n:07d},Name {n}\n" for n in range(rows))
    part.rename(watch / "students.csv")
    engine = sa.create_engine(server.url(data))
    ledger = fleet.ledger()
    try:

        def chunks() -> int:
            with engine.connect() as conn:
                if not sa.inspect(conn).has_table("dc_committed_chunks"):
                    return 0
                found = conn.execute(sa.text("SELECT count(*) FROM dc_committed_chunks"))
                return int(found.scalar_one())

        wait_until(lambda: chunks() > 0, timeout=120, what="a chunk committed")
        [job] = ledger.jobs(kind="import")
        assert job.state is JobState.RUNNING and job.instance is not None
        victim = job.instance
        survivor = "beta" if victim == "alpha" else "alpha"
        fleet.nodes[victim].kill()
        committed = chunks()  # by the victim: its connection is gone, nothing more comes

        def finished() -> bool:
            return ledger.get(job.id).state is JobState.SUCCEEDED

        wait_until(finished, timeout=180, what="the import finished by the other instance")
        with engine.connect() as conn:
            count, distinct = conn.execute(
                sa.text("SELECT count(*), count(DISTINCT student_id) FROM students")
            ).one()
            outcome = conn.execute(
                sa.text("SELECT rows_ok, rows_failed, stage FROM dc_imports")
            ).one()
        assert (count, distinct) == (rows, rows)
        assert (outcome.rows_ok, outcome.rows_failed, outcome.stage) == (rows, 0, "done")
        runs = [(run.instance, run.outcome) for run in ledger.runs(job.id)]
        assert runs == [(victim, Outcome.INTERRUPTED), (survivor, Outcome.SUCCEEDED)]
        # The survivor went on after the chunks the victim had committed: starting
        # over would have found their keys taken and rejected those rows.
        assert committed > 0 and chunks() > committed
        assert not (watch / "students.csv").exists()
        assert (root / "finished" / "students.csv").is_file()
    finally:
        ledger.close()
        engine.dispose()


SHARED_ROUTE = """
[spools.shared]
path = "{root}/shared-spool"

[targets.out]
url = "file://{root}/delivered"

[routes.to-out]
spool = "shared"
target = "out"
every = "1s"
shared = true
"""


def test_a_shared_route_runs_on_one_instance_at_a_time_and_ships_each_file_once(
    fleet: Fleet,
) -> None:
    from entrepot.spool import Spool

    spool = Spool(fleet.root / "shared-spool").prepare()
    (fleet.root / "delivered").mkdir()
    extra = SHARED_ROUTE.format(root=fleet.root)
    fleet.start("alpha", extra)
    fleet.start("beta", extra)
    names = []
    for wave in range(20):
        for number in range(10):
            names.append(
                spool.publish_bytes(f"{wave}-{number}\n".encode(), f"f{wave}-{number}.txt")
            )
        time.sleep(0.15)
    wait_until(lambda: len(list((fleet.root / "delivered").iterdir())) == len(names),
               timeout=120, what="every file delivered")  # fmt: skip
    engine = sa.create_engine(fleet.url)
    query = sa.text(
        "SELECT name, count(*) FROM entrepot_provenance WHERE kind = 'delivered' GROUP BY name"
    )

    def delivered_events() -> list[Any]:
        with engine.connect() as conn:
            return list(conn.execute(query).all())

    try:
        # A run's events reach the ledger when it ends, just after its last file landed.
        wait_until(lambda: len(delivered_events()) == len(names),
                   timeout=60, what="every delivery recorded")  # fmt: skip
        delivered = delivered_events()
        with engine.connect() as conn:
            runs = conn.execute(
                sa.text("SELECT instance, started_at, ended_at FROM entrepot_job_runs "
                        "WHERE items > 0 ORDER BY started_at")
            ).all()  # fmt: skip
    finally:
        engine.dispose()
    assert sorted(delivered) == sorted((name, 1) for name in names)
    # The runs that shipped, whichever instance ran them, never overlapped.
    assert runs and all(later.started_at >= earlier.ended_at
                        for earlier, later in itertools.pairwise(runs))  # fmt: skip
    assert {run.instance for run in runs} <= {"alpha", "beta"}
