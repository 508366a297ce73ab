"""The receipts file every put shares: appended to by many, taken whole, each receipt once."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from entrepot.provenance import Kind, Recorder, find, recover_journals, shared
from entrepot.provenance.journal import JOURNAL_DIR, Journal, event_row
from entrepot.provenance.journal_lines import read_journal
from entrepot.provenance.shared import SHARED, SharedJournal, take
from entrepot.spool import Spool
from tests.unit.test_provenance_recovery import engine

__all__ = ["engine"]  # the fixture, used by name


def _receipt(name: str) -> tuple[object, ...]:
    return event_row(Kind.RECEIVED, "/srv/out", name, size=1, details='{"source":"put"}')


def _files(state: Path) -> list[str]:
    folder = state / JOURNAL_DIR
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def _names(engine: sa.Engine) -> Counter[str]:
    events = find(engine, "*")
    assert {event.kind for event in events} <= {Kind.RECEIVED}
    return Counter(event.name for event in events)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def test_puts_one_at_a_time_append_to_one_file_that_the_next_recorder_takes(
    engine: sa.Engine, tmp_path: Path
) -> None:
    state, root = tmp_path / "state", tmp_path / "out"
    Spool(root).prepare()
    names = [f"f{n}.csv" for n in range(20)]
    for name in names:
        with Spool(root, provenance=state) as spool:
            spool.publish_bytes(name.encode(), name)
    assert _files(state) == [SHARED]  # not a journal per put
    lines = (state / JOURNAL_DIR / SHARED).read_bytes().split(b"\n")
    assert [entry.row[3] for entry in read_journal(lines)] == names

    assert recover_journals(engine, state / JOURNAL_DIR) == 20
    events = find(engine, "f*.csv")
    assert sorted(event.name for event in events) == sorted(names)
    assert all(event.checksum and event.details["source"] == "bytes" for event in events)
    assert _files(state) == []  # taken, recorded, deleted
    assert recover_journals(engine, state / JOURNAL_DIR) == 0


def test_a_shipment_keeps_the_receipts_of_many_puts_as_one_journal(
    engine: sa.Engine, tmp_path: Path
) -> None:
    state, root = tmp_path / "state", tmp_path / "out"
    Spool(root).prepare()
    for number in range(50):
        with Spool(root, provenance=state) as spool:
            spool.publish_bytes(b"x", f"f{number}.csv")
    # A journal from the release before, one receipt: kept beside it.
    old = Journal(state)
    old.append([_receipt("old.csv")])
    old.close(remove=False)
    with Recorder(engine, state_dir=state, hold_receipts=True) as recorder:
        assert recorder._kept is not None and len(recorder._kept) == 2
        assert len(recorder.receipts) == 51  # each checksum known without a look-up
    assert sum(_names(engine).values()) == 51
    assert _files(state) == []


def test_a_writer_whose_file_was_taken_writes_to_the_new_one(
    engine: sa.Engine, tmp_path: Path
) -> None:
    writer = SharedJournal(tmp_path)
    writer.append([_receipt("a.csv")])
    taken = take(tmp_path / JOURNAL_DIR)
    assert taken is not None and taken.suffix == ".journal"
    before = taken.read_bytes()
    writer.append([_receipt("b.csv")])  # its descriptor still names the file taken
    assert taken.read_bytes() == before
    assert b"b.csv" in (tmp_path / JOURNAL_DIR / SHARED).read_bytes()
    writer.close()
    assert recover_journals(engine, tmp_path / JOURNAL_DIR) == 2
    assert _names(engine) == Counter({"a.csv": 1, "b.csv": 1})


def test_a_line_torn_by_a_writers_death_is_skipped_and_the_next_one_read(
    engine: sa.Engine, tmp_path: Path
) -> None:
    writer = SharedJournal(tmp_path)
    writer.append([_receipt("whole.csv")])
    with (tmp_path / JOURNAL_DIR / SHARED).open("ab") as torn:  # killed mid-line
        torn.write(b'\n[1,[[1700000000.5,"received","/srv/out","torn.csv",1,nu')
    writer.append([_receipt("after.csv")])
    writer.close()
    assert recover_journals(engine, tmp_path / JOURNAL_DIR) == 2
    assert _names(engine) == Counter({"whole.csv": 1, "after.csv": 1})


WRITER = """
import sys
from entrepot.provenance.journal import event_row
from entrepot.provenance.shared import SharedJournal
state, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
writer = SharedJournal(state)
for number in range(1, count + 1):
    writer.append([event_row("received", "/srv/out", f"{prefix}{number:06}.csv", size=1)])
    if count > 100_000:
        print(number, flush=True)  # acknowledged: written
