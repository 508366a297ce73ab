"""The provenance record's hourly counts (issue 15, the dashboard's charts): kept by the recorder
in the same transaction as the events, made from the events already there on upgrade, pruned."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from entrepot.db import make_engine, schema_version, write_transaction
from entrepot.provenance import Recorder
from entrepot.provenance.events import Kind, Outcome
from entrepot.provenance.inserts import insert_rows
from entrepot.provenance.journal import event_row
from entrepot.provenance.retention import prune_events
from entrepot.provenance.schema import MIGRATIONS, ensure_tables, hourly_table

HOUR = 490_000  # an hour number (epoch seconds // 3600), in 2025


def _hours(engine: sa.Engine) -> dict[tuple[int, str], tuple[int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(hourly_table)).all()
    return {(int(h), k): (int(f), int(b)) for h, k, f, b in rows}


def _event(kind: Kind, at: float, size: int | None) -> tuple[object, ...]:
    return event_row(kind, "/spool", f"f{at}", size=size, outcome=Outcome.OK, at=at)


def test_the_recorder_counts_what_it_writes_per_hour_and_kind(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'l.db'}", purpose="ledger")
    with Recorder(engine, batch=2) as recorder:
        for size in (10, 20, 30):
            recorder.record(Kind.DELIVERED, "/spool", f"f{size}", size=size)
        recorder.record(Kind.FAILED, "/spool", "f40", outcome=Outcome.FAILED)
    now = int(datetime.now(UTC).timestamp() // 3600)
    counted = {key: value for key, value in _hours(engine).items() if key[0] in (now, now - 1)}
    # Batches of two (one of them across an hour boundary at worst): the sums hold.
    delivered = [v for (_, kind), v in counted.items() if kind == "delivered"]
    assert (sum(f for f, _ in delivered), sum(b for _, b in delivered)) == (3, 60)
    failed = [v for (_, kind), v in counted.items() if kind == "failed"]
    assert sum(f for f, _ in failed) == 1 and sum(b for _, b in failed) == 0


def test_an_upgraded_record_counts_the_events_it_already_had(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'l.db'}", purpose="ledger")
    ensure_tables(engine)
    rows = [_event(Kind.DELIVERED, HOUR * 3600 + s, 5) for s in (0, 10, 3599)]
    rows += [_event(Kind.DELIVERED, (HOUR + 1) * 3600, 7), _event(Kind.RECEIVED, HOUR * 3600, None)]
    with write_transaction(engine) as conn:
        insert_rows(conn, rows)
        # Back to the schema of version 3: no hourly counts.
        conn.execute(sa.text("DROP TABLE entrepot_provenance_hourly"))
        conn.execute(
            sa.text("UPDATE entrepot_schema SET version = 3 WHERE component = 'provenance'")
        )
    engine.dispose()
    engine = make_engine(f"sqlite:///{tmp_path / 'l.db'}", purpose="ledger")
    ensure_tables(engine)
    assert schema_version(engine, "provenance") == MIGRATIONS[-1].version == 8
    assert _hours(engine) == {
        (HOUR, "delivered"): (3, 15),
        (HOUR + 1, "delivered"): (1, 7),
        (HOUR, "received"): (1, 0),
    }


def test_writes_add_up_and_old_hours_go_with_their_events(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'l.db'}", purpose="ledger")
    ensure_tables(engine)
    for at in (HOUR * 3600 + 1, HOUR * 3600 + 2, (HOUR + 5) * 3600):
        with write_transaction(engine) as conn:
            insert_rows(conn, [_event(Kind.DELIVERED, at, 100)])
    assert _hours(engine) == {(HOUR, "delivered"): (2, 200), (HOUR + 5, "delivered"): (1, 100)}
    cutoff = datetime.fromtimestamp((HOUR + 5) * 3600, UTC)
    while prune_events(engine, cutoff):
        pass
    assert _hours(engine) == {(HOUR + 5, "delivered"): (1, 100)}
