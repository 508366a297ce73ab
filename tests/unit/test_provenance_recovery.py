"""Recovering many dead journals at once: a transaction for a group, each event once."""

from __future__ import annotations

import logging
import pathlib
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from entrepot.provenance import Kind, Recorder, find, recovery
from entrepot.provenance.announced import taken
from entrepot.provenance.inserts import insert_rows
from entrepot.provenance.journal import JOURNAL_DIR, Entry, Journal, Then, event_row
from entrepot.provenance.schema import ensure_tables, journals_table
from entrepot.spool import Spool
from tests.unit.test_provenance import _commits


@pytest.fixture
def engine(engine: sa.Engine) -> sa.Engine:
    ensure_tables(engine)
    return engine


def _put_one_by_one(root: Path, state: Path, names: list[str]) -> None:
    """Each file published by a spool of its own, with a journal of its own: as the
    ``entrepot spool put`` commands of the releases before the shared receipts file
    left them (and as one-file commands with a journal of their own still do)."""
    Spool(root).prepare()
    for name in names:
        journal = Journal(state)
        with Spool(root, provenance=journal) as spool:
            spool.publish_bytes(name.encode(), name)
        journal.close(remove=False)


def _journals(state: Path) -> list[Path]:
    return sorted((state / JOURNAL_DIR).glob("*.journal"))


def _bookkept(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(journals_table)).scalar_one()


def test_journals_of_files_put_one_by_one_are_recorded_in_one_transaction(
    engine: sa.Engine, tmp_path: Path
) -> None:
    state, names = tmp_path / "state", [f"f{n}.csv" for n in range(6)]
    _put_one_by_one(tmp_path / "out", state, names)
    assert len(_journals(state)) == 6
    commits = _commits(engine)
    kept = recovery.Receipts()
    assert recovery.recover_journals(engine, state / JOURNAL_DIR, kept) == 6
    assert len(commits) == 2  # the events and the journals marked recovered; then forgotten
    events = find(engine, "f*.csv")
    assert sorted(e.name for e in events) == names
    assert all(e.kind is Kind.RECEIVED and e.checksum for e in events)
    assert sorted(name for _, name in kept) == names
    assert _journals(state) == [] and _bookkept(engine) == 0


def test_journals_are_recorded_in_groups_and_a_live_one_is_left_alone(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recovery, "_GROUP", 2)
    state = tmp_path / "state"
    with Recorder(engine, state_dir=state) as live:
        live.record(Kind.RECEIVED, "/live", "alive.csv")
        names = [f"f{n}.csv" for n in range(5)]
        _put_one_by_one(tmp_path / "out", state, names)
        commits = _commits(engine)
        assert recovery.recover_journals(engine, state / JOURNAL_DIR) == 5
        assert len(commits) == 4  # three groups (2, 2 and 1 journals), then one to forget them
        assert sorted(e.name for e in find(engine, "f*.csv")) == names
        assert find(engine, "alive.csv") == [] and len(_journals(state)) == 1
    assert len(find(engine, "alive.csv")) == 1