"""


def test_concurrent_puts_and_recorders_record_each_receipt_once(
    engine: sa.Engine, tmp_path: Path
) -> None:
    state, count = tmp_path / "state", 400
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(state), f"w{n}-", str(count)], env=_env()
        )
        for n in range(4)
    ]
    recorded = 0
    while any(writer.poll() is None for writer in writers):
        recorded += recover_journals(engine, state / JOURNAL_DIR)  # takes it, again and again
        time.sleep(0.005)
    assert [writer.returncode for writer in writers] == [0] * 4
    recorded += recover_journals(engine, state / JOURNAL_DIR)
    names = _names(engine)
    assert recorded == 4 * count and len(names) == 4 * count
    assert set(names.values()) == {1}
    assert _files(state) == []


def test_writers_killed_while_writing_lose_no_acknowledged_receipt(
    engine: sa.Engine, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    acknowledged: dict[str, int] = {}
    for attempt in range(3):
        prefix = f"k{attempt}-"
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(state), prefix, "1000000"],
            env=_env(), stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert child.stdout is not None
        child.stdout.readline()  # writing
        time.sleep(0.05 + 0.1 * attempt)
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        acknowledged[prefix] = int(out.split()[-1]) if out.split() else 1
        # Another put after each death: its line is not glued to a torn one.
        after = SharedJournal(state)
        after.append([_receipt(f"after-{attempt}.csv")])
        after.close()
    recover_journals(engine, state / JOURNAL_DIR)
    names = _names(engine)
    assert set(names.values()) == {1}  # none twice
    for attempt, (prefix, last) in enumerate(acknowledged.items()):
        written = sorted(name for name in names if name.startswith(prefix))
        # Every acknowledged line, and at most the one its writer was killed after.
        assert written[:last] == [f"{prefix}{n:06}.csv" for n in range(1, last + 1)]
        assert last <= len(written) <= last + 1
        assert f"after-{attempt}.csv" in names


def test_a_file_past_the_limit_is_taken_out_of_the_way_by_the_next_writer(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared, "LIMIT", 300)
    first = SharedJournal(tmp_path)
    for name in ("a.csv", "b.csv", "c.csv"):
        first.append([_receipt(name)])
    first.close()
    second = SharedJournal(tmp_path)
    second.append([_receipt("d.csv")])
    second.close()
    files = _files(tmp_path)
    assert SHARED in files and len(files) == 2  # the full one renamed to a journal's name
    [renamed] = [name for name in files if name.endswith(".journal")]
    assert b"d.csv" not in (tmp_path / JOURNAL_DIR / renamed).read_bytes()
    assert recover_journals(engine, tmp_path / JOURNAL_DIR) == 4
    assert _names(engine) == Counter({"a.csv": 1, "b.csv": 1, "c.csv": 1, "d.csv": 1})


def test_a_write_under_way_is_waited_for_and_a_stopped_one_leaves_it_for_later(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = SharedJournal(tmp_path)
    writer.append([_receipt("a.csv")])
    path = tmp_path / JOURNAL_DIR / SHARED
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a writer in the middle of its line
    threading.Timer(0.2, os.close, (fd,)).start()
    started = time.monotonic()
    assert take(tmp_path / JOURNAL_DIR) is not None
    assert time.monotonic() - started >= 0.15  # waited for it

    writer.append([_receipt("b.csv")])
    monkeypatch.setattr(shared, "_WAIT", 0.05)
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a writer stopped in the middle of its line
    try:
        recover_journals(engine, tmp_path / JOURNAL_DIR)  # the first file: recorded
        assert _names(engine) == Counter({"a.csv": 1})  # the second: left, still locked
        assert len(_files(tmp_path)) == 1
    finally:
        os.close(fd)
    assert recover_journals(engine, tmp_path / JOURNAL_DIR) == 1
    assert _names(engine) == Counter({"a.csv": 1, "b.csv": 1})


def test_a_symbolic_link_is_never_written_through_nor_taken(
    engine: sa.Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / JOURNAL_DIR
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_bytes(b"precious\n")
    (folder / SHARED).symlink_to(elsewhere)
    with pytest.raises(OSError):
        SharedJournal(tmp_path).append([_receipt("a.csv")])
    caplog.set_level(logging.WARNING)
    assert take(folder) is None
    assert "provenance.shared_refused" in caplog.text
    (folder / SHARED).unlink()
    (folder / "0123456789abcdef.journal").symlink_to(elsewhere)  # a link as a journal
    assert recover_journals(engine, folder) == 0
    assert "provenance.journal_refused" in caplog.text
    assert elsewhere.read_bytes() == b"precious\n"


def test_spool_put_commands_share_the_file_and_a_trace_records_it(cli: Any, tmp_path: Path) -> None:
    state, spool = tmp_path / "state", tmp_path / "outbox"
    for number in range(3):
        source = tmp_path / f"r{number}.csv"
        source.write_bytes(b"id\n%d\n" % number)
        options = ("--create",) if number == 0 else ()
        assert cli("spool", "put", spool, source, *options, "--state", state)[0] == 0
    assert _files(state) == [SHARED]
    code, out, _ = cli("trace", "r*.csv", "--state", state, "--json")
    assert code == 0
    journeys = json.loads(out)
    assert sorted(journey["name"] for journey in journeys) == ["r0.csv", "r1.csv", "r2.csv"]
    assert all([e["kind"] for e in journey["events"]] == ["received"] for journey in journeys)
    assert _files(state) == []


def test_a_file_taken_before_its_first_line_is_removed_not_left_as_a_journal(
    engine: sa.Engine, tmp_path: Path
) -> None:
    writer = SharedJournal(tmp_path)
    (tmp_path / JOURNAL_DIR / SHARED).touch()  # created by a writer, its line not yet written
    assert take(tmp_path / JOURNAL_DIR) is None
    assert _files(tmp_path) == []
    writer.append([_receipt("a.csv")])
    writer.close()
    assert recover_journals(engine, tmp_path / JOURNAL_DIR) == 1


def test_a_fifo_in_its_place_fails_at_once_and_is_not_taken(tmp_path: Path) -> None:
    folder = tmp_path / JOURNAL_DIR
    folder.mkdir()
    os.mkfifo(folder / SHARED)  # no reader: opening it to write would wait forever
    started = time.monotonic()
    with pytest.raises(OSError):
        SharedJournal(tmp_path).append([_receipt("a.csv")])
    assert time.monotonic() - started < 5
    assert take(folder) is None and _files(tmp_path) == [SHARED]


def test_a_writer_stopped_holding_the_lock_sends_the_others_to_journals_of_their_own(
    engine: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(shared, "PATIENCE", 0.2)
    monkeypatch.setattr(shared, "_WAIT", 0.05)
    first = SharedJournal(tmp_path)
    first.append([_receipt("a.csv")])
    fd = os.open(tmp_path / JOURNAL_DIR / SHARED, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a writer stopped (Ctrl-Z) in the middle of its line
    try:
        caplog.set_level(logging.WARNING)
        waiting = SharedJournal(tmp_path)
        started = time.monotonic()
        waiting.append([_receipt("b.csv")])
        assert 0.2 <= time.monotonic() - started < 5  # not waited for long
        assert "provenance.shared_busy" in caplog.text
        waiting.append([_receipt("c.csv")])  # no second wait: straight to its own journal
        assert time.monotonic() - started < 0.4 + 0.2
        waiting.close()
        assert len([name for name in _files(tmp_path) if name.endswith(".journal")]) == 1
        recover_journals(engine, tmp_path / JOURNAL_DIR)  # the shared file: left, locked
        assert _names(engine) == Counter({"b.csv": 1, "c.csv": 1})
    finally:
        os.close(fd)  # the stopped writer goes on, and ends
    first.close()
    assert recover_journals(engine, tmp_path / JOURNAL_DIR) == 1
    assert _names(engine) == Counter({"a.csv": 1, "b.csv": 1, "c.csv": 1})
    assert _files(tmp_path) == []


def test_uploads_share_a_file_of_their_own_and_a_shipment_keeps_only_the_receipts(
    cli: Any, engine: sa.Engine, tmp_path: Path
) -> None:
    state, root = tmp_path / "state", tmp_path / "dc"
    assert cli("dc", "init", "--root", root)[0] == 0
    for number in range(3):
        source = tmp_path / f"u{number}.csv"
        source.write_bytes(b"id\n%d\n" % number)
        argv = ("dc", "upload", source, "--user", "ops", "--root", root, "--state", state)
        assert cli(*argv)[0] == 0
    with Spool(tmp_path / "out", provenance=state).prepare() as spool:
        spool.publish_bytes(b"x", "put.csv")
    assert _files(state) == [shared.ARRIVALS, SHARED]  # not a journal per command
    with Recorder(engine, state_dir=state, hold_receipts=True) as recorder:
        assert recorder._kept is not None and len(recorder._kept) == 1  # the receipts alone
        uploads = find(engine, "u*_ops.csv")
        assert [e.kind for e in uploads] == [Kind.UPLOADED] * 3  # added as it opened
        assert all(e.checksum and e.details["user"] == "ops" for e in uploads)
    assert [e.kind for e in find(engine, "put.csv")] == [Kind.RECEIVED]
    assert _files(state) == []
