"""Every read by name asks both indexes on names, fresh and folded (SQLite's plans).

``entrepot.provenance.folding`` keeps new events out of the large index on
names until they are many.  A read by name that asked only one index would
miss events, or read them all through another index: each statement these
reads send is explained here, and must search the fresh events' index and
the folded events' index, and scan no events.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from entrepot.db import make_engine
from entrepot.provenance import Kind, Recorder, find, undelivered
from entrepot.provenance.announced import taken
from entrepot.provenance.browse import matching_names
from entrepot.provenance.journal import Entry, Then, event_row
from entrepot.provenance.reader import file_histories
from entrepot.provenance.seals import unrecorded

FRESH, NAMES = "ix_entrepot_provenance_fresh", "ix_entrepot_provenance_names"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", purpose="ledger")
    with Recorder(engine) as recorder:
        recorder.record(Kind.RECEIVED, "/out", "a.csv", checksum="sha256:0a")
        recorder.record(Kind.DELIVERED, "/out", "a.csv", target="ftp://partner/in")
    yield engine
    engine.dispose()


def _plans(engine: sa.Engine, read: Callable[[], Any]) -> list[str]:
    """The plan of each statement on the events that ``read`` sends."""
    sent: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "entrepot_provenance " in statement:
            sent.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        read()
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    plans = []
    with engine.connect() as conn:
        for statement, parameters in sent:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            plans.append(" | ".join(str(row[-1]) for row in rows))
    assert plans, "no statement on the events"
    return plans


def _taken_read(engine: sa.Engine) -> Callable[[], Any]:
    row = event_row(Kind.DELIVERED, "/out", "a.csv", at=1.0)
    entry = Entry(1, row, Then("moved", "{}", ["/nowhere/cur/a.csv"], []))

    def read() -> Any:
        with engine.connect() as conn:
            return taken(conn, [entry], {})

    return read


def _seals_read(engine: sa.Engine) -> Callable[[], Any]:
    row = event_row(Kind.SEALED, "/out", "a.csv", details={"archive": "arc-1"})

    def read() -> Any:
        with engine.connect() as conn:
            return unrecorded(conn, [row])

    return read


READS: dict[str, Callable[[sa.Engine], Callable[[], Any]]] = {
    "trace a name": lambda e: lambda: find(e, "a.csv"),
    "trace a name in a place": lambda e: lambda: find(e, "a.csv", place="/out"),
    "trace a glob": lambda e: lambda: find(e, "a*.csv"),
    "the look-up of known files": lambda e: lambda: file_histories(e, "/out", ["a.csv", "b.csv"]),
    "files not delivered": lambda e: lambda: undelivered(e, place="/out"),
    "the step after a kill": _taken_read,
    "an archive's hand-off": _seals_read,
}


@pytest.mark.parametrize("read", list(READS))
def test_a_read_by_name_searches_both_indexes_on_names_and_scans_no_events(
    engine: sa.Engine, read: str
) -> None:
    plans = _plans(engine, READS[read](engine))
    by_name = [plan for plan in plans if FRESH in plan or NAMES in plan]
    assert by_name, plans
    for plan in by_name:
        assert FRESH in plan and NAMES in plan, plan
    for plan in plans:
        # "SCAN r" of undelivered reads the receipts through the index by kind, named so.
        scans = [part for part in plan.split(" | ") if part.startswith("SCAN")]
        assert all("INDEX" in part for part in scans if part != "SCAN r"), plan


def test_names_in_order_are_read_from_each_index_in_order(engine: sa.Engine) -> None:
    # A page of names is the first names of each index, merged: no sort of every event.
    plans = _plans(engine, lambda: matching_names(engine, "a*", limit=2))
    assert len(plans) == 2
    assert FRESH in plans[1] and NAMES in plans[0]
    assert not any("TEMP B-TREE" in plan for plan in plans), plans


def test_recording_on_sqlite_imports_no_postgresql_dialect() -> None:
    # A partial index written as an ``sa.Index`` names each dialect's keyword, and
    # naming PostgreSQL's imports its dialect: 20 ms more of every command that records.
    code = (
        "import sys, entrepot.jobs, entrepot.provenance.recorder, entrepot.provenance.reader\n"
        "print('sqlalchemy.dialects.postgresql' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    found = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert found.stdout.strip() == "False", found.stderr
