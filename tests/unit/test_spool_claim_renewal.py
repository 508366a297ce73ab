"""Claims renewed while their work goes on (``ClaimRenewer``), and only while it goes on.

``Claim.renew()`` existed but nothing called it, so a claim at work for
longer than its lease was given back by ``recover()`` to whoever asked.  A
renewer now keeps the claims held through it fresh, from one thread for all
of them; a claim dropped from it runs out as before, and one recovered by
someone else meanwhile is no longer renewed (``spool.claim_lost``).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from entrepot.spool import Spool

LEASE = 0.4


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "spool", lease=LEASE).prepare()


def renewer_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "entrepot-spool-claims"]


def test_a_claim_held_through_a_renewer_outlives_its_lease(spool: Spool) -> None:
    spool.publish_bytes(b"x", "long.csv")
    claim = spool.claim()
    assert claim is not None
    with spool.renewer() as renewer:
        renewer.hold(claim)
        time.sleep(LEASE * 3)
        assert spool.recover().claims_released == []
        renewer.drop(claim)
        time.sleep(LEASE * 1.5)
        # Dropped: nothing renews it any more, and its lease runs out.
        assert spool.recover().claims_released == ["long.csv"]


def test_a_claim_recovered_meanwhile_is_no_longer_renewed(
    spool: Spool, caplog: pytest.LogCaptureFixture
) -> None:
    spool.publish_bytes(b"x", "taken.csv")
    claim = spool.claim()
    assert claim is not None
    caplog.set_level(logging.WARNING, logger="entrepot.spool")
    with spool.renewer() as renewer:
        renewer.hold(claim)
        assert spool.recover(lease=0).claims_released == ["taken.csv"]
        deadline = time.monotonic() + 5
        while renewer.held and time.monotonic() < deadline:
            time.sleep(0.05)
        assert renewer.held == 0
    assert "spool.claim_lost" in caplog.text


def test_one_thread_for_all_claims_and_none_without_claims(spool: Spool) -> None:
    for n in range(5):
        spool.publish_bytes(b"x", f"f{n}")
    with spool.renewer():
        assert renewer_threads() == []  # nothing held, nothing started
    with spool.renewer() as renewer:
        claims = list(spool.claims())
        for claim in claims:
            renewer.hold(claim)
        assert len(renewer_threads()) == 1 and renewer.held == 5
        for claim in claims:
            with renewer.holding(claim):
                pass
            claim.done()
        assert renewer.held == 0
    assert renewer_threads() == []
