"""Edge → central through S3, with real SeaweedFS and PostgreSQL (issue 16).

* An edge killed with SIGKILL in the middle of a run ships again into the
  same keys: every file once, under its deterministic name, no second copy.
* Two central fetchers (processes of their own, spools of their own) over
  1,000 objects fetch each exactly once, claimed in one PostgreSQL ledger,
  and leave the bucket empty.
* A fetcher killed mid-run: every object it removed is in its spool (the
  remote copy goes only after the local one is durable), and its claims are
  taken over by another fetcher once their lease has run out.
* Provenance follows a file across the fleet: edge instance → key →
  central instance, in ``entrepot trace``.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from entrepot.jobs import Ledger, Runner
from entrepot.jobs.claims import claims_table
from entrepot.provenance import Kind, find
from entrepot.ship import FetchJob, ShipJob
from entrepot.ship.claimed import KIND, local_name
from entrepot.ship.naming import FLEET_TEMPLATE
from entrepot.spool import Spool
from tests.integration._fleet_s3 import entrepot, fetcher, finished, put_objects

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("postgres")]

RECEIVED = 1764892800.0  # 2025-12-05 UTC
DAY = "2025/12/05"


def _spool(path: Path, count: int = 0) -> Spool:
    spool = Spool(path).prepare()
    for n in range(count):
        name = f"f{n:04d}.csv"
        spool.publish_bytes(f"{name}\n".encode(), name)
        os.utime(spool.path("new", name), (RECEIVED, RECEIVED))
    return spool


def _objects(folder: Any) -> dict[str, bytes]:
    client = folder.client()
    found, listed = {}, folder.keys()
    for key in listed:
        body = client.get_object(Bucket=folder.bucket, Key=f"{folder.prefix}/{key}")["Body"]
        found[key] = body.read()
    return found


def _wait_for(check: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def test_an_edge_killed_mid_run_ships_again_into_the_same_keys_once(
    s3_server: Any, tmp_path: Path
) -> None:
    spool = _spool(tmp_path / "outbox", 300)
    ship = ("ship", spool.root, s3_server.url, "--remote-name", FLEET_TEMPLATE,
            "--conflict", "exclusive", "--state", tmp_path / "state")  # fmt: skip
    edge = entrepot(s3_server, "edge-1", *ship)
    # Watched in cur/ (a listing of the bucket is too slow to catch the run midway).
    _wait_for(lambda: len(spool.names("cur")) >= 40 or edge.poll() is not None, "uploads")
    edge.send_signal(signal.SIGKILL)
    assert finished(edge) == -signal.SIGKILL
    assert finished(entrepot(s3_server, "edge-1", *ship)) == 0
    objects = _objects(s3_server)
    expected = {f"edge-1/outbox/{DAY}/f{n:04d}.csv" for n in range(300)}
    assert set(objects) == expected  # one key per file: no renamed or second copy
    assert all(body == key.rsplit("/", 1)[1].encode() + b"\n" for key, body in objects.items())
    assert spool.names("new") == [] and len(spool.names("cur")) == 300


def _names_in(spool: Path) -> set[str]:
    return set(os.listdir(spool / "new"))


def test_two_central_fetchers_fetch_each_of_1000_objects_once(
    s3_server: Any, postgres_url: str, tmp_path: Path
) -> None:
    names = [f"edge-{n % 3}/orders/{DAY}/f{n:04d}.csv" for n in range(1000)]
    put_objects(s3_server, names)
    spools = [_spool(tmp_path / f"central-{n}").root for n in (1, 2)]
    runs = [fetcher(s3_server, f"central-{n}", spools[n - 1], postgres_url) for n in (1, 2)]
    assert [finished(run) for run in runs] == [0, 0]
    first, second = (_names_in(spool) for spool in spools)
    assert not first & second
    assert first | second == {local_name(name) for name in names}
    assert s3_server.keys() == []
    with Ledger(postgres_url) as ledger:
        received = [e for e in find(ledger.engine, "edge-*") if e.kind is Kind.RECEIVED]
    assert sorted(e.details["key"].rsplit("/", 6)[-1] for e in received) == sorted(
        name.rsplit("/", 6)[-1] for name in names
    )
    assert {e.details["instance"] for e in received} <= {"central-1", "central-2"}


def test_a_killed_fetcher_lost_nothing_and_its_claims_are_taken_over(
    s3_server: Any, postgres_url: str, tmp_path: Path
) -> None:
    names = [f"edge-1/orders/{DAY}/g{n:04d}.csv" for n in range(300)]
    put_objects(s3_server, names)
    spool = _spool(tmp_path / "central").root
    lease = ("--claim-lease", "2s")
    victim = fetcher(s3_server, "central-1", spool, postgres_url, *lease)
    _wait_for(lambda: len(_names_in(spool)) >= 30 or victim.poll() is not None, "fetches")
    victim.send_signal(signal.SIGKILL)
    assert finished(victim) == -signal.SIGKILL
    # The remote copy goes only once the local one is in new/: nothing is lost.
    left = s3_server.keys()
    gone = {local_name(name) for name in names} - {local_name(key) for key in left}
    assert gone <= _names_in(spool)
    # Another fetcher on the same spool (a second process of that host): the
    # files the dead one held wait for its lease to run out, then are taken over.
    assert finished(fetcher(s3_server, "central-2", spool, postgres_url, *lease)) == 0
    time.sleep(2.5)
    assert finished(fetcher(s3_server, "central-2", spool, postgres_url, *lease)) == 0
    assert s3_server.keys() == []
    assert _names_in(spool) == {local_name(name) for name in names}
    with Ledger(postgres_url) as ledger, ledger.engine.connect() as conn:
        c = claims_table.c
        rows = conn.execute(claims_table.select().where(c.kind == KIND)).all()
    assert len(rows) == 300 and all(row.done_at is not None for row in rows)


def test_provenance_follows_a_file_from_edge_to_central(
    s3_server: Any, tmp_path: Path, cli: Any
) -> None:
    _spool(tmp_path / "outbox", 1)
    _spool(tmp_path / "inbox")
    s3 = {"access_key": s3_server.access_key, "secret_key": s3_server.secret_key}
    edge = {"remote_name": FLEET_TEMPLATE, "instance": "edge-1", "route_name": "orders",
            "conflict": "exclusive"}  # fmt: skip
    ledger = Ledger.open(tmp_path / "state")
    try:
        runner = Runner(ledger)
        ship = ShipJob(str(tmp_path / "outbox"), s3_server.url, options=edge, target_options=s3)
        assert runner.run(ship).ok
        central = {"claims": True, "instance": "central-1"}
        fetch = FetchJob(str(tmp_path / "inbox"), s3_server.url, options=central,
                         target_options=s3)  # fmt: skip
        assert runner.run(fetch).ok
        sent = [e for e in find(ledger.engine, "f0000.csv") if e.kind is Kind.DELIVERED]
        local = local_name(f"edge-1/orders/{DAY}/f0000.csv")
        got = [e for e in find(ledger.engine, local) if e.kind is Kind.RECEIVED]
    finally:
        ledger.close()
    assert sent[0].details["instance"] == "edge-1"
    assert got[0].details["instance"] == "central-1"
    assert sent[0].details["key"] == got[0].details["key"]
    assert sent[0].details["key"].endswith(f"/edge-1/orders/{DAY}/f0000.csv")
    assert got[0].details["etag"]
    # Where it came from: the object's URL, its name in the path, never after the query.
    base, query = s3_server.url.split("?")
    assert got[0].details["source"] == f"{base}/edge-1/orders/{DAY}/f0000.csv?{query}"
    code, out, _ = cli("trace", "*f0000.csv", "--state", tmp_path / "state")
    assert code == 0
    assert "instance edge-1" in out and "instance central-1" in out
    assert out.count(f"key {sent[0].details['key']}") == 2
