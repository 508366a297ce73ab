"""The recorder's writing thread and its journal lines, written outside its lock."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from entrepot.provenance import Kind, Recorder, find, recover_journals
from entrepot.provenance.journal import JOURNAL_DIR, Journal, Row
from entrepot.provenance.writer import BatchWriter
from tests.unit.journals import die


def test_batches_are_written_in_the_order_handed_over_and_handing_over_never_waits() -> None:
    written: list[int] = []
    go = threading.Event()

    def write(rows: list[tuple[int]], seq: int) -> None:
        go.wait(10)
        written.append(seq)

    writer = BatchWriter(write, waiting=1)
    for seq in range(1, 6):
        writer.put([(seq,)], seq)  # five batches for a writer allowed one behind: no wait
    waited = threading.Thread(target=writer.wait)
    waited.start()
    waited.join(0.2)
    assert waited.is_alive()  # wait() holds a caller until the writer catches up
    go.set()
    waited.join(10)
    writer.drain()
    assert written == [1, 2, 3, 4, 5]
    writer.stop()


def test_a_line_written_after_its_batch_was_committed_is_never_added_twice(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder(engine, state_dir=tmp_path, batch=2)
    write = Journal.write

    def late(journal: Journal, seq: int, rows: object, then: object = None) -> None:
        if recorder._writer is not None:
            recorder.flush()  # the batch holding this line's event is committed first
        write(journal, seq, rows, then)  # type: ignore[arg-type]

    monkeypatch.setattr(Journal, "write", late)
    recorder.record(Kind.RECEIVED, "/out", "a.csv")
    recorder.record(Kind.RECEIVED, "/out", "b.csv")  # fills the batch, then writes its line
    journal = recorder._journal
    assert journal is not None
    assert journal.path.read_bytes().count(b"\n") == 1  # b's line, after the journal was emptied
    # The process dies here: its journal keeps b's line, the database has both events.
    die(journal)  # its lock released, its journal left
    assert recover_journals(engine, tmp_path / JOURNAL_DIR) == 0
    assert [e.name for e in find(engine, "*.csv")] == ["a.csv", "b.csv"]


def test_threads_recording_at_once_lose_and_double_nothing(
    engine: sa.Engine, tmp_path: Path
) -> None:
    recorder = Recorder(engine, state_dir=tmp_path, batch=64)

    def record(thread: int) -> None:
        for number in range(300):
            recorder.record(Kind.RECEIVED, "/out", f"t{thread}-{number:03d}.csv")

    threads = [threading.Thread(target=record, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.close()
    names = sorted(e.name for e in find(engine, "t*.csv"))
    assert names == sorted(f"t{t}-{n:03d}.csv" for t in range(6) for n in range(300))
    assert list((tmp_path / JOURNAL_DIR).iterdir()) == []


def test_a_batch_does_not_wait_for_the_disk_and_the_flush_makes_it_durable(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits: list[tuple[int, bool]] = []
    commit = Recorder._commit

    def noted(
        recorder: Recorder,
        rows: list[Row],
        counts: Any,
        seq: int,
        *,
        durable: bool,
        kept: bool = False,
    ) -> None:
        commit(recorder, rows, counts, seq, durable=durable, kept=kept)
        commits.append((len(rows), durable))

    monkeypatch.setattr(Recorder, "_commit", noted)
    recorder = Recorder(engine, state_dir=tmp_path, batch=2)
    for name in ("a.csv", "b.csv"):
        recorder.record(Kind.RECEIVED, "/out", name)  # the second fills a batch
    assert recorder._writer is not None
    recorder._writer.drain()
    journal = recorder._journal
    assert journal is not None
    assert commits == [(2, False)] and len(find(engine, "*.csv")) == 2
    # Committed without waiting for the disk: the journal keeps the lines meanwhile.
    assert journal.path.read_bytes().count(b"\n") == 2
    recorder.flush()  # nothing left in memory: a commit of nothing, that waits for the disk
    assert commits == [(2, False), (0, True)]
    assert journal.path.stat().st_size == 0
    recorder.flush()  # nothing since: no commit at all
    assert commits == [(2, False), (0, True)]
    # Killed after a batch that did not wait for the disk: its lines add nothing twice.
    recorder.record(Kind.RECEIVED, "/out", "c.csv")
    recorder.record(Kind.RECEIVED, "/out", "d.csv")
    recorder._writer.drain()
    die(journal)
    assert recover_journals(engine, tmp_path / JOURNAL_DIR) == 0
    assert [e.name for e in find(engine, "*.csv")] == ["a.csv", "b.csv", "c.csv", "d.csv"]


def test_threads_delivering_and_settling_at_once_record_each_file_once_with_its_step(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """As a shipment's threads do: each step settled without the recorder's lock, matched
    with its delivery when a batch is written — here many times during the run."""
    from tests.unit.test_provenance_deliveries import _delivery, _template

    recorder = Recorder(engine, state_dir=tmp_path, batch=16)
    template = _template("/spool")

    def ship(thread: int) -> None:
        for number in range(200):
            ticket = recorder.deliver(template, _delivery(f"t{thread}-{number:03d}", "/spool"))
            recorder.settle(1700000000_500000 + number, ticket=ticket)

    threads = [threading.Thread(target=ship, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert recorder._writer is not None  # full batches went to the writer meanwhile
    recorder._writer.drain()
    assert len(find(engine, "t*")) > 16  # and were written before the end
    recorder.close()
    events = find(engine, "t*")
    by_file: dict[str, list[Kind]] = {}
    for event in events:
        by_file.setdefault(event.name, []).append(event.kind)
    expected = {f"t{t}-{n:03d}" for t in range(4) for n in range(200)}
    assert set(by_file) == expected
    assert all(k == [Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED] for k in by_file.values())
    assert list((tmp_path / JOURNAL_DIR).iterdir()) == []
