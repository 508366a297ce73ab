"""A trace bounded in time keeps each step by its own time.

A shipment keeps a file's receipt and claim (and its move) in the
delivery's row: a window that holds the receipt but not the delivery, or
the move but not the delivery, still shows those steps.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from entrepot.cli import main
from entrepot.jobs import Ledger, Runner
from entrepot.provenance import Kind, find, verdict
from entrepot.ship import ShipJob
from entrepot.spool import Spool


@pytest.fixture
def shipped(tmp_path: Path) -> tuple[Path, datetime]:
    """A file put, then shipped after a pause; the time between the two."""
    state = tmp_path / "state"
    spool = Spool(tmp_path / "out", provenance=str(state)).prepare()
    spool.publish_bytes(b"id\n1\n", "late.csv")
    spool.close()
    time.sleep(0.05)
    between = datetime.now(UTC)
    time.sleep(0.05)
    (tmp_path / "dest").mkdir()
    ledger = Ledger.open(str(state))
    try:
        assert Runner(ledger).run(ShipJob(str(tmp_path / "out"), (tmp_path / "dest").as_uri())).ok
        with ledger.engine.connect() as conn:  # the receipt is kept in the delivery's row
            folded = conn.execute(
                sa.text("SELECT count(*) FROM entrepot_provenance WHERE received_step IS NOT NULL")
            ).scalar()
        assert folded == 1
    finally:
        ledger.close()
    return state, between


@pytest.mark.parametrize("pattern", ["late.csv", "late*", "*"])
def test_a_window_ending_before_the_delivery_keeps_the_receipt(
    shipped: tuple[Path, datetime], pattern: str
) -> None:
    state, between = shipped
    ledger = Ledger.open(str(state))
    try:
        journey = find(ledger.engine, pattern, until=between)
        assert [e.kind for e in journey] == [Kind.RECEIVED]
        assert verdict(journey).startswith("not delivered: received at ")
        after = find(ledger.engine, pattern, since=between)
        assert [e.kind for e in after] == [Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED]
    finally:
        ledger.close()


@pytest.mark.parametrize("pattern", ["late.csv", "*"])
def test_a_window_starting_between_the_delivery_and_the_move_keeps_the_move(
    shipped: tuple[Path, datetime], pattern: str
) -> None:
    state, _ = shipped
    ledger = Ledger.open(str(state))
    try:
        journey = find(ledger.engine, "late.csv")
        delivered, moved = journey[-2:]
        assert (delivered.kind, moved.kind) == (Kind.DELIVERED, Kind.MOVED)
        assert moved.at > delivered.at
        middle = delivered.at + (moved.at - delivered.at) / 2
        assert [e.kind for e in find(ledger.engine, pattern, since=middle)] == [Kind.MOVED]
        assert find(ledger.engine, pattern, until=middle)[-1].kind is Kind.DELIVERED
    finally:
        ledger.close()


def test_trace_until_shows_the_receipt_of_a_file_delivered_later(
    shipped: tuple[Path, datetime],
) -> None:
    state, between = shipped
    until = (between + timedelta(microseconds=1)).isoformat()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["trace", "late.csv", "--until", until, "--state", str(state), "--json"])
    assert code == 0
    (journey,) = json.loads(printed.getvalue())
    assert [e["kind"] for e in journey["events"]] == ["received"]
