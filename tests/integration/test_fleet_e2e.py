"""The fleet end to end (issue 16): edges → SeaweedFS → two central instances → PostgreSQL.

Five real ``entrepot serve`` processes on configuration files
(:mod:`tests.integration._fleet_e2e`), one PostgreSQL ledger, one bucket:

* three edges (``edge-1``…``edge-3``) each receive 1,000 CSV files in two
  spools of their own, and ship them to the bucket under fleet keys with
  exclusive writes;
* two central instances (``central-1``, ``central-2``) fetch the objects
  under claims into two shared spools: ``received`` keeps its files,
  ``orders-in`` is shipped by a shared route into the shared data center's
  watched folder, which imports each file into the table ``orders``;
* ``central-1`` is killed with SIGKILL while it holds claims or runs
  shared jobs, started again under its name once its leases have run out,
  and killed again once it is back at work; it stays dead.

At the end every file is in the central spool once or was imported once
(each order once in the table, no row refused), the bucket is empty,
every object's claim is done and no claim is held, the claims and jobs
``central-1`` held when killed were finished by another process (the
second time by ``central-2``), ``entrepot status --fleet`` shows
``central-1`` silent and the others alive, and ``entrepot trace`` follows
one file from its edge to its import.

Importing is the slow step (a few tenths of a second per file, each its
own import job, on a loaded 2-core machine), so 100 of each edge's files
are order files, imported centrally, and the other 900 are kept in the
central spool: the whole run takes about two minutes.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from entrepot.service.works import has_files
from entrepot.ship.claimed import KIND as OBJECT_CLAIMS
from entrepot.spool import Spool
from tests.integration._fleet_e2e import Deployment, rows, scalar
from tests.servers._common import wait_until
from tests.servers.postgres import PostgresServer

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("postgres")]


EDGES = ("edge-1", "edge-2", "edge-3")
CENTRALS = ("central-1", "central-2")
FILES = 1000  # per edge, of which ORDERS are imported centrally
ORDERS = 100
ROWS = 3  # per file
WAVE = 100  # files an edge receives at a time
RUNNING_IMPORTS = "SELECT id FROM entrepot_jobs WHERE kind = 'import' AND state <> 'succeeded'"


def edge_file(edge: str, number: int) -> tuple[str, bytes]:
    """An edge's ``number``-th file: an order file (ROWS orders) for the first ORDERS."""
    short = edge.removeprefix("edge-")
    kind = "o" if number < ORDERS else "f"
    lines = ["order_id,edge,amount"]
    lines += [f"e{short}-{number:04d}-{row},{edge},{number * 10 + row}" for row in range(ROWS)]
    return f"{kind}-e{short}-{number:04d}.csv", ("\n".join(lines) + "\n").encode()


def names(kind: str) -> set[str]:
    """The names of every edge's order files (``o``) or other files (``f``)."""
    found = {edge_file(edge, n)[0] for edge in EDGES for n in range(FILES)}
    return {name for name in found if name.startswith(kind)}


def produce(fleet: Deployment, stop: threading.Event) -> None:
    """Each edge receives its FILES files, WAVE at a time, while the fleet runs."""
    spools = {(edge, kind): Spool(fleet.root / edge / folder)
              for edge in EDGES for kind, folder in (("o", "orders"), ("f", "outbox"))}  # fmt: skip
    for start in range(0, FILES, WAVE):
        for edge in EDGES:
            for number in range(start, start + WAVE):
                name, data = edge_file(edge, number)
                spools[edge, name[0]].publish_bytes(data, name)
        if stop.wait(0.2):  # pacing of the arrivals, not a synchronisation
            return


