"""Fleet routes and claimed fetches made from the configuration, and claims at work on a
local folder with a SQLite ledger (issue 16, edge → central through S3).

* ``fleet = true`` on a route: the fleet name template and the ``exclusive``
  conflict policy (an explicit ``conflict`` wins); the instance is
  ``[service] instance`` or the host name.
* ``claims = true`` on a fetch: the job claims each file in its ledger.
* A file whose claim is done yet still on the remote side (its fetcher died
  before removing it, or an edge wrote it again) is removed, not fetched again.
* A claim held by another fetcher is left alone; once its lease has run out
  it is taken over.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from entrepot.errors import ConfigError
from entrepot.jobs import Ledger, Runner
from entrepot.service.building import fetch_job, instance_of, ship_job
from entrepot.service.loading import load_config
from entrepot.ship import Fetcher, FetchJob, ShipOptions
from entrepot.ship.claimed import FetchClaims, source_identity, walk
from entrepot.ship.naming import FLEET_TEMPLATE
from entrepot.spool import Spool
from entrepot.targets import open_target

CONFIG = """\
[targets.bucket]
url = "{bucket}"

[spools.outbox]
path = "outbox"

[spools.inbox]
path = "inbox"

[routes.orders]
spool = "outbox"
target = "bucket"
every = "1m"
fleet = true

[routes.strict]
spool = "outbox"
target = "bucket"
every = "1m"
fleet = true
conflict = "fail"

[fetches.central]
target = "bucket"
spool = "inbox"
every = "1m"
claims = true
claim_lease = "2m"
"""


def _config(tmp_path: Path) -> Path:
    (tmp_path / "bucket").mkdir()
    path = tmp_path / "entrepot.toml"
    path.write_text(CONFIG.format(bucket=tmp_path / "bucket"))
    return path


def test_a_fleet_route_names_by_instance_and_writes_exclusively(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path))
    options = ship_job(config, "orders").route.options
    assert options.remote_name == FLEET_TEMPLATE and options.conflict == "exclusive"
    assert options.instance == instance_of(config) and options.route_name == "orders"
    assert ship_job(config, "strict").route.options.conflict == "fail"
    fetch = fetch_job(config, "central").route.options
    assert fetch.claims and fetch.claim_lease == 120.0


def test_a_claimed_fetch_needs_a_ledger(tmp_path: Path) -> None:
    Spool(tmp_path / "inbox").prepare()
    (tmp_path / "remote").mkdir()
    (tmp_path / "remote" / "a.csv").write_text("a\n")
    options = ShipOptions(claims=True)
    fetcher = Fetcher(tmp_path / "inbox", str(tmp_path / "remote"), options=options)
    with pytest.raises(ConfigError, match="needs a ledger"):
        fetcher.run()
    assert (tmp_path / "remote" / "a.csv").exists()


def _remote(tmp_path: Path) -> Path:
    remote = tmp_path / "remote"
    (remote / "edge-1" / "orders").mkdir(parents=True)
    for name in ("a.csv", "b.csv"):
        (remote / "edge-1" / "orders" / name).write_text(name)
    return remote


def test_claims_fetch_sub_folders_once_and_remove_what_was_fetched_before(tmp_path: Path) -> None:
    remote = _remote(tmp_path)
    inbox = Spool(tmp_path / "inbox").prepare()
    again = remote / "edge-1" / "orders" / "a.csv"
    before = os.stat(again)
    ledger = Ledger.open(tmp_path / "state")
    try:
        job = FetchJob(str(inbox.root), str(remote), options={"claims": True, "instance": "c1"})
        assert Runner(ledger).run(job).ok
        assert sorted(inbox.names("new")) == ["edge-1~orders~a.csv", "edge-1~orders~b.csv"]
        # The same bytes written again (same size and time: the same version).
        again.write_text("a.csv")
        os.utime(again, ns=(before.st_atime_ns, before.st_mtime_ns))
        job = FetchJob(str(inbox.root), str(remote), options={"claims": True, "instance": "c1"})
        result = Runner(ledger).run(job)
    finally:
        ledger.close()
    assert result.ok and job.report.done == []
    assert not again.exists()
    assert len(inbox.names("new")) == 2


def test_a_claim_held_elsewhere_waits_for_its_lease(tmp_path: Path) -> None:
    remote = _remote(tmp_path)
    inbox = Spool(tmp_path / "inbox").prepare()
    ledger = Ledger.open(tmp_path / "state")
    try:
        fetcher = Fetcher(inbox, str(remote), options=ShipOptions(claims=True, claim_lease=1))
        claims = FetchClaims(ledger, source_identity(fetcher), "c2", lease=1)
        with open_target(str(remote)) as target:
            held = claims.take(next(i for i in walk(target) if i.name.endswith("a.csv")))
        assert held is not None  # another fetcher, which then dies
        fetcher.claims = FetchClaims(ledger, source_identity(fetcher), "c1", lease=1)
        assert fetcher.run().done == ["edge-1/orders/b.csv"]
        time.sleep(1.2)
        assert fetcher.run().done == ["edge-1/orders/a.csv"]
    finally:
        ledger.close()
    assert sorted(inbox.names("new")) == ["edge-1~orders~a.csv", "edge-1~orders~b.csv"]


def test_a_fetch_syncs_each_file_and_new_but_not_tmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Per file: the data, then new/ once it is renamed there; a sync of tmp/ in
    # between made nothing more durable and cost a third of the syncs.
    from entrepot import durable

    remote = _remote(tmp_path)
    inbox = Spool(tmp_path / "inbox").prepare()
    synced: list[str] = []
    real = durable.fsync_dir
    monkeypatch.setattr(durable, "fsync_dir", lambda path: synced.append(str(path)) or real(path))
    assert len(Fetcher(inbox, str(remote / "edge-1" / "orders")).run().done) == 2
    assert not [path for path in synced if Path(path).name == "tmp"]
