"""A recorder opened beside its run: dead journals recovered in a thread of its own."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from entrepot.db import make_engine
from entrepot.provenance import Kind, Outcome, Recorder, find, recovery
from entrepot.provenance.events import place_of
from entrepot.provenance.journal import JOURNAL_DIR, Journal, event_row
from entrepot.ship.trail import Trail
from entrepot.spool import Spool


@pytest.fixture
def engine(ledger_engine: sa.Engine) -> sa.Engine:
    return ledger_engine


#: Long enough for a thread that is not held up to finish; short enough for the suite.
_GRACE = 0.3


class _Held:
    """Every group's transaction held until :attr:`release` is set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        real = recovery._import

        def held(*args: Any, **kwargs: Any) -> int:
            self.entered.set()
            assert self.release.wait(10)
            return real(*args, **kwargs)

        monkeypatch.setattr(recovery, "_import", held)


def _finishes(call: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """``call`` started in a thread: the thread, and where its result will be."""
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    return thread, result


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _put(root: Path, state: Path, names: list[str], *, each: bool = False) -> None:
    """``names`` published with receipts: by one spool (one journal), or ``each`` by a
    spool of its own (a journal per file)."""
    Spool(root).prepare()
    for group in [[name] for name in names] if each else [names]:
        with Spool(root, provenance=state) as spool:
            for name in group:
                spool.publish_bytes(name.encode(), name)


def test_a_shipments_receipts_are_read_before_their_journal_is_added(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, names = tmp_path / "state", ["a.csv", "b.csv", "c.csv"]
    _put(tmp_path / "out", state, names)
    held = _Held(monkeypatch)
    with Recorder(engine, state_dir=state, beside=True) as recorder:
        assert not held.entered.wait(_GRACE)  # started by the run, as it connects
        recorder.open_beside()
        assert held.entered.wait(5)  # the journal's transaction has begun, and waits
        receipts = recorder.receipts  # not waiting for it
        place = place_of(tmp_path / "out")
        assert {key: checksum for key, (_, checksum) in receipts.items()} == {
            (place, name): _sha(name.encode()) for name in names
        }
        assert find(engine, "*.csv") == []
        waiting, done = _finishes(recorder.recovered)
        waiting.join(_GRACE)
        assert not done  # asking the database waits for the journal to be in it
        held.release.set()
        waiting.join(5)
        assert done
        assert sorted(e.name for e in find(engine, "*.csv")) == names
    assert sorted(e.name for e in find(engine, "*.csv")) == names  # each once
    assert list((state / JOURNAL_DIR).glob("*.journal")) == []


def test_receipts_of_several_groups_are_known_once_all_are_added(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A later group may hold a newer receipt of a file: none is given out before.
    monkeypatch.setattr(recovery, "_GROUP", 2)
    state, names = tmp_path / "state", ["a.csv", "b.csv", "c.csv"]
    _put(tmp_path / "out", state, names, each=True)
    held = _Held(monkeypatch)
    with Recorder(engine, state_dir=state, beside=True) as recorder:
        recorder.open_beside()
        assert held.entered.wait(5)
        reading, receipts = _finishes(lambda: dict(recorder.receipts))
        reading.join(_GRACE)
        assert not receipts
        held.release.set()
        reading.join(5)
        assert sorted(name for _, name in receipts[0]) == names  # type: ignore[attr-defined]
    assert sorted(e.name for e in find(engine, "*.csv")) == names


def test_a_retry_is_numbered_after_the_failures_in_the_journals_being_added(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A shipment killed after a failed try leaves it in its journal; a file with no
    # receipt is looked up in the database, which waits for that journal.
    out = tmp_path / "out"
    place = place_of(out)
    failed = event_row(
        Kind.FAILED, place, "x.csv", outcome=Outcome.FAILED, attempt=1, details={"code": 310}
    )
    journal = Journal(tmp_path)
    journal.append([failed])
    journal.close(remove=False)
    held = _Held(monkeypatch)
    with Recorder(engine, state_dir=tmp_path, beside=True) as recorder:
        recorder.open_beside()
        assert held.entered.wait(5)
        trail = Trail(place, "file:///drop", recorder)
        learning, _ = _finishes(lambda: trail.learn(["x.csv"]))
        learning.join(_GRACE)
        assert learning.is_alive()
        held.release.set()
        learning.join(5)
        assert not learning.is_alive()
    assert trail._history("x.csv").failures == 1  # the next try is the second


def test_a_recovery_that_fails_beside_the_run_is_told_and_left_for_the_next(
    engine: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    state, names = tmp_path / "state", ["a.csv", "b.csv"]
    _put(tmp_path / "out", state, names)

    def broken(*args: Any, **kwargs: Any) -> int:
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    with monkeypatch.context() as patched, caplog.at_level(logging.WARNING):
        patched.setattr(recovery, "_import", broken)
        with Recorder(engine, state_dir=state, beside=True) as recorder:
            recorder.recovered()
            # Read before the failure, the receipts are facts all the same.
            assert sorted(name for _, name in recorder.receipts) == names
            recorder.record(Kind.RECEIVED, "/elsewhere", "own.csv")
    assert "provenance.recovery_failed" in caplog.text and "disk I/O error" in caplog.text
    assert [e.name for e in find(engine, "*.csv")] == ["own.csv"]  # the run's own events
    assert len(list((state / JOURNAL_DIR).glob("*.journal"))) == 1  # kept, released
    with Recorder(engine, state_dir=state):
        pass
    assert sorted(e.name for e in find(engine, "*.csv")) == [*names, "own.csv"]
    assert list((state / JOURNAL_DIR).glob("*.journal")) == []


def test_an_engine_of_one_connection_per_thread_recovers_now(tmp_path: Path) -> None:
    # SQLite in memory: another thread would open another, empty database.
    engine = make_engine("sqlite://", purpose="ledger")
    state = tmp_path / "state"
    _put(tmp_path / "out", state, ["a.csv"])
    with Recorder(engine, state_dir=state, beside=True):
        assert [e.name for e in find(engine, "a.csv")] == ["a.csv"]
