"""Deterministic, host-qualified remote names (issue 16, edge → central through S3).

A route's ``remote_name`` template names each file; the fleet template
``{instance}/{route}/{yyyy}/{mm}/{dd}/{name}`` takes the day the file was
received into the spool (not the clock at upload), so a delivery tried
again — after a failure, in a later run — writes the same name; the name is
checked for traversal once the fields are filled in; the ``delivered``
event names the instance and the key.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from entrepot.errors import ConfigError, InvalidName
from entrepot.jobs import Ledger, Runner
from entrepot.provenance import find
from entrepot.ship import ShipJob, ShipOptions, Shipper
from entrepot.ship.naming import FLEET_TEMPLATE, remote_name
from entrepot.spool import Spool

RECEIVED = 1764892800.0 + 3600  # 2025-12-05 01:00 UTC


def _spool(tmp_path: Path, *names: str) -> Spool:
    spool = Spool(tmp_path / "outbox").prepare()
    for name in names:
        spool.publish_bytes(f"{name}\n".encode(), name)
        os.utime(spool.path("new", name), (RECEIVED, RECEIVED))
    return spool


def test_the_fleet_template_names_instance_route_and_receive_day(tmp_path: Path) -> None:
    spool = _spool(tmp_path, "a.csv")
    (tmp_path / "bucket").mkdir()
    options = ShipOptions(remote_name=FLEET_TEMPLATE, instance="edge-7", route_name="orders")
    report = Shipper(spool, str(tmp_path / "bucket"), options=options).run()
    assert report.done == ["a.csv"]
    assert (tmp_path / "bucket/edge-7/orders/2025/12/05/a.csv").read_bytes() == b"a.csv\n"


def test_a_retry_later_writes_the_same_name(tmp_path: Path) -> None:
    # The date is the spool's, not the upload's: a claim released and shipped a
    # day later (by the clock) still goes to the day it was received.
    spool = _spool(tmp_path, "late.csv")
    options = ShipOptions(remote_name=FLEET_TEMPLATE, instance="edge-7")
    shipper = Shipper(spool, "memory://fleet/drop", options=options)
    claim = spool.claim("late.csv")
    assert claim is not None
    claim.release()
    planned = [remote for _, remote in shipper.plan()]
    assert planned == ["edge-7/outbox/2025/12/05/late.csv"]  # route: the spool's folder


def test_names_are_checked_after_the_fields_are_filled_in() -> None:
    with pytest.raises(InvalidName):
        remote_name("{instance}/{name}", "a.csv", RECEIVED, instance="..", route="r")
    with pytest.raises(ConfigError, match="instance name"):
        ShipOptions(remote_name=FLEET_TEMPLATE, instance="../etc")
    with pytest.raises(ConfigError, match="must hold"):
        ShipOptions(remote_name="{instance}/fixed.csv")


def test_the_delivered_event_names_the_instance_and_the_key(tmp_path: Path) -> None:
    _spool(tmp_path, "k.csv")
    (tmp_path / "bucket").mkdir()
    options = {"remote_name": FLEET_TEMPLATE, "instance": "edge-7", "route_name": "orders"}
    ledger = Ledger.open(tmp_path / "state")
    try:
        job = ShipJob(str(tmp_path / "outbox"), str(tmp_path / "bucket"), options=options)
        assert Runner(ledger).run(job).ok
        delivered = [e for e in find(ledger.engine, "k.csv") if e.kind.value == "delivered"]
    finally:
        ledger.close()
    assert delivered[0].details["instance"] == "edge-7"
    assert delivered[0].details["key"].endswith("/bucket/edge-7/orders/2025/12/05/k.csv")
