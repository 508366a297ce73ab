"""A receipt downloaded from the dashboard lists the deliveries recorded when it began.

The download is read a page of 5,000 rows at a time, each page in a read of
its own: deliveries the service recorded while the first pages were sent
were in the receipt when their time came after the page in hand.  Now the
receipt is the deliveries recorded when it began, each once, in order.
"""

from __future__ import annotations

from entrepot.db import write_transaction
from entrepot.provenance import Kind
from entrepot.provenance.events import place_of
from entrepot.provenance.inserts import insert_rows
from entrepot.provenance.journal import event_row
from entrepot.provenance.reader import PAGE
from entrepot.web.streaming import blocks
from entrepot.web.trace_data import TraceForm, receipt
from tests.web.conftest import Dashboard
from tests.web.test_receipt_streaming import _delivered
from tests.web.test_trace import ROUTE


def test_deliveries_recorded_during_a_download_are_left_to_the_next(
    dashboard: Dashboard,
) -> None:
    before = PAGE + 100  # two pages
    _delivered(dashboard, before)
    ledger = dashboard.daemon.ledger
    assert ledger is not None
    place, target = place_of(dashboard.root / "outbox"), (dashboard.root / "partner").as_uri()
    later = [
        event_row(Kind.DELIVERED, place, f"meanwhile-{n}.csv", size=1, target=target)
        for n in range(3)
    ]
    pieces = receipt(ledger.engine, dashboard.daemon.config, TraceForm(route=ROUTE), "csv")
    sent = blocks(pieces)
    body = [next(sent)]  # the first page is read, and being sent
    with write_transaction(ledger.engine) as conn:
        insert_rows(conn, later)
    body.extend(sent)
    lines = b"".join(body).decode().splitlines()[1:]
    names = [line.split(",", 1)[0] for line in lines]
    assert names == [f"history-{n:06d}.csv" for n in range(before)]
