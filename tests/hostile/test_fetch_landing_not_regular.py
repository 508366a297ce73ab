"""Settling a claim in doubt when what waits in ``new/`` under its name is not a regular
file: a FIFO, or a link to a file elsewhere.

What was wrong: settling a claim found landed read ``new/<name>`` with a plain
``open()`` for the checksum of its ``received`` event.  A FIFO there blocked the
fetch for ever; a link was followed, and the file behind it — anywhere on the
machine — hashed into the ledger.  And a link whose target had the landed size and
time was taken for the landed file itself: the claim was finished (its object
deleted by the next fetch) though its download still waited in ``tmp/landing/``.

What is expected now: only a regular file is read, never through a link, never
waited on: anything else gives no checksum (the ``received`` event is recorded
without one), and it never counts as the landed file.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from entrepot.jobs import FakeClock, Ledger
from entrepot.ship.claimed import FetchClaims
from entrepot.ship.landing import settle
from entrepot.spool import Spool

LOCAL = "edge-1~a.csv"
BODY = b"landed\n"


def _landed_claim(tmp_path: Path) -> tuple[FakeClock, Ledger, FetchClaims, Spool, Path]:
    """A claim marked landing by this process, whose lease has run out: in doubt."""
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    ledger = Ledger(f"sqlite:///{tmp_path / 'fleet.sqlite3'}", clock=clock, instance="central-1")
    claims = FetchClaims(ledger, "source", "central-1", lease=60)
    spool = Spool(tmp_path / "inbox").prepare()
    claim = ledger.claim_key("fetch-object", "source:v1:edge-1/a.csv", lease=60,
                             detail={"name": "edge-1/a.csv", "version": "v1"})  # fmt: skip
    assert claim is not None
    scratch = claims.scratch(spool, claim)
    scratch.write_bytes(BODY)
    assert claims.land(claim, LOCAL, scratch, spool) is not None
    clock.advance(61)
    return clock, ledger, claims, spool, scratch


def _settle(claims: FetchClaims, spool: Spool) -> list[Any]:
    """The receipts of ``settle``, which must return within seconds."""
    receipts: list[Any] = []
    done: list[bool] = []

    def run() -> None:
        settle(claims, spool, lambda *receipt: receipts.append(receipt[1:]))
        done.append(True)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(10)
    assert done, "settling the claim blocked"
    return receipts


def test_a_fifo_under_the_landed_name_is_not_waited_on(tmp_path: Path) -> None:
    _, ledger, claims, spool, scratch = _landed_claim(tmp_path)
    os.unlink(scratch)  # renamed into new/, then taken on from there
    os.mkfifo(spool.path("new", LOCAL))  # and a FIFO put under its name since
    with ledger:
        assert _settle(claims, spool) == [(LOCAL, len(BODY), None)]
        assert claims.in_doubt() == []


def test_a_link_under_the_landed_name_is_not_read_through(tmp_path: Path) -> None:
    _, ledger, claims, spool, scratch = _landed_claim(tmp_path)
    elsewhere = tmp_path / "elsewhere.csv"
    elsewhere.write_bytes(b"secret\n")  # the landed size
    st = os.stat(scratch)
    os.utime(elsewhere, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the landed time
    os.unlink(scratch)
    os.symlink(elsewhere, spool.path("new", LOCAL))
    with ledger:
        assert _settle(claims, spool) == [(LOCAL, len(BODY), None)]  # no checksum of it


def test_a_link_like_the_landed_file_is_not_taken_for_it(tmp_path: Path) -> None:
    """The download still waits in ``tmp/landing/``: it did not land; released."""
    _, ledger, claims, spool, scratch = _landed_claim(tmp_path)
    elsewhere = tmp_path / "elsewhere.csv"
    elsewhere.write_bytes(BODY)
    st = os.stat(scratch)
    os.utime(elsewhere, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.symlink(elsewhere, spool.path("new", LOCAL))
    with ledger:
        assert _settle(claims, spool) == []
        assert claims.in_doubt() == []
        claim = ledger.key_claim("fetch-object", "source:v1:edge-1/a.csv")
        assert claim is None or not claim.done  # released: fetched again, not finished
