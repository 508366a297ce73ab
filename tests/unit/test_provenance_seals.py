"""An archive's hand-off events, journaled again by a resumed seal, are added once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from entrepot.db import write_transaction
from entrepot.provenance import Kind
from entrepot.provenance.announced import NAMES
from entrepot.provenance.inserts import insert_rows
from entrepot.provenance.journal import Row, event_row
from entrepot.provenance.schema import ensure_tables
from entrepot.provenance.seals import unrecorded


@pytest.fixture
def engine(engine: sa.Engine) -> sa.Engine:
    ensure_tables(engine)
    return engine


def _seal(place: str, name: str, archive: str, kind: Kind = Kind.SEALED) -> Row:
    return event_row(kind, place, name, size=3, details={"archive": archive})


def test_archives_recorded_already_are_left_out_of_many_looked_up_together(
    engine: sa.Engine,
) -> None:
    count = NAMES + 150  # more names than one look-up asks about
    recorded = [_seal("/arc", f"p-{n:04}.arc", f"id-{n}") for n in range(0, count, 2)]
    # The same names and ids, elsewhere or of another kind: not the events looked for.
    recorded += [_seal("/other", f"p-{n:04}.arc", f"id-{n}") for n in range(1, count, 2)]
    recorded += [
        _seal("/arc", f"p-{n:04}.arc", f"id-{n}", Kind.HANDED_OFF) for n in range(1, count, 2)
    ]
    recorded.append(_seal("/arc", "p-0001.arc", "an-older-archive"))  # the name reused
    with write_transaction(engine) as conn:
        insert_rows(conn, recorded)
    journaled = [_seal("/arc", f"p-{n:04}.arc", f"id-{n}") for n in range(count)]
    plain = event_row(Kind.RECEIVED, "/arc", "p-0001.arc", size=3, details={"source": "x"})
    rows = [*journaled, plain, *journaled]  # a seal resumed: its events journaled twice
    with engine.connect() as conn:
        kept = unrecorded(conn, rows)
    assert kept == [*journaled[1::2], plain]


def test_rows_of_no_archive_are_kept_as_they_are(engine: sa.Engine) -> None:
    rows = [event_row(Kind.RECEIVED, "/s", f"f{n}", size=1) for n in range(3)] * 2
    with engine.connect() as conn:
        assert unrecorded(conn, rows) == rows
