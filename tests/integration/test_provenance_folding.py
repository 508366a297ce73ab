"""Fresh and folded events (``entrepot.provenance.folding``) on SQLite and PostgreSQL.

Events arrive fresh, in an index of their own, and are folded into the
index on names in bulk: every read by name finds them either way, and
finds the same thing before and after a fold.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from entrepot.jobs import Ledger
from entrepot.provenance import Kind, Outcome, Recorder, find, folding, undelivered
from entrepot.provenance.browse import matching_names
from entrepot.provenance.folding import fold, fold_if_due, fresh_count
from entrepot.provenance.journal import event_row
from entrepot.provenance.reader import file_histories
from entrepot.provenance.retention import prune_events
from entrepot.provenance.schema import events_table
from tests.integration import test_jobs_ledger_backends as backends

url = backends.url
NOW = datetime.now(UTC).timestamp()


def _record(engine: sa.Engine, rows: list[Any]) -> None:
    with Recorder(engine) as recorder:
        recorder.add(rows)


def _answers(engine: sa.Engine) -> dict[str, Any]:
    """What the reads by name say of the events recorded so far."""
    names = [f"a{n}.csv" for n in range(1, 8)]
    return {
        "journeys": [(e.name, e.kind) for e in find(engine, "a*.csv")],
        "one": [e.kind for e in find(engine, "a3.csv", place="/out")],
        "histories": file_histories(engine, "/out", names),
        "undelivered": [e.name for e in undelivered(engine, place="/out")],
        "pages": [matching_names(engine, "a*", offset=o, limit=3) for o in (0, 3, 6)],
    }


def _received(name: str, at: float, checksum: str) -> Any:
    return event_row(Kind.RECEIVED, "/out", name, checksum=checksum, at=at)


def _delivered(name: str, at: float) -> Any:
    return event_row(Kind.DELIVERED, "/out", name, target="ftp://partner/in", at=at)


def _failed(name: str, at: float) -> Any:
    return event_row(Kind.FAILED, "/out", name, outcome=Outcome.FAILED, at=at)


def test_reads_by_name_find_fresh_and_folded_events_alike(url: str) -> None:
    with Ledger(url) as ledger:
        engine = ledger.engine
        first = [_received(f"a{n}.csv", NOW + n, f"sha256:0{n}") for n in range(1, 6)]
        first += [_delivered("a1.csv", NOW + 10), _delivered("a2.csv", NOW + 11)]
        first += [_failed("a3.csv", NOW + 12)]
        _record(engine, first)
        assert fresh_count_of(engine) == len(first)
        before = _answers(engine)
        with engine.begin() as conn:
            assert fold(conn) == len(first)
        assert fresh_count_of(engine) == 0
        assert _answers(engine) == before

        # More of the same names, fresh, beside their folded history.
        more = [_received("a6.csv", NOW + 20, "sha256:06"), _delivered("a4.csv", NOW + 21)]
        more += [_failed("a3.csv", NOW + 22), _received("a1.csv", NOW + 23, "sha256:11")]
        _record(engine, more)
        mixed = _answers(engine)
        assert mixed["one"] == [Kind.RECEIVED, Kind.FAILED, Kind.FAILED]
        assert mixed["histories"] == {
            "a1.csv": ("sha256:11", 0),  # received again: the newest receipt counts
            "a2.csv": ("sha256:02", 0), "a3.csv": ("sha256:03", 2),
            "a4.csv": ("sha256:04", 0), "a5.csv": ("sha256:05", 0), "a6.csv": ("sha256:06", 0),
        }  # fmt: skip
        assert mixed["undelivered"] == ["a3.csv", "a5.csv", "a6.csv", "a1.csv"]
        first_page, second_page = ["a1.csv", "a2.csv", "a3.csv"], ["a4.csv", "a5.csv", "a6.csv"]
        assert mixed["pages"] == [first_page, second_page, []]
        assert len(mixed["journeys"]) == 12
        with engine.begin() as conn:
            assert fold_if_due(conn, at=5) == 0  # four fresh: not yet
            assert fold_if_due(conn, at=4) == 4
        assert _answers(engine) == mixed

        # Retention prunes fresh and folded events alike.
        _record(engine, [_received("a7.csv", NOW + 30, "sha256:07")])
        assert prune_events(engine, datetime.fromtimestamp(NOW + 25, UTC)) == 12
        assert [e.name for e in find(engine, "a*.csv")] == ["a7.csv"]


def fresh_count_of(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return fresh_count(conn)


def test_a_recorder_folds_the_fresh_events_of_earlier_runs_once_they_are_many(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("entrepot.provenance.folding.FOLD_AT", 10)
    with Ledger(url) as ledger:
        engine = ledger.engine
        # Four events a run.  The fourth run opens with twelve fresh: it folds them,
        # and its own stay fresh.
        for run, fresh in enumerate((4, 8, 12, 4)):
            _record(engine, [_received(f"r{run}-{n}.csv", NOW + n, "sha256:00") for n in range(4)])
            assert fresh_count_of(engine) == fresh
        assert len(find(engine, "r*.csv")) == 16


def test_the_fold_goes_on_while_the_run_records(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fold starts as the recorder opens, in a thread, and the run's commit waits for
    it: a run does not fold at its end."""
    monkeypatch.setattr("entrepot.provenance.folding.FOLD_AT", 3)
    started, release = threading.Event(), threading.Event()
    real_fold = folding.fold

    def slow_fold(conn: Any) -> int:
        started.set()
        assert release.wait(10)
        return real_fold(conn)

    monkeypatch.setattr("entrepot.provenance.folding.fold", slow_fold)
    with Ledger(url) as ledger:
        engine = ledger.engine
        _record(engine, [_received(f"e{n}.csv", NOW + n, "sha256:00") for n in range(3)])
        assert not started.is_set()  # three fresh when it committed: the next run folds
        recorder = Recorder(engine)
        assert started.wait(10)  # under way while the run records
        recorder.add([_received("e9.csv", NOW + 9, "sha256:00")])
        closing = threading.Thread(target=recorder.close)
        closing.start()
        closing.join(0.3)
        assert closing.is_alive()  # its commit waits for the fold…
        release.set()
        closing.join(10)
        assert not closing.is_alive()
        assert fresh_count_of(engine) == 1  # …which folded the three, not its own event
        assert [e.name for e in find(engine, "e*.csv")] == [f"e{n}.csv" for n in (0, 1, 2, 9)]


