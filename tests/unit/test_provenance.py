"""The provenance recorder, its journal and the reader, on SQLite."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from entrepot.provenance import Kind, Outcome, Recorder, find, recover_journals, undelivered
from entrepot.provenance.journal import JOURNAL_DIR, Journal, event_row
from entrepot.provenance.reader import by_file, file_histories, histories_query, verdict
from entrepot.provenance.schema import ensure_tables, events_table

SECRET = "hunter2-s3cret"


def _commits(engine: sa.Engine) -> list[int]:
    seen: list[int] = []
    sa.event.listen(engine, "commit", lambda conn: seen.append(1))
    return seen


def test_events_are_written_one_transaction_per_batch(engine: sa.Engine, tmp_path: Path) -> None:
    recorder = Recorder(engine, state_dir=tmp_path, batch=1000)
    commits = _commits(engine)
    for number in range(2500):
        recorder.record(Kind.RECEIVED, "/spool", f"f{number:05d}.csv", size=number)
    assert len(commits) <= 2  # full batches (written by a thread of its own), none per event
    recorder.close()
    assert len(commits) == 3  # the last 500 events, the journal marked done with them
    assert len(find(engine, "f*.csv")) == 2500
    assert list((tmp_path / JOURNAL_DIR).iterdir()) == []


def test_a_journey_is_read_back_in_order_with_its_verdict(engine: sa.Engine) -> None:
    with Recorder(engine, job_id="job-1") as recorder:
        recorder.record(Kind.RECEIVED, "/out", "a.csv", size=3, checksum="sha256:ab")
        recorder.record(Kind.CLAIMED, "/out", "a.csv", size=3, checksum="sha256:ab")
        recorder.record(
            Kind.DELIVERED, "/out", "a.csv", size=3, checksum="sha256:ab",
            target="s3://bucket/in", attempt=1, details={"remote_checksum": "md5:00"},
        )  # fmt: skip
        recorder.record(Kind.MOVED, "/out", "a.csv", details={"to": "cur"})
        recorder.record(Kind.RECEIVED, "/out", "b.csv", size=1)
    journey = find(engine, "a.csv")
    assert [e.kind for e in journey] == [Kind.RECEIVED, Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED]
    assert {e.job_id for e in journey} == {"job-1"}
    line = verdict(journey)
    assert line.startswith("delivered to s3://bucket/in at ") and line.endswith("checksum matches")
    assert verdict(find(engine, "b.csv")).startswith("not delivered: received at")
    assert [e.name for e in undelivered(engine)] == ["b.csv"]
    assert undelivered(engine, place="/elsewhere") == []


def test_names_are_globs_and_filters_narrow_them(engine: sa.Engine) -> None:
    now = datetime.now(UTC).timestamp()
    with Recorder(engine) as recorder:
        for name in ("report-1.csv", "report-2.csv", "reports.txt", "other.csv", "r[1].csv"):
            recorder.record(Kind.RECEIVED, "/a", name)
        recorder.record(Kind.DELIVERED, "/b", "report-3.csv", target="ftp://u@partner/in")
    names = {e.name for e in find(engine, "report-*.csv")}
    assert names == {"report-1.csv", "report-2.csv", "report-3.csv"}
    assert {e.name for e in find(engine, "report-*", place="/b")} == {"report-3.csv"}
    assert {e.name for e in find(engine, "*", target="partner")} == {"report-3.csv"}
    # A glob (the class [1] matches "1" only), which also finds the name it spells.
    assert [e.name for e in find(engine, "r[1].csv")] == ["r[1].csv"]
    assert find(engine, "r[2].csv") == []
    assert [e.name for e in find(engine, "r[[]1].csv")] == ["r[1].csv"]
    later = datetime.fromtimestamp(now + 3600, UTC)
    assert find(engine, "*", since=later) == []
    assert len(find(engine, "*", until=later)) == 6


def test_no_secret_is_ever_stored(engine: sa.Engine, tmp_path: Path) -> None:
    with Recorder(engine, state_dir=tmp_path) as recorder:
        recorder.record(
            Kind.FAILED, "/out", "a.csv", outcome=Outcome.FAILED,
            target=f"sftp://user:{SECRET}@host/in",
            details={
                "reason": f"cannot reach postgresql://app:{SECRET}@db/data",
                "query": f"https://h/x?token={SECRET}",
            },
        )  # fmt: skip
        journal = next((tmp_path / JOURNAL_DIR).iterdir()).read_text()
        assert "a.csv" in journal and SECRET not in journal
    with engine.connect() as conn:
        rows = conn.execute(sa.select(events_table)).all()
    assert rows and SECRET not in repr(rows)
    event = find(engine, "a.csv")[0]
    assert event.target == "sftp://user:***@host/in"


def test_a_killed_recorder_loses_nothing_and_its_journal_adds_nothing_twice(
    engine: sa.Engine, tmp_path: Path
) -> None:
    child = """