def test_a_group_read_again_after_a_crash_before_its_journals_went_adds_nothing(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, names = tmp_path / "state", ["a.csv", "b.csv", "c.csv"]
    _put_one_by_one(tmp_path / "out", state, names)

    def killed(self: Path, missing_ok: bool = False) -> None:
        raise KeyboardInterrupt  # the process ends between the commit and the deletion

    with monkeypatch.context() as patched:
        patched.setattr(pathlib.Path, "unlink", killed)
        with pytest.raises(KeyboardInterrupt):
            recovery.recover_journals(engine, state / JOURNAL_DIR)
    assert len(_journals(state)) == 3 and len(find(engine, "*.csv")) == 3
    assert recovery.recover_journals(engine, state / JOURNAL_DIR) == 0
    assert sorted(e.name for e in find(engine, "*.csv")) == names
    assert _journals(state) == [] and _bookkept(engine) == 0


def test_an_event_in_two_journals_of_a_group_is_added_once(
    engine: sa.Engine, tmp_path: Path
) -> None:
    row = event_row(Kind.RECEIVED, "/out", "twice.csv", size=3, checksum="sha256:0a", at=5.0)
    other = event_row(Kind.RECEIVED, "/out", "once.csv", size=3, at=6.0)
    for rows in ([row], [other, row]):
        journal = Journal(tmp_path)
        journal.append(rows)
        journal.close(remove=False)
    assert recovery.recover_journals(engine, tmp_path / JOURNAL_DIR) == 2
    assert [e.name for e in find(engine, "*.csv")] == ["twice.csv", "once.csv"]


def test_a_step_added_by_an_earlier_journal_of_the_group_counts_as_recorded(
    engine: sa.Engine, tmp_path: Path
) -> None:
    cur = tmp_path / "out" / "cur" / "a.csv"
    cur.parent.mkdir(parents=True)
    cur.write_bytes(b"a")
    then = Then("moved", '{"to":"cur"}', [str(cur)], [])
    entry = Entry(1, event_row(Kind.DELIVERED, str(tmp_path / "out"), "a.csv", at=10.0), then)
    place = str(tmp_path / "out")
    with engine.connect() as conn:
        assert taken(conn, [entry], {}) == [entry]  # in cur/, recorded nowhere: it happened
        assert taken(conn, [entry], {}, {(place, "a.csv", "moved"): 9.0}) == [entry]
        assert taken(conn, [entry], {}, {(place, "a.csv", "moved"): 10.0}) == []
        later = {("moved", place, "a.csv"): 2}  # a later line of the journal has the step
        assert taken(conn, [entry], later) == []


def test_a_recorder_deletes_the_journals_it_recovered_while_it_works(
    engine: sa.Engine, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    _put_one_by_one(tmp_path / "out", state, ["a.csv", "b.csv", "c.csv"])
    threads: list[threading.Thread] = []
    assert recovery.recover_journals(engine, state / JOURNAL_DIR, behind=threads) == 3
    assert len(find(engine, "*.csv")) == 3  # committed before the deletion began
    (thread,) = threads
    thread.join()
    assert _journals(state) == [] and _bookkept(engine) == 0
    _put_one_by_one(tmp_path / "out", state, ["d.csv", "e.csv"])
    with Recorder(engine, state_dir=state):
        assert len(find(engine, "*.csv")) == 5
    assert _journals(state) == [] and _bookkept(engine) == 0


def test_a_journal_that_cannot_be_deleted_is_told_and_adds_nothing_later(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    state = tmp_path / "state"
    _put_one_by_one(tmp_path / "out", state, ["a.csv", "b.csv"])

    def refused(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    with monkeypatch.context() as patched, caplog.at_level(logging.WARNING):
        patched.setattr(pathlib.Path, "unlink", refused)
        assert recovery.recover_journals(engine, state / JOURNAL_DIR) == 2
    assert caplog.text.count("provenance.journal_kept") == 2
    assert len(_journals(state)) == 2 and _bookkept(engine) == 2  # marked as recorded
    assert recovery.recover_journals(engine, state / JOURNAL_DIR) == 0
    assert len(find(engine, "*.csv")) == 2
    assert _journals(state) == [] and _bookkept(engine) == 0


def _killed_shipment(root: Path, state: Path, count: int) -> list[str]:
    """A journal of ``count`` deliveries from ``root``, each announcing its move into
    ``cur/``, none committed — as a shipment killed before its commit leaves it."""
    names = [f"f{number:04d}.csv" for number in range(count)]
    for area in ("claimed", "cur"):
        (root / area).mkdir(parents=True, exist_ok=True)
    journal = Journal(state)
    for number, name in enumerate(names):
        claimed, cur = root / "claimed" / f"t-{name}", root / "cur" / name
        claimed.write_bytes(b"x")
        then = Then("moved", '{"to":"cur"}', [str(cur)], [str(claimed)])
        row = event_row(Kind.DELIVERED, str(root), name, size=1, at=1000.0 + number)
        journal.append([row], then)
    journal.close(remove=False)
    return names


def test_a_killed_shipment_s_moves_are_looked_up_a_few_hundred_files_at_a_time(
    engine: sa.Engine, tmp_path: Path
) -> None:
    root, state = tmp_path / "out", tmp_path / "state"
    names = _killed_shipment(root, state, 900)
    # A third moved and recorded (a separate event, as a release before wrote it); a
    # third moved, the process killed before it was recorded; a third never moved.
    with engine.begin() as conn:
        moves = [
            event_row(Kind.MOVED, str(root), name, at=1000.0 + number)
            for number, name in enumerate(names[:300])
        ]
        insert_rows(conn, moves)
    for name in names[:600]:
        (root / "claimed" / f"t-{name}").rename(root / "cur" / name)
    looked: list[tuple[str, Any]] = []

    def seen(_conn: object, _cursor: object, sql: str, parameters: Any, *_: object) -> None:
        if sql.startswith("SELECT") and "max(" in sql:
            looked.append((sql, parameters))

    sa.event.listen(engine, "before_cursor_execute", seen)
    assert recovery.recover_journals(engine, state / JOURNAL_DIR) == 900 + 300
    assert len(looked) == 3  # 900 files, 400 to a query: not one query per move
    # (The moves recorded before have the same times as their deliveries, and come first.)
    kinds = {name: sorted(e.kind.value for e in find(engine, name)) for name in names}
    assert all(kinds[name] == ["delivered", "moved"] for name in names[:600]), "once each"
    assert all(kinds[name] == ["delivered"] for name in names[600:])
    # The look-up reads the indexes on names (one per arm), not the whole spool's events.
    sql, parameters = looked[0]
    with engine.connect() as conn:
        plan = " ".join(
            str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, parameters)
        )
    assert "ix_entrepot_provenance_names" in plan and "ix_entrepot_provenance_fresh" in plan
    assert "SCAN entrepot_provenance " not in plan + " ", plan
