"""A shipped file's claim, delivery and move kept in one row, read back as three events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from entrepot.db import make_engine, schema_version, write_transaction
from entrepot.provenance import Kind, Recorder, find, recover_journals
from entrepot.provenance.deliveries import Delivery, Template
from entrepot.provenance.journal import HOST, JOURNAL_DIR, details_text, event_row
from entrepot.provenance.schema import MIGRATIONS, ensure_tables, hourly_table
from entrepot.provenance.steps import step_of, step_text, tally
from entrepot.ship import trail
from entrepot.targets import RemoteInfo
from tests.unit.journals import die, folded

PLACE = "/srv/out"
HOUR = 480_000


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", purpose="ledger")
    yield engine
    engine.dispose()


def _delivery(name: str, at: float, size: int = 40) -> tuple[object, ...]:
    return event_row(
        Kind.DELIVERED, PLACE, name, size=size, checksum="sha256:ab", job_id="job-1",
        target="ftp://partner/in", attempt=1, details={"remote_name": name}, at=at,
        claimed_at=at - 2,
    )  # fmt: skip


def _moved(name: str, at: float) -> tuple[object, ...]:
    return event_row(
        Kind.MOVED, PLACE, name, job_id="job-1", attempt=3, details='{"to":"cur"}', at=at
    )


def _template(place: str = PLACE, attempt: int = 3) -> Template:
    return Template(
        "delivered", "ok", place, "ftp://partner/in", "job-1", HOST, "moved", '{"to":"cur"}',
        "cur", attempt,
    )  # fmt: skip


def _shipped(name: str, at: float, place: str = PLACE, size: int = 40) -> Delivery:
    """A file's delivery at ``at`` (seconds), claimed two seconds before."""
    micros = round(at * 1_000_000)
    return Delivery(
        name, size, "sha256:ab", micros - 2_000_000, micros, 1, name, None, None, None,
        f"{place}/claimed/{name}",
    )  # fmt: skip


def test_one_row_reads_as_the_claim_the_delivery_and_the_move(
    engine: sa.Engine, tmp_path: Path
) -> None:
    at = HOUR * 3600 + 100.0
    with Recorder(engine, state_dir=tmp_path / "state") as recorder:
        ticket = recorder.deliver(_template(), _shipped("a.csv", at))
        recorder.settle(round((at + 1) * 1_000_000), ticket=ticket)
    claimed, delivered, moved = find(engine, "a.csv")
    assert [claimed.kind, delivered.kind, moved.kind] == [
        Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED,
    ]  # fmt: skip
    assert claimed.at == datetime.fromtimestamp(at - 2, UTC) < delivered.at < moved.at
    assert (claimed.size, claimed.checksum, claimed.attempt) == (40, "sha256:ab", 1)
    assert (claimed.target, claimed.details) == (None, {})
    assert delivered.target == "ftp://partner/in"
    assert delivered.details == {
        "remote_name": "a.csv",
        "remote_size": None,
        "remote_checksum": None,
    }
    assert (moved.size, moved.checksum, moved.target, moved.attempt) == (None, None, None, 3)
    assert moved.details == {"to": "cur"}
    # Filters see each event on its own: its kind, its target, its time.
    assert [e.kind for e in find(engine, "a.csv", kinds=[Kind.CLAIMED])] == [Kind.CLAIMED]
    assert [e.kind for e in find(engine, "a.csv", target="partner")] == [Kind.DELIVERED]
    since = datetime.fromtimestamp(at - 1, UTC)
    assert [e.kind for e in find(engine, "a.csv", since=since)] == [Kind.DELIVERED, Kind.MOVED]
    # Counted per hour like three rows: claim and delivery with their bytes, the move without.
    with engine.connect() as conn:
        hours = {r.kind: (r.files, r.bytes) for r in conn.execute(sa.select(hourly_table))}
        stored = conn.exec_driver_sql("SELECT count(*) FROM entrepot_provenance").scalar()
    assert hours == {"claimed": (1, 40), "delivered": (1, 40), "moved": (1, 0)}
    assert stored == 1


def test_a_failed_move_leaves_the_delivery_with_its_claim_only(
    engine: sa.Engine, tmp_path: Path
) -> None:
    with Recorder(engine, state_dir=tmp_path / "state") as recorder:
        ticket = recorder.deliver(_template(), _shipped("a.csv", 500.0))
        recorder.settle(None, ticket=ticket)
    assert [e.kind for e in find(engine, "a.csv")] == [Kind.CLAIMED, Kind.DELIVERED]


def test_a_delivery_settled_before_an_earlier_one_is_recovered_once(
    engine: sa.Engine, tmp_path: Path
) -> None:
    # b's row is committed while a's line still waits for its move: the batch covers the
    # journal only up to the line before a's.  Then the process dies.
    for area in ("claimed", "cur"):
        (tmp_path / area).mkdir()
    (tmp_path / "claimed" / "a.csv").write_bytes(b"a")
    recorder = Recorder(engine, state_dir=tmp_path / "state", batch=1)
    template = _template(str(tmp_path))
    held_a = recorder.deliver(template, _shipped("a.csv", 700.0, str(tmp_path)))
    held_b = recorder.deliver(template, _shipped("b.csv", 701.0, str(tmp_path)))
    recorder.settle(702_000_000, ticket=held_b)
    recorder.flush()
    assert [e.kind for e in find(engine, "b.csv")] == [Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED]
    assert held_a != held_b and find(engine, "a.csv") == []
    journal = recorder._journal
    die(journal)  # its lock released, its journal left
    assert recover_journals(engine, tmp_path / "state" / JOURNAL_DIR) == 1  # a's delivery
    assert [e.kind for e in find(engine, "a.csv")] == [Kind.CLAIMED, Kind.DELIVERED]
    assert [e.kind for e in find(engine, "b.csv")] == [Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED]