import os, sys
from entrepot.db import make_engine
from entrepot.provenance import Kind, Recorder
recorder = Recorder(make_engine(sys.argv[1], purpose="ledger"), state_dir=sys.argv[2], batch=10)
for number in range(25):
    recorder.record(Kind.RECEIVED, "/out", f"f{number:02d}")
    if number == 19:
        recorder.flush()  # the two full batches, written by the recorder's thread
os.kill(os.getpid(), 9)
"""
    url = str(engine.url)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", child, url, str(tmp_path)], env=env, check=False)
    assert done.returncode == -9
    assert len(find(engine, "f*")) == 20  # two batches were committed, five events were not
    # As if the process had died between a commit and the emptying of its journal: lines
    # already in the database are still there (seq 20), and the last line is torn.
    journal = next((tmp_path / JOURNAL_DIR).glob("*.journal"))
    kept = journal.read_bytes()
    first = json.loads(kept.splitlines()[0])
    assert first[0] == 21  # [seq, at, kind, place, name, …]
    stale = json.dumps([20, *first[1:4], "committed-already", *first[5:]]).encode()
    journal.write_bytes(stale + b"\n" + kept + b'[26, 1796459013.0, "rec')
    assert recover_journals(engine, tmp_path / JOURNAL_DIR) == 5
    names = [e.name for e in find(engine, "*")]
    assert names == [f"f{n:02d}" for n in range(25)]
    assert list((tmp_path / JOURNAL_DIR).iterdir()) == []
    assert recover_journals(engine, tmp_path / JOURNAL_DIR) == 0


def test_a_live_recorders_journal_is_left_alone(engine: sa.Engine, tmp_path: Path) -> None:
    with Recorder(engine, state_dir=tmp_path) as recorder:
        recorder.record(Kind.RECEIVED, "/out", "a.csv")
        assert recover_journals(engine, tmp_path / JOURNAL_DIR) == 0
        assert find(engine, "a.csv") == []
    assert len(find(engine, "a.csv")) == 1


def test_a_journal_written_without_a_database_is_recorded_later(
    engine: sa.Engine, tmp_path: Path
) -> None:
    spool = tmp_path / "out"
    (spool / "new").mkdir(parents=True)
    (spool / "new" / "a.csv").write_bytes(b"abc")
    journal = Journal(tmp_path)
    digest = hashlib.sha256(b"abc")
    source = {"source": str(tmp_path / "source.csv")}
    journal.arrived(Kind.RECEIVED, spool, spool / "new" / "a.csv", digest, source)
    journal.close(remove=False)
    assert recover_journals(engine, tmp_path / JOURNAL_DIR) == 1
    (event,) = find(engine, "a.csv")
    assert event.kind is Kind.RECEIVED and event.size == 3
    assert event.checksum == "sha256:" + digest.hexdigest()
    assert event.details["source"] == str(tmp_path / "source.csv")
    assert json.loads(json.dumps(event.as_json()))["kind"] == "received"


def test_file_histories_count_failures_since_the_last_receipt(engine: sa.Engine) -> None:
    with Recorder(engine) as recorder:
        recorder.record(Kind.FAILED, "/out", "a.csv", outcome=Outcome.FAILED)
        recorder.record(Kind.RECEIVED, "/out", "a.csv", checksum="sha256:01")
        recorder.record(Kind.FAILED, "/out", "a.csv", outcome=Outcome.FAILED)
        recorder.record(Kind.FAILED, "/out", "a.csv", outcome=Outcome.FAILED)
        recorder.record(Kind.RECEIVED, "/other", "a.csv", checksum="sha256:02")
    found = file_histories(engine, "/out", ["a.csv", "b.csv"])
    assert found == {"a.csv": ("sha256:01", 2)}


def test_verdicts_of_files_that_did_not_arrive(engine: sa.Engine) -> None:
    with Recorder(engine) as recorder:
        recorder.record(
            Kind.FAILED, "/out", "a.csv", outcome=Outcome.FAILED, details={"reason": "refused"}
        )
        recorder.record(Kind.SKIPPED, "/out", "b.csv", target="ftp://h/in")
        recorder.record(
            Kind.IMPORTED, "/dc", "c.csv",
            details={"table": "t", "rows_ok": 3, "rows_failed": 1, "pending": "c.pending.csv"},
        )  # fmt: skip
    journeys = by_file(find(engine, "*"))
    assert verdict(journeys["/out", "a.csv"]).endswith("(refused)")
    assert verdict(journeys["/out", "b.csv"]).startswith("already on ftp://h/in (identical)")
    assert verdict(journeys["/dc", "c.csv"]).endswith("3 rows ok, 1 failed (in c.pending.csv)")
    assert verdict([]) == "no trace"


def test_a_file_pruned_from_cur_is_never_called_undelivered(engine: sa.Engine) -> None:
    """Retention keeps events for ``runs`` and files in cur/ for ``cur``: once a delivery's
    events were pruned, the removal of its file from cur/ was all that was left, and the
    verdict said "never delivered".  A file in cur/ was done with; one pruned elsewhere
    (a data center's upload, a spool's new/) is still "never delivered"."""
    with Recorder(engine) as recorder:
        recorder.record(Kind.PRUNED, "/out", "a.csv", size=2, details={"from": "cur"})
        recorder.record(Kind.PRUNED, "/out", "b.csv", size=2, details={"from": "new"})
    journeys = by_file(find(engine, "*"))
    said = verdict(journeys["/out", "a.csv"])
    assert said.startswith("pruned from cur/ at ") and "delivered or done with" in said
    assert "never delivered" not in said
    assert verdict(journeys["/out", "b.csv"]).endswith(", never delivered")


def test_times_are_utc_and_aware(engine: sa.Engine) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    with Recorder(engine) as recorder:
        recorder.record(Kind.RECEIVED, "/out", "a.csv")
    (event,) = find(engine, "a.csv")
    assert event.at.tzinfo is not None and event.at >= before


@pytest.mark.parametrize("moved", [True, False])
def test_a_step_taken_just_before_a_kill_is_recorded_once_if_it_happened(
    engine: sa.Engine, tmp_path: Path, moved: bool
) -> None:
    child = """