def test_a_ledger_in_memory_folds_in_the_recorder_s_own_thread(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Another thread would open another, empty database in memory: the fold is done
    where the recorder opens, and no failure is told."""
    monkeypatch.setattr("entrepot.provenance.folding.FOLD_AT", 3)
    with Ledger("sqlite:///:memory:") as ledger:
        engine = ledger.engine
        _record(engine, [_received(f"m{n}.csv", NOW + n, "sha256:00") for n in range(3)])
        _record(engine, [_received("m3.csv", NOW + 3, "sha256:00")])  # opens with three fresh
        assert fresh_count_of(engine) == 1
        assert len(find(engine, "m*.csv")) == 4
    assert "provenance.fold_failed" not in caplog.text


def test_a_fold_that_fails_holds_up_no_event(
    url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def fails(conn: Any) -> int:
        raise sa.exc.OperationalError("UPDATE entrepot_provenance", {}, OSError("disk full"))

    monkeypatch.setattr("entrepot.provenance.folding.FOLD_AT", 2)
    monkeypatch.setattr("entrepot.provenance.folding.fold", fails)
    with Ledger(url) as ledger:
        engine = ledger.engine
        _record(engine, [_received(f"k{n}.csv", NOW + n, "sha256:00") for n in range(3)])
        _record(engine, [_received("k3.csv", NOW + 3, "sha256:00")])  # opens with three fresh
        assert [e.name for e in find(engine, "k*.csv")] == ["k0.csv", "k1.csv", "k2.csv", "k3.csv"]
        assert fresh_count_of(engine) == 4  # left fresh, for the next run to fold
    assert "provenance.fold_failed" in caplog.text


def test_one_fold_at_a_time_on_postgresql(url: str) -> None:
    if not url.startswith("postgresql"):
        pytest.skip("SQLite's writers take turns")
    with Ledger(url) as ledger:
        engine = ledger.engine
        _record(engine, [_received(f"f{n}.csv", NOW + n, "sha256:00") for n in range(3)])
        with engine.begin() as first, engine.begin() as second:
            assert fold_if_due(first, at=3) == 3  # holds the fold's lock until it commits
            assert fold_if_due(second, at=1) == 0  # another fold under way: left to it
        with engine.begin() as conn:
            assert fold_if_due(conn, at=1) == 0 and fresh_count(conn) == 0


def test_postgresql_reads_a_name_from_both_indexes(url: str) -> None:
    if not url.startswith("postgresql"):
        pytest.skip("SQLite's plans are checked in tests/unit/test_provenance_folding.py")
    with Ledger(url) as ledger:
        _record(ledger.engine, [_received("p.csv", NOW, "sha256:00")])
        t = events_table
        from entrepot.provenance.reader import narrowed

        query = narrowed(sa.select(t.c.id), "p.csv")
        compiled = query.compile(ledger.engine, compile_kwargs={"literal_binds": True})
        with ledger.engine.connect() as conn:
            conn.exec_driver_sql("SET enable_seqscan = off")  # a table of one row
            plan = " ".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
    assert "ix_entrepot_provenance_names" in plan and "ix_entrepot_provenance_fresh" in plan, plan


def test_old_events_keep_their_day(url: str) -> None:
    # A fold changes no event: times, kinds and texts read back the same.
    with Ledger(url) as ledger:
        engine = ledger.engine
        old = NOW - timedelta(days=3).total_seconds()
        _record(engine, [_received("old.csv", old, "sha256:0a")])
        before = find(engine, "old.csv")
        with engine.begin() as conn:
            fold(conn)
        assert find(engine, "old.csv") == before
