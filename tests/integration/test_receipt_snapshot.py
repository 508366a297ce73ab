"""A receipt lists the deliveries recorded when it began, each once, in order.

A receipt is read a page of rows at a time, each page in a read of its own
(a slow reader holds no transaction).  A delivery recorded while the pages
were read was listed whenever its time fell after the page in hand: a
receipt written while deliveries went on held deliveries recorded after it
had begun.  Now every page stops at the highest event id there was when the
receipt began: deliveries recorded meanwhile, at a later time, at the very
time of the page's edge or at an earlier one, are left to the next receipt
— on SQLite and on a real PostgreSQL server.
"""

from __future__ import annotations

import io
import json
from itertools import count

import sqlalchemy as sa

from entrepot.db import write_transaction
from entrepot.jobs import Ledger
from entrepot.provenance import Kind
from entrepot.provenance.inserts import insert_rows
from entrepot.provenance.journal import event_row
from entrepot.provenance.reader import deliveries
from entrepot.provenance.receipts import write_receipt
from entrepot.provenance.schema import ensure_tables
from tests.integration import test_jobs_ledger_backends as backends

#: A SQLite file, and a real PostgreSQL database.
url = backends.url

TARGET = "file:///srv/partner"


def _delivered(engine: sa.Engine, names_at: list[tuple[str, float]]) -> None:
    rows = [
        event_row(Kind.DELIVERED, "/out", name, size=1, target=TARGET, at=at)
        for name, at in names_at
    ]
    with write_transaction(engine) as conn:
        insert_rows(conn, rows)


def _before(engine: sa.Engine) -> list[str]:
    """Ten deliveries, four of them at one instant that straddles pages of three."""
    times = [1_000.0, 1_001.0, 1_002.0, 1_003.0, 1_003.0, 1_003.0, 1_003.0, 1_004.0, 1_005.0]
    first = [(f"before-{n}", at) for n, at in enumerate(times)]
    _delivered(engine, [*first, ("before-9", 990.0)])
    return ["before-9", *(name for name, _ in first)]


#: Rounds of deliveries recorded meanwhile: a receipt that took them in would never end.
ROUNDS = 12


def _meanwhile(engine: sa.Engine, round_: int) -> None:
    """Deliveries recorded as the receipt is read: later, at the page's edges, earlier."""
    if round_ >= ROUNDS:
        return
    _delivered(
        engine,
        [
            (f"later-{round_}", 5_000.0 + round_),
            (f"edge-{round_}", 1_003.0),
            (f"earlier-{round_}", 10.0),
        ],
    )


def test_a_receipt_read_page_by_page_is_the_deliveries_at_its_start(url: str) -> None:
    with Ledger(url) as ledger:
        engine = ledger.engine
        ensure_tables(engine)
        expected = _before(engine)
        listed = []
        rounds = count()
        for event in deliveries(engine, "/out", target=TARGET, page=3):
            listed.append(event.name)
            _meanwhile(engine, next(rounds))
        assert listed == expected  # in order, each once, none recorded meanwhile
        # The next receipt has them all.
        after = [event.name for event in deliveries(engine, "/out", target=TARGET, page=3)]
        assert len(after) == 4 * len(expected)  # three recorded at each line read
        assert len(set(after)) == len(after)


class _Recording(io.StringIO):
    """Where a receipt is written, a delivery recorded at every line written."""

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__()
        self.engine = engine
        self.rounds = count()

    def write(self, text: str) -> int:
        _meanwhile(self.engine, next(self.rounds))
        return super().write(text)


def test_a_receipt_written_while_deliveries_go_on_lists_those_at_its_start(url: str) -> None:
    with Ledger(url) as ledger:
        engine = ledger.engine
        ensure_tables(engine)
        expected = _before(engine)
        out = _Recording(engine)
        events = deliveries(engine, "/out", target=TARGET, page=2)
        assert write_receipt(events, "json", out) == len(expected)
        assert [row["name"] for row in json.loads(out.getvalue())] == expected