import os, sys
from pathlib import Path
from entrepot.db import make_engine
from entrepot.provenance import Kind, Recorder
from entrepot.provenance.journal import Then
root = Path(sys.argv[2]) / "out"
recorder = Recorder(make_engine(sys.argv[1], purpose="ledger"), state_dir=sys.argv[2])
claimed, cur = root / "claimed" / "t-a.csv", root / "cur" / "a.csv"
then = Then("moved", '{"to":"cur"}', [str(cur)], [str(claimed)])
recorder.record(Kind.DELIVERED, str(root), "a.csv", then=then)
recorder.flush()  # committed; the journal is kept: the move it announced is not settled
if sys.argv[3] == "move":
    os.rename(claimed, cur)
os.kill(os.getpid(), 9)
"""
    for area in ("claimed", "cur"):
        (tmp_path / "out" / area).mkdir(parents=True)
    (tmp_path / "out" / "claimed" / "t-a.csv").write_bytes(b"a")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    args = [str(engine.url), str(tmp_path), "move" if moved else "stay"]
    assert subprocess.run([sys.executable, "-c", child, *args], env=env).returncode == -9
    with Recorder(engine, state_dir=tmp_path):  # recovers the dead journal
        pass
    kinds = [e.kind for e in find(engine, "a.csv")]
    assert kinds == ([Kind.DELIVERED, Kind.MOVED] if moved else [Kind.DELIVERED])
    assert find(engine, "a.csv")[-1].details == ({"to": "cur"} if moved else {})


def test_a_recorded_move_is_not_added_again_from_its_announcement(
    engine: sa.Engine, tmp_path: Path
) -> None:
    child = """