@pytest.fixture
def fleet(postgres_server: PostgresServer, s3_server: Any, tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment(postgres_server, s3_server, tmp_path)
    try:
        yield deployment
    finally:
        deployment.close()


def open_claims(fleet: Deployment, holder: str) -> set[str]:
    """Keys of the object claims ``holder`` holds, not done."""
    found = rows(fleet.ledger, "SELECT key FROM entrepot_claims WHERE kind = :kind "
                 "AND holder = :holder AND done_at IS NULL",
                 kind=OBJECT_CLAIMS, holder=holder)  # fmt: skip
    return {row.key for row in found}


def running_jobs(fleet: Deployment, instance: str) -> set[str]:
    """Ids of the shared jobs (imports, the shared route) ``instance`` runs."""
    found = rows(fleet.ledger, "SELECT id FROM entrepot_jobs WHERE state = 'running' "
                 "AND instance = :instance AND scope IS NULL", instance=instance)  # fmt: skip
    return {row.id for row in found}


def settled(fleet: Deployment) -> bool:
    """Every object fetched and removed from the bucket, every order file's import done
    and out of the way.  (A claim is done before its object is deleted: the last
    object's claim can be done while its deletion is still on the wire.)"""
    central = fleet.root / "central"
    waiting = [central / "orders-in" / "new", central / "uploads"]
    if fetched(fleet) < len(EDGES) * FILES or any(map(has_files, waiting)):
        return False
    try:
        finished = scalar(fleet.data, "SELECT count(*) FROM dc_imports WHERE stage = 'done'")
    except sa.exc.ProgrammingError:  # no import yet
        return False
    if finished != len(names("o")) or rows(fleet.ledger, RUNNING_IMPORTS):
        return False
    return fleet.bucket.keys() == []


def fetched(fleet: Deployment, holder: str | None = None) -> int:
    """Objects fetched (their claims done), by ``holder`` or by any instance."""
    sql = "SELECT count(*) FROM entrepot_claims WHERE kind = :kind AND done_at IS NOT NULL"
    if holder is None:
        return int(scalar(fleet.ledger, sql, kind=OBJECT_CLAIMS))
    return int(scalar(fleet.ledger, sql + " AND holder = :holder", kind=OBJECT_CLAIMS,
                      holder=holder))  # fmt: skip


def kill_mid_run(fleet: Deployment, victim: str) -> tuple[set[str], set[str]]:
    """Kill ``victim`` while it holds object claims or runs shared jobs: what it held."""

    def busy() -> bool:
        return bool(open_claims(fleet, victim) or running_jobs(fleet, victim))

    service = fleet.services[victim]
    deadline = time.monotonic() + 120
    while True:
        wait_until(busy, timeout=max(deadline - time.monotonic(), 1), what=f"{victim} at work")
        # Frozen, it cannot finish what it holds between the look and the kill.
        service.send(signal.SIGSTOP)
        if busy() or time.monotonic() > deadline:
            break
        service.send(signal.SIGCONT)
    fleet.kill(victim)
    # Dead, it changes nothing more: what it holds now is what it held when killed —
    # once PostgreSQL has carried out a commit sent just before the freeze (it reads
    # it from the connection after the process is gone; a few milliseconds).
    time.sleep(1)
    return open_claims(fleet, victim), running_jobs(fleet, victim)


def lapsed(fleet: Deployment, instance: str) -> bool:
    """Whether ``instance``'s claims have all run out and it runs no job any more."""
    held = scalar(fleet.ledger, "SELECT count(*) FROM entrepot_claims WHERE holder = :holder "
                  "AND done_at IS NULL AND expires_at > :now",
                  holder=instance, now=datetime.now(UTC).replace(tzinfo=None))  # fmt: skip
    return held == 0 and not running_jobs(fleet, instance)


def finisher(fleet: Deployment, job_id: str) -> str | None:
    """The instance whose run finished the work of ``job_id``: its own last run's, or
    that of the later run of the same work that superseded it (None: not finished)."""
    [job] = rows(fleet.ledger, "SELECT state, reason FROM entrepot_jobs WHERE id = :id",
                 id=job_id)  # fmt: skip
    if job.state == "superseded":
        return finisher(fleet, job.reason.split()[3].rstrip(","))
    if job.state != "succeeded":
        return None
    runs = rows(fleet.ledger, "SELECT instance FROM entrepot_job_runs WHERE job_id = :id "
                "AND outcome = 'succeeded'", id=job_id)  # fmt: skip
    return str(runs[-1].instance)


def stored_by(claim: Any) -> str:
    """The instance that stored an object's file: the one its claim's detail names — a
    claim left landing by a killed instance keeps that instance as its holder when
    another one finds the file landed and finishes it (``entrepot.ship.landing``)."""
    return str((claim.detail or {}).get("by") or claim.holder)


def taken_over(fleet: Deployment, keys: set[str], jobs: set[str]) -> bool:
    """The claims ``keys`` are done and the work of the jobs ``jobs`` is finished."""
    if keys:
        done = rows(fleet.ledger, "SELECT key FROM entrepot_claims WHERE kind = :kind "
                    "AND done_at IS NOT NULL AND key = ANY(:keys)",
                    kind=OBJECT_CLAIMS, keys=list(keys))  # fmt: skip
        if len(done) < len(keys):
            return False
    return all(finisher(fleet, job_id) is not None for job_id in jobs)


def local_names(folder: Path, *areas: str) -> list[str]:
    """The edge names of the files in ``areas`` of a central spool (``edge-1~…~NAME``)."""
    found = [os.listdir(folder / area) for area in areas if (folder / area).is_dir()]
    return sorted(name.rsplit("~", 1)[1] for listed in found for name in listed)


def test_edges_ship_3000_files_that_two_central_instances_fetch_and_import_through_two_kills(
    fleet: Deployment,
) -> None:
    for edge in EDGES:
        for folder in ("outbox", "orders"):
            Spool(fleet.root / edge / folder).prepare()
    fleet.start(*CENTRALS, *EDGES)
    stop = threading.Event()
    producer = threading.Thread(target=produce, args=(fleet, stop), daemon=True)
    producer.start()
    total = len(EDGES) * FILES
    try:
        # First kill, mid-run; once the fleet has seen it dead (its leases ran out, its
        # jobs back in the backlog), central-1 comes back under the same name.
        wait_until(lambda: fetched(fleet) >= total // 10, timeout=120, what="the first fetches")
        first = kill_mid_run(fleet, "central-1")
        wait_until(lambda: lapsed(fleet, "central-1"), timeout=60, what="central-1's leases out")
        before = fetched(fleet, "central-1")
        fleet.start("central-1")

        # Second kill, once the restarted central-1 is at work again and most objects
        # are fetched (from then on, one instance fetches alone); it stays dead.
        def again() -> bool:
            return fetched(fleet, "central-1") >= before + 50 and fetched(fleet) >= total * 0.6

        wait_until(again, timeout=150, what="central-1 at work again")
        second = kill_mid_run(fleet, "central-1")
        producer.join(timeout=120)
        wait_until(lambda: settled(fleet), timeout=180, what="every file fetched and imported")
        held = first[0] | second[0], first[1] | second[1]
        wait_until(lambda: taken_over(fleet, *held), timeout=60, what="the take-over")
    finally:
        stop.set()

    # Every order once; every order file imported once, with no row refused.
    done = len(names("o")) * ROWS
    count, distinct = rows(fleet.data, "SELECT count(*), count(DISTINCT order_id) FROM orders")[0]
    assert (count, distinct) == (done, done)
    imports = rows(fleet.data, "SELECT * FROM dc_imports")
    odd = [i for i in imports if (i.rows_ok, i.rows_failed, i.stage) != (ROWS, 0, "done")]
    assert odd == []
    assert sorted(i.source_name.rsplit("~", 1)[1] for i in imports) == sorted(names("o")), [
        i for i in imports if not i.source_name.endswith(".csv")
    ]
    # Every other file is in the central spool once; the order files went on to be imported.
    central = fleet.root / "central"
    assert local_names(central / "received", "new", "cur", "claimed") == sorted(names("f"))
    assert local_names(central / "orders-in", "cur") == sorted(names("o"))
    assert local_names(central / "orders-in", "new", "claimed") == []
    assert [name for name in os.listdir(central / "uploads") if not name.startswith(".")] == []
    # Each edge shipped each of its files once, under its own keys; the bucket is empty.
    for edge in EDGES:
        for folder, count in (("outbox", FILES - ORDERS), ("orders", ORDERS)):
            spool = Spool(fleet.root / edge / folder)
            assert (len(spool.names("cur")), spool.names("new")) == (count, [])
    assert fleet.bucket.keys() == []
    # Every object claimed once by key and ETag, and done; no claim left open.
    claims = rows(fleet.ledger, "SELECT * FROM entrepot_claims")
    objects = [c for c in claims if c.kind == OBJECT_CLAIMS]
    assert len(objects) == total and all(c.done_at is not None for c in objects)
    # Any other claim not done is one the dead central-1 left, its lease run out: free.
    now = datetime.now(UTC).replace(tzinfo=None)
    left = [c for c in claims if c.done_at is None]
    assert all(c.holder == "central-1" and c.expires_at < now for c in left), left
    # What central-1 held when killed was finished by another process: the second
    # time, by central-2; the first, by central-2 or central-1 started again.
    assert first[0] | first[1] and second[0] | second[1], "central-1 was killed idle"
    for (keys, jobs), finishers in ((first, set(CENTRALS)), (second, {"central-2"})):
        assert {stored_by(c) for c in objects if c.key in keys} <= finishers
        for job_id in jobs:
            runs = rows(fleet.ledger, "SELECT instance, outcome FROM entrepot_job_runs "
                        "WHERE job_id = :id ORDER BY number", id=job_id)  # fmt: skip
            assert ("central-1", "interrupted") in [(r.instance, r.outcome) for r in runs]
            assert finisher(fleet, job_id) in finishers
    # The fleet view: central-1 silent, the others alive.
    code, view = fleet.fleet_view("central-2")
    states = {i["name"]: i["state"] for i in view["instances"]}
    assert states == {"central-1": "silent", "central-2": "alive"} | dict.fromkeys(EDGES, "alive")
    assert (code, view["silent"]) == (1, ["central-1"])
    # One file's journey: edge-2 received it, shipped it under its key, a central
    # instance fetched it, shipped it to the watched folder, and it was imported.
    # A file central-2 imported: events the killed instance had only journaled
    # wait in its own state folder for its return.
    name = next(
        original for original in sorted(i.source_name.rsplit("~", 1)[1] for i in imports
                                        if i.source_name.startswith("orders.edge-2~"))
        if finisher(fleet, job_of(imports, original)) == "central-2"
    )  # fmt: skip
    trace = ""
    deadline = time.monotonic() + 180  # a loaded CI machine: each trace is a new process
    while "imported into orders" not in trace and time.monotonic() < deadline:
        trace = fleet.trace(f"*{name}")  # the import's events follow its bookkeeping
    assert "imported into orders" in trace, trace
    sent, got = re.findall(r" key (s3://\S+)", trace)  # the edge's, then the central's
    assert sent == got and sent.endswith(f"/{name}") and "/orders/edge-2/" in sent
    assert "instance edge-2" in trace and re.search(r"received .* instance central-[12] ", trace)
    assert "uploads/orders.edge-2~" in trace and "imported into orders" in trace


def job_of(imports: list[Any], original: str) -> str:
    """The job that imported the edge's file ``original``."""
    (job_id,) = [i.job_id for i in imports if i.source_name.endswith(f"~{original}")]
    return str(job_id)
