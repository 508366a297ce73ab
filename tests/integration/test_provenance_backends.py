"""The same provenance on SQLite and on a real PostgreSQL server: recorded, traced, pruned."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from entrepot.jobs import Ledger, Runner
from entrepot.provenance import Kind, Outcome, Recorder, find, undelivered
from entrepot.provenance.reader import by_file, deliveries, file_histories, verdict
from entrepot.ship import ShipJob
from entrepot.spool import Spool
from tests.integration import test_jobs_ledger_backends as backends

#: The same two ledgers as the ledger's own tests: SQLite, and a real PostgreSQL.
url = backends.url


def test_shipped_files_are_traced_on_either_database(url: str, tmp_path: Path, cli: Any) -> None:
    spool = Spool(tmp_path / "outbox").prepare()
    drop = tmp_path / "drop"
    drop.mkdir()
    for name in ("a.csv", "b.csv"):
        spool.publish_bytes(name.encode() * 10, name)
    state = tmp_path / "state"
    with Ledger(url) as ledger:
        ledger.state_dir = state
        assert Runner(ledger).run(ShipJob(spool.root, drop.as_uri())).ok
        journeys = by_file(find(ledger.engine, "*.csv"))
        assert len(list(deliveries(ledger.engine, str(spool.root.resolve())))) == 2
    assert sorted(name for _, name in journeys) == ["a.csv", "b.csv"]
    for journey in journeys.values():
        assert [e.kind for e in journey] == [Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED]
        assert verdict(journey).startswith(f"delivered to {drop.as_uri()} at ")

    code, out, _ = cli("trace", "a.csv", "--ledger", url, "--state", state, "--json")
    assert code == 0
    assert [e["kind"] for e in json.loads(out)[0]["events"]] == ["claimed", "delivered", "moved"]
    code, out, _ = cli("receipt", spool.root, "--ledger", url, "--format", "json")
    assert code == 0 and [row["name"] for row in json.loads(out)] == ["a.csv", "b.csv"]
    assert cli("trace", "c.csv", "--ledger", url)[0] == 4


def test_a_receipt_put_then_shipped_is_kept_in_its_delivery_s_row_on_either_database(
    url: str, tmp_path: Path, cli: Any
) -> None:
    state, drop = tmp_path / "state", tmp_path / "drop"
    drop.mkdir()
    spool = Spool(tmp_path / "outbox", provenance=state).prepare()
    spool.publish_bytes(b"a.csv" * 10, "a.csv")
    spool.close()

    def stored() -> list[tuple[Any, ...]]:
        with Ledger(url) as ledger, ledger.engine.connect() as conn:
            found = conn.exec_driver_sql(
                "SELECT name, kind, received_step IS NOT NULL FROM entrepot_provenance"
            ).all()
        return sorted((name, kind, bool(kept)) for name, kind, kept in found)

    with Ledger(url) as ledger:
        ledger.state_dir = state
        assert Runner(ledger).run(ShipJob(spool.root, drop.as_uri())).ok
    assert stored() == [("a.csv", "delivered", True)]  # one row, the receipt in it
    assert list((state / "provenance").glob("*.journal")) == []
    code, out, _ = cli("trace", "a.csv", "--ledger", url, "--state", state, "--json")
    assert code == 0
    events = json.loads(out)[0]["events"]
    assert [e["kind"] for e in events] == ["received", "claimed", "delivered", "moved"]
    digest = "sha256:" + hashlib.sha256(b"a.csv" * 10).hexdigest()
    assert events[0]["checksum"] == events[2]["checksum"] == digest
    # A file put and not shipped: its receipt alone, added by the next reader.
    with Spool(spool.root, provenance=state) as again:
        again.publish_bytes(b"b", "b.csv")
    code, out, _ = cli("trace", "--undelivered", "--ledger", url, "--state", state, "--json")
    assert code == 0 and [e["name"] for e in json.loads(out)] == ["b.csv"]
    assert stored() == [("a.csv", "delivered", True), ("b.csv", "received", False)]


def test_undelivered_files_on_either_database(url: str, tmp_path: Path, cli: Any) -> None:
    spool = Spool(tmp_path / "outbox").prepare()
    source = tmp_path / "late.csv"
    source.write_bytes(b"1,2\n")
    state = tmp_path / "state"
    assert cli("spool", "put", spool.root, source, "--state", state)[0] == 0
    code, out, _ = cli(
        "trace", "--undelivered", "--since", "1d", "--ledger", url, "--state", state, "--json"
    )
    assert code == 0
    (event,) = json.loads(out)
    assert event["name"] == "late.csv" and event["kind"] == "received"
    with Ledger(url) as ledger:
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        assert undelivered(ledger.engine, since=tomorrow) == []
        assert [e.name for e in undelivered(ledger.engine)] == ["late.csv"]


def test_retention_prunes_old_events_and_records_pruned_files(url: str, tmp_path: Path) -> None:
    from entrepot.provenance.retention import prune_events
    from entrepot.service.config import Config
    from entrepot.service.retention import prune

    spool = Spool(tmp_path / "out").prepare()
    spool.publish_bytes(b"abc", "old.csv")
    drop = tmp_path / "drop"
    drop.mkdir()
    config = Config.model_validate(
        {
            "service": {
                "state": str(tmp_path / "state"),
                "retention": {"runs": "30d", "cur": "14d"},
            },
            "spools": {"out": {"path": str(spool.root)}},
        }
    )
    with Ledger(url) as ledger:
        ledger.state_dir = tmp_path / "state"
        assert Runner(ledger).run(ShipJob(spool.root, drop.as_uri())).ok
        assert len(find(ledger.engine, "old.csv")) == 3
        # Twenty days on: the file leaves cur/ (14 days), its events stay (30 days).
        report = prune(config, ledger, datetime.now(UTC) + timedelta(days=20))
        assert (report.files, report.events) == (1, 0)
        kinds = [e.kind for e in find(ledger.engine, "old.csv")]
        assert kinds == [Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED, Kind.PRUNED]
        # Forty days on, every event goes, in batches: first the delivery's row (with its
        # claim and move, three events), then the rest.
        later = datetime.now(UTC) + timedelta(days=40)
        assert prune_events(ledger.engine, later - timedelta(days=30), batch=1) == 3
        report = prune(config, ledger, later)
        assert report.events == 1 and find(ledger.engine, "old.csv") == []


def test_provenance_can_be_turned_off(tmp_path: Path, cli: Any) -> None:
    spool = Spool(tmp_path / "outbox").prepare()
    spool.publish_bytes(b"1", "quiet.csv")
    drop, state = tmp_path / "drop", tmp_path / "state"
    drop.mkdir()
    assert cli("ship", spool.root, drop.as_uri(), "--state", state, "--no-provenance")[0] == 0
    assert (drop / "quiet.csv").exists()
    assert cli("trace", "quiet.csv", "--state", state)[0] == 4
    spool.publish_bytes(b"2", "loud.csv")
    assert cli("ship", spool.root, drop.as_uri(), "--state", state)[0] == 0
    assert cli("trace", "loud.csv", "--state", state)[0] == 0


def test_old_journal_bookkeeping_goes_with_the_events(url: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    from entrepot.provenance import Recorder
    from entrepot.provenance.retention import prune_events
    from entrepot.provenance.schema import journals_table

    with Ledger(url) as ledger:
        for _ in range(2):
            with Recorder(ledger.engine, state_dir=tmp_path / "state") as recorder:
                recorder.record(Kind.RECEIVED, "/out", "a.csv")

        def journals() -> int:
            with ledger.engine.connect() as conn:
                return len(conn.execute(sa.select(journals_table)).all())

        assert journals() == 2
        assert prune_events(ledger.engine, datetime.now(UTC) - timedelta(days=1)) == 0
        assert journals() == 2
        later = datetime.now(UTC) + timedelta(seconds=5)
        assert prune_events(ledger.engine, later) == 2
        assert prune_events(ledger.engine, later) == 0
        assert journals() == 0


def test_a_shippers_look_up_of_known_files_on_either_database(url: str, tmp_path: Path) -> None:
    # Written as SQL with the driver's own placeholders: the same answer on both.
    with Ledger(url) as ledger:
        with Recorder(ledger.engine) as recorder:
            recorder.record(Kind.FAILED, "/out", "a.csv", outcome=Outcome.FAILED)
            recorder.record(Kind.RECEIVED, "/out", "a.csv", checksum="sha256:01")
            recorder.record(Kind.FAILED, "/out", "a.csv", outcome=Outcome.FAILED)
            recorder.record(Kind.RECEIVED, "/out", "b.csv", checksum="sha256:02")
            recorder.record(Kind.RECEIVED, "/other", "c.csv", checksum="sha256:03")
        found = file_histories(ledger.engine, "/out", ["a.csv", "b.csv", "c.csv"])
        assert file_histories(ledger.engine, "/out", []) == {}
    assert found == {"a.csv": ("sha256:01", 1), "b.csv": ("sha256:02", 0)}


def test_journals_of_files_put_one_by_one_are_recorded_together_on_either_database(
    url: str, tmp_path: Path, cli: Any
) -> None:
    from entrepot.provenance import recover_journals
    from entrepot.provenance.journal import JOURNAL_DIR, Journal, event_row

    spool, state = Spool(tmp_path / "outbox").prepare(), tmp_path / "state"
    for name in ("a.csv", "b.csv", "c.csv"):
        source = tmp_path / name
        source.write_bytes(name.encode())
        assert cli("spool", "put", spool.root, source, "--state", state)[0] == 0
    # Two hand-offs of one archive and one of another, each journaled by a process of its
    # own: one transaction adds them, holding each archive's lock (PostgreSQL) once.
    for archive in ("arc-1", "arc-1", "arc-2"):
        journal = Journal(state)
        details = {"archive": archive}
        journal.append([event_row(Kind.SEALED, "/archives", f"{archive}.tar", details=details)])
        journal.close(remove=False)
    with Ledger(url) as ledger:
        assert recover_journals(ledger.engine, state / JOURNAL_DIR) == 5
        received = find(ledger.engine, "*.csv")
        assert sorted(e.name for e in received) == ["a.csv", "b.csv", "c.csv"]
        assert all(e.kind is Kind.RECEIVED and e.checksum for e in received)
        sealed = find(ledger.engine, "arc-*.tar")
        assert sorted(e.name for e in sealed) == ["arc-1.tar", "arc-2.tar"]
        assert list((state / JOURNAL_DIR).iterdir()) == []
        assert recover_journals(ledger.engine, state / JOURNAL_DIR) == 0


def test_a_killed_shipment_s_moves_are_recovered_on_either_database(
    url: str, tmp_path: Path
) -> None:
    from entrepot.provenance import recover_journals
    from entrepot.provenance.inserts import insert_rows
    from entrepot.provenance.journal import JOURNAL_DIR, event_row
    from entrepot.provenance.schema import ensure_tables
    from tests.unit.test_provenance_recovery import _killed_shipment

    root, state = tmp_path / "out", tmp_path / "state"
    names = _killed_shipment(root, state, 6)
    for name in names[:4]:  # moved before the kill; the first two recorded too
        (root / "claimed" / f"t-{name}").rename(root / "cur" / name)
    with Ledger(url) as ledger:
        ensure_tables(ledger.engine)
        with ledger.engine.begin() as conn:
            insert_rows(
                conn, [event_row(Kind.MOVED, str(root), names[n], at=1000.0 + n) for n in (0, 1)]
            )
        assert recover_journals(ledger.engine, state / JOURNAL_DIR) == 6 + 2
        kinds = {name: sorted(e.kind.value for e in find(ledger.engine, name)) for name in names}
    assert [kinds[name] for name in names] == [["delivered", "moved"]] * 4 + [["delivered"]] * 2


def test_a_batch_of_old_events_longer_than_a_statement_binds_is_pruned(url: str) -> None:
    # The default batch (1,000) is more than SQLite's oldest builds bind values in one
    # statement (999; the tests' connections are held to it): each batch still goes whole,
    # and the events went in through statements within it too.
    from entrepot.db import write_transaction
    from entrepot.provenance.inserts import insert_rows
    from entrepot.provenance.journal import event_row
    from entrepot.provenance.retention import prune_events
    from entrepot.provenance.schema import ensure_tables

    old = (datetime.now(UTC) - timedelta(days=40)).timestamp()
    rows = [
        event_row(Kind.RECEIVED, "/spool", f"f{number:04d}.csv", size=number, at=old + number)
        for number in range(1200)
    ]
    with Ledger(url) as ledger:
        ensure_tables(ledger.engine)
        with write_transaction(ledger.engine) as conn:
            insert_rows(conn, rows)
        assert len(find(ledger.engine, "f*.csv")) == 1200
        cutoff = datetime.now(UTC) - timedelta(days=30)
        assert prune_events(ledger.engine, cutoff) == 1000
        assert [e.name for e in find(ledger.engine, "f*.csv")][:1] == ["f1000.csv"]
        assert prune_events(ledger.engine, cutoff) == 200
        assert prune_events(ledger.engine, cutoff) == 0
        assert find(ledger.engine, "f*.csv") == []