import os, sys
from pathlib import Path
from entrepot.db import make_engine
from entrepot.provenance import Kind, Recorder
from entrepot.provenance.journal import Then
root = Path(sys.argv[2]) / "out"
recorder = Recorder(make_engine(sys.argv[1], purpose="ledger"), state_dir=sys.argv[2])
for name in ("a.csv", "b.csv"):
    claimed, cur = root / "claimed" / f"t-{name}", root / "cur" / name
    then = Then("moved", '{"to":"cur"}', [str(cur)], [str(claimed)])
    recorder.record(Kind.DELIVERED, str(root), name, then=then)
os.rename(root / "claimed" / "t-a.csv", root / "cur" / "a.csv")
recorder.record(Kind.MOVED, str(root), "a.csv", details='{"to":"cur"}', journaled=False)
recorder.settle()
recorder.flush()  # a's move is in the database; b's is announced, not settled: journal kept
os.kill(os.getpid(), 9)
"""
    for area in ("claimed", "cur"):
        (tmp_path / "out" / area).mkdir(parents=True)
    for name in ("a.csv", "b.csv"):
        (tmp_path / "out" / "claimed" / f"t-{name}").write_bytes(b"x")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    args = [str(engine.url), str(tmp_path)]
    assert subprocess.run([sys.executable, "-c", child, *args], env=env).returncode == -9
    assert recover_journals(engine, tmp_path / JOURNAL_DIR) == 0
    assert [e.kind for e in find(engine, "a.csv")] == [Kind.DELIVERED, Kind.MOVED]
    assert [e.kind for e in find(engine, "b.csv")] == [Kind.DELIVERED]


def test_file_histories_read_the_names_index_not_every_event_of_the_spool(
    engine: sa.Engine,
) -> None:
    # Every event of a spool shares its place: looked up by place, a run's
    # lookup would read the spool's whole history.
    ensure_tables(engine)
    sql, parameters = histories_query("/out", ["a.csv", "b.csv"])
    with engine.connect() as conn:
        explained = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, parameters)
        plan = " ".join(str(row[-1]) for row in explained)
    # The rows of the names and the receipt before them: both through the index on names.
    assert plan.count("ix_entrepot_provenance_names") == 2, plan
    assert "ix_entrepot_provenance_place" not in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # the newest receipt read first, not sorted


@pytest.mark.parametrize(
    ("name", "place"), [("a.csv", "/out"), ("rep*", "/out"), (None, "/out"), ("*", "/out")]
)
def test_a_name_and_a_place_read_the_names_index_a_place_alone_the_places(
    engine: sa.Engine, name: str | None, place: str
) -> None:
    from entrepot.provenance.reader import narrowed

    ensure_tables(engine)
    t = events_table
    query = narrowed(sa.select(t), name, place=place).order_by(t.c.at, t.c.id)  # as find()
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        plan = " ".join(
            str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
        )
    expected = "names" if name not in (None, "*") else "place"
    assert f"USING INDEX ix_entrepot_provenance_{expected} " in plan, plan


def test_files_not_delivered_are_looked_up_by_name_not_by_every_event_of_their_place(
    engine: sa.Engine,
) -> None:
    from entrepot.provenance.reader import delivered_since

    ensure_tables(engine)
    r = events_table.alias("r")
    query = sa.select(r.c.id).where(r.c.kind == "received", ~delivered_since(r))
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        plan = " ".join(
            str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
        )
    assert "SEARCH d USING INDEX ix_entrepot_provenance_names (name=? AND kind=? AND at>?)" in plan


def test_the_last_receipt_is_the_newest_of_its_place_among_those_of_every_place(
    engine: sa.Engine,
) -> None:
    received = [(10.0, "/out", "sha256:old"), (20.0, "/out", "sha256:new"),
                (30.0, "/other", "sha256:elsewhere"), (40.0, "/other", "sha256:later")]  # fmt: skip
    failed = [(15.0, "/out"), (25.0, "/out"), (45.0, "/other")]
    with Recorder(engine) as recorder:
        recorder.add([event_row(Kind.RECEIVED, place, "a.csv", checksum=checksum, at=at)
                      for at, place, checksum in received])  # fmt: skip
        recorder.add([event_row(Kind.FAILED, place, "a.csv", outcome=Outcome.FAILED, at=at)
                      for at, place in failed])  # fmt: skip
    assert file_histories(engine, "/out", ["a.csv"]) == {"a.csv": ("sha256:new", 1)}
    assert file_histories(engine, "/other", ["a.csv"]) == {"a.csv": ("sha256:later", 1)}


def test_a_spool_without_receipts_or_failures_spares_the_run_its_look_ups(
    engine: sa.Engine,
) -> None:
    from entrepot.ship.trail import Trail

    statements: list[tuple[str, object]] = []

    def seen(
        _conn: object, _cursor: object, statement: str, parameters: object, *_: object
    ) -> None:
        if statement.startswith("SELECT"):
            statements.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", seen)
    names = [f"f{n}.csv" for n in range(1200)]  # three chunks, were they looked up
    with Recorder(engine) as recorder:
        recorder.record(Kind.DELIVERED, "/out", "f1.csv", target="ftp://h/in")
        recorder.record(Kind.RECEIVED, "/elsewhere", "f2.csv", checksum="sha256:02")
        recorder.flush()
        trail = Trail("/out", "ftp://h/in", recorder)
        statements.clear()
        trail.learn(names)
        assert len(statements) == 1 and trail._known == {}  # one look, by place and kind
        ((look, parameters),) = statements
        recorder.record(Kind.FAILED, "/out", "f3.csv", outcome=Outcome.FAILED)
        recorder.record(Kind.RECEIVED, "/out", "f4.csv", checksum="sha256:04")
        recorder.flush()
        statements.clear()
        trail.learn(names)
    assert len(statements) == 1 + 3
    assert trail._known == {"f3.csv": (None, 1), "f4.csv": ("sha256:04", 0)}
    with engine.connect() as conn:
        explained = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + look, parameters)
        plan = " ".join(str(row[-1]) for row in explained)
    assert "USING COVERING INDEX ix_entrepot_provenance_kind" in plan, plan


def test_full_batches_are_written_while_the_run_goes_on(engine: sa.Engine, tmp_path: Path) -> None:
    # The database is busy (another writer holds it): recording does not wait for it.
    recorder = Recorder(engine, state_dir=tmp_path, batch=100)
    blocker = sqlite3.connect(engine.url.database or "", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    for number in range(250):
        recorder.record(Kind.RECEIVED, "/out", f"f{number:03d}.csv")
    assert find(engine, "f*.csv") == []  # the readers see nothing yet, nobody waited
    blocker.execute("COMMIT")
    blocker.close()
    recorder.close()
    assert [e.name for e in find(engine, "f*.csv")] == [f"f{n:03d}.csv" for n in range(250)]
    assert list((tmp_path / JOURNAL_DIR).iterdir()) == []


def test_a_failed_batch_is_written_by_the_next_flush_in_order(
    engine: sa.Engine, tmp_path: Path
) -> None:
    recorder = Recorder(engine, state_dir=tmp_path, batch=10)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE entrepot_provenance RENAME TO hidden")
    for number in range(25):
        recorder.record(Kind.RECEIVED, "/out", f"f{number:02d}")
    with pytest.raises(sa.exc.OperationalError):
        recorder.flush()  # both batches failed in the thread, then this one
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE hidden RENAME TO entrepot_provenance")
    recorder.close()
    assert [e.name for e in find(engine, "f*")] == [f"f{n:02d}" for n in range(25)]
