"""A one-shot ``entrepot fetch --claims`` keeps its claims alive through a download longer
than their lease (issue 16: each object fetched once across the fleet), and abandons a
download whose claim was taken over, publishing nothing — real processes, SeaweedFS
behind a relay that passes its answers on slowly (``tests/servers/throttle.py``), and
PostgreSQL.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from entrepot.jobs import Ledger
from entrepot.jobs.claims import claims_table
from entrepot.spool import Spool
from tests.integration._fleet_s3 import fetcher, finished

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("postgres")]

NAME = "edge-1/big.bin"
LOCAL = "edge-1~big.bin"
SIZE = 800_000  # at 200 kB/s: 4 s, four times the lease
LEASE = ("--claim-lease", "1s")


def _slow(folder: Any, throttled: Any) -> Any:
    """``folder`` reached through the slow relay (every fetcher must use the same address:
    it is part of the source the claims are keyed by)."""
    folder.client().put_object(
        Bucket=folder.bucket, Key=f"{folder.prefix}/{NAME}", Body=os.urandom(SIZE)
    )
    port = throttled(folder.port, rate=200_000)
    url = folder.url.replace(f"127.0.0.1:{folder.port}", f"127.0.0.1:{port}")
    return SimpleNamespace(url=url, access_key=folder.access_key, secret_key=folder.secret_key)


def _claim_row(ledger: Ledger) -> Any:
    with ledger.engine.connect() as conn:
        return conn.execute(claims_table.select()).first()


def _when_claimed(ledger: Ledger) -> Any:
    deadline = time.monotonic() + 120
    while (row := _claim_row(ledger)) is None:
        assert time.monotonic() < deadline, "no claim"
        time.sleep(0.05)
    return row


def _spools(tmp_path: Path) -> tuple[Path, Path]:
    return Spool(tmp_path / "one").prepare().root, Spool(tmp_path / "two").prepare().root


def test_a_download_longer_than_the_lease_keeps_its_claim(
    s3_server: Any, postgres_url: str, tmp_path: Path, throttled: Any
) -> None:
    slow = _slow(s3_server, throttled)
    one, two = _spools(tmp_path)
    with Ledger(postgres_url) as ledger:
        first = fetcher(slow, "central-1", one, postgres_url, *LEASE)
        _when_claimed(ledger)
        time.sleep(2.0)  # twice the lease: it would have lapsed without renewal
        assert first.poll() is None, "the download was meant to outlast the lease"
        second = fetcher(slow, "central-2", two, postgres_url, *LEASE)
        assert finished(second) == 0
        assert finished(first) == 0
        row = _claim_row(ledger)
    assert os.listdir(two / "new") == []
    assert os.listdir(one / "new") == [LOCAL] and (one / "new" / LOCAL).stat().st_size == SIZE
    assert row.holder == "central-1" and row.done_at is not None
    assert s3_server.keys() == []


def test_a_download_whose_claim_was_taken_over_is_abandoned_unpublished(
    s3_server: Any, postgres_url: str, tmp_path: Path, throttled: Any
) -> None:
    slow = _slow(s3_server, throttled)
    one, _ = _spools(tmp_path)
    with Ledger(postgres_url) as ledger:
        first = fetcher(slow, "central-1", one, postgres_url, *LEASE)
        row = _when_claimed(ledger)
        with ledger.engine.begin() as conn:  # another fetcher took it over
            c = claims_table.c
            conn.execute(
                sa.update(claims_table)
                .where(c.token == row.token)
                .values(holder="central-9", token="taken-over")
            )
        assert finished(first) == 0
        row = _claim_row(ledger)
    assert os.listdir(one / "new") == []
    assert os.listdir(one / "tmp" / "landing") == []
    assert (row.holder, row.done_at) == ("central-9", None)  # left to its new holder
    assert s3_server.keys() == [NAME]
