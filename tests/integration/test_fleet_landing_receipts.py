"""The ``received`` event of a fetched file whose fetcher was killed with SIGKILL after the
rename into ``new/``, before its claim was marked done (real SeaweedFS, PostgreSQL and
processes, each killed by itself at that point: ``tests/integration/_die_at.py``).

What was wrong: the claim in doubt was settled as landed when its instance started
again — the claim finished, the object deleted — but no ``received`` event was ever
recorded: ``entrepot trace`` did not know the file, and nothing said which object,
ETag or instance it came from.

What is expected now: settling it records the ``received`` event — the object's key
and ETag, the instance that fetched it, the file's size and SHA-256 (read from
``new/``) and its source — once: not a second time when the event is there already.
"""

from __future__ import annotations

import hashlib
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from entrepot.jobs import Ledger
from entrepot.provenance import Kind, Recorder, find
from entrepot.provenance.events import place_of
from entrepot.spool import Spool
from tests.integration._fleet_s3 import fetcher, finished, put_objects

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("postgres")]

NAME = "edge-1/orders/2025/12/05/a.csv"
LOCAL = "edge-1~orders~2025~12~05~a.csv"
BODY = f"{NAME}\n".encode()
LEASE = ("--claim-lease", "1s")


def _killed_after_landing(folder: Any, ledger: str, spool: Path) -> None:
    put_objects(folder, [NAME])
    victim = fetcher(folder, "central-1", spool, ledger, *LEASE, die_at="landed")
    assert finished(victim) == -signal.SIGKILL
    time.sleep(1.5)  # its claim's lease runs out: in doubt


def _received(ledger: str) -> list[Any]:
    with Ledger(ledger) as book:
        return [e for e in find(book.engine, LOCAL) if e.kind is Kind.RECEIVED]


def test_a_claim_settled_as_landed_records_the_received_event_once(
    s3_server: Any, postgres_url: str, tmp_path: Path, cli: Any
) -> None:
    spool = Spool(tmp_path / "central-1").prepare().root
    _killed_after_landing(s3_server, postgres_url, spool)
    assert _received(postgres_url) == []
    assert finished(fetcher(s3_server, "central-1", spool, postgres_url, *LEASE)) == 0
    assert s3_server.keys() == [] and (spool / "new" / LOCAL).read_bytes() == BODY
    [event] = _received(postgres_url)
    assert event.size == len(BODY)
    assert event.checksum == f"sha256:{hashlib.sha256(BODY).hexdigest()}"
    assert event.details["key"] == f"s3://{s3_server.bucket}/{s3_server.prefix}/{NAME}"
    assert event.details["etag"] == hashlib.md5(BODY, usedforsecurity=False).hexdigest()
    assert event.details["instance"] == "central-1"
    assert event.details["source"].split("?")[0].endswith(f"/{NAME}")
    code, out, _ = cli("trace", LOCAL, "--ledger", postgres_url)
    assert code == 0 and "received" in out and "instance central-1" in out
    assert finished(fetcher(s3_server, "central-1", spool, postgres_url, *LEASE)) == 0
    assert len(_received(postgres_url)) == 1


def test_a_received_event_recorded_before_the_kill_is_not_recorded_again(
    s3_server: Any, postgres_url: str, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "central-1").prepare().root
    _killed_after_landing(s3_server, postgres_url, spool)
    etag = hashlib.md5(BODY, usedforsecurity=False).hexdigest()
    with Ledger(postgres_url) as book, Recorder(book.engine) as recorder:
        recorder.record(Kind.RECEIVED, place_of(spool), LOCAL, size=len(BODY),
                        details={"etag": etag, "instance": "central-1"})  # fmt: skip
    assert finished(fetcher(s3_server, "central-1", spool, postgres_url, *LEASE)) == 0
    assert s3_server.keys() == []
    assert [e.details["etag"] for e in _received(postgres_url)] == [etag]