def test_a_version_4_ledger_gets_the_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'l.db'}", purpose="ledger")
    ensure_tables(engine)
    with write_transaction(engine) as conn:
        for column in ("claimed_at", "then_step"):
            conn.exec_driver_sql(f"ALTER TABLE entrepot_provenance DROP COLUMN {column}")
        conn.exec_driver_sql(
            "INSERT INTO entrepot_provenance (at, kind, place, name, outcome, details) "
            "VALUES (1.0, 'received', '/srv/out', 'old.csv', 'ok', '{}')"
        )
        conn.execute(
            sa.text("UPDATE entrepot_schema SET version = 4 WHERE component = 'provenance'")
        )
    engine.dispose()
    engine = make_engine(f"sqlite:///{tmp_path / 'l.db'}", purpose="ledger")
    ensure_tables(engine)
    assert schema_version(engine, "provenance") == MIGRATIONS[-1].version == 8
    assert [e.kind for e in find(engine, "old.csv")] == [Kind.RECEIVED]
    with Recorder(engine) as recorder:
        ticket = recorder.deliver(_template(), _shipped("new.csv", 9.0))
        recorder.settle(None, ticket=ticket)
    assert [e.kind for e in find(engine, "new.csv")] == [Kind.CLAIMED, Kind.DELIVERED]
    engine.dispose()


def test_a_step_text_reads_back_without_and_with_the_json_decoder() -> None:
    text = step_text("moved", HOUR * 3600 + 0.25, '{"to":"cur"}', 2)
    assert json.loads(text) == ["moved", HOUR * 3600 + 0.25, '{"to":"cur"}', 2]
    assert step_of(text) == ("moved", HOUR * 3600 + 0.25)
    # Written by another hand (spaces, an escaped kind): the decoder reads it.
    assert step_of('[ "moved", 7.5, "{}", null]') == ("moved", 7.5)
    assert step_of('["mo\\u0076ed",7.5,"{}",null]') == ("moved", 7.5)


def test_the_hours_count_each_step_a_row_stands_for() -> None:
    at = HOUR * 3600 + 3599.5
    delivery = folded(_delivery("a.csv", at), _moved("a.csv", at + 1))
    counts = tally([delivery, _moved("b.csv", at)])
    # The claim (two seconds earlier) and the delivery in one hour, the move in the next.
    assert counts == {
        (HOUR, "claimed"): [1, 40], (HOUR, "delivered"): [1, 40], (HOUR, "moved"): [1, 0],
        (HOUR + 1, "moved"): [1, 0],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("name", "checksum", "instance", "key"),
    [
        ("a.csv", None, None, None),
        ('été "x"\\.csv', "md5:0a", "node-1", "s3://b/in/a.csv"),
        ("ftp://user:s3cret@host/a.csv", None, None, "https://h/k?X-Amz-Signature=abc"),
    ],
)
def test_a_delivery_s_details_are_those_of_the_general_encoder(
    engine: sa.Engine,
    tmp_path: Path,
    name: str,
    checksum: str | None,
    instance: str | None,
    key: str | None,
) -> None:
    """A shipper's delivery, its remote's values noted by the trail and written out with
    the batch, reads back as the general encoder writes it — masked, in the row and in
    the journal line that announced it."""
    general = {"remote_name": name, "remote_size": 12, "remote_checksum": checksum}
    general |= {k: v for k, v in {"instance": instance, "key": key}.items() if v}
    state = tmp_path / "state"
    with Recorder(engine, state_dir=state) as recorder:
        shipping = trail.Trail(PLACE, "ftp://partner/in", recorder)
        shipping.instance = instance
        claim = SimpleNamespace(name="a.csv", file=f"{PLACE}/claimed/t-a.csv")
        local = shipping.claimed("a.csv", 12)
        info = RemoteInfo(name, 12, checksum=checksum)
        ticket = shipping.delivered(claim, "a.csv", info, local, "cur", key=key)  # type: ignore[arg-type]
        [journal] = (state / JOURNAL_DIR).glob("*.journal")
        line = journal.read_bytes().rstrip(b"\0")
        shipping.settled(ticket)
    with engine.connect() as conn:
        [written] = conn.exec_driver_sql(
            "SELECT details FROM entrepot_provenance WHERE name = 'a.csv'"
        ).one()
    assert written == details_text(general)
    for text in (written, line.decode("ascii")):
        assert "s3cret" not in text and "Signature=abc" not in text


def test_a_trail_s_instance_named_later_is_in_the_deliveries_after(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """Templates are kept per trail; naming the instance afterwards makes new ones."""
    with Recorder(engine, state_dir=tmp_path / "state") as recorder:
        shipping = trail.Trail(PLACE, "ftp://partner/in", recorder)
        for name, instance in (("a.csv", None), ("b.csv", "node-9")):
            shipping.instance = instance
            claim = SimpleNamespace(name=name, file=f"{PLACE}/claimed/t-{name}")
            local = shipping.claimed(name, 3)
            ticket = shipping.delivered(claim, name, RemoteInfo(name, 3), local, "cur")  # type: ignore[arg-type]
            shipping.settled(ticket)
    assert "instance" not in find(engine, "a.csv")[1].details
    assert find(engine, "b.csv")[1].details["instance"] == "node-9"
