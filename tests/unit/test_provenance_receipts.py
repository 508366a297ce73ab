"""Receipts: every delivery of a place, to one target or all, written as CSV or JSON."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from entrepot.db import write_transaction
from entrepot.durable import replacing_text
from entrepot.jobs import Ledger
from entrepot.provenance import Kind
from entrepot.provenance.inserts import insert_rows
from entrepot.provenance.journal import event_row
from entrepot.provenance.reader import deliveries
from entrepot.provenance.receipts import receipt_row, receipt_text, write_receipt
from entrepot.provenance.schema import ensure_tables

A, AB = "file:///srv/drop-a", "file:///srv/drop-ab"


def delivered(engine: sa.Engine, *names: str, target: str = A, at: float = 1_000.0) -> None:
    rows = [event_row(Kind.DELIVERED, "/out", name, size=1, target=target, at=at) for name in names]
    with write_transaction(engine) as conn:
        insert_rows(conn, rows)


def test_every_delivery_is_read_once_in_order_page_after_page(engine: sa.Engine) -> None:
    ensure_tables(engine)
    # Pages of 3 rows, and seven deliveries of the same instant across them.
    delivered(engine, *(f"same-{n}" for n in range(7)), at=1_000.0)
    delivered(engine, "later", at=1_001.0)
    delivered(engine, "earlier", at=999.0)
    delivered(engine, "elsewhere", target=AB, at=1_000.5)
    names = [event.name for event in deliveries(engine, "/out", page=3)]
    assert names == ["earlier", *(f"same-{n}" for n in range(7)), "elsewhere", "later"]
    assert [e.name for e in deliveries(engine, "/out", page=1)] == names


def test_a_routes_target_is_matched_exactly_not_as_the_start_of_another(
    engine: sa.Engine,
) -> None:
    ensure_tables(engine)
    delivered(engine, "a.csv", target=A)
    delivered(engine, "ab.csv", target=AB)
    assert [e.name for e in deliveries(engine, "/out", target=A)] == ["a.csv"]
    assert [e.name for e in deliveries(engine, "/out", target=AB)] == ["ab.csv"]
    assert list(deliveries(engine, "/elsewhere")) == []


def test_a_receipt_is_written_a_line_at_a_time_as_the_whole_list_would_be(
    engine: sa.Engine,
) -> None:
    ensure_tables(engine)
    delivered(engine, 'quote "q", comma.csv', "ünïcode.csv", "plain.csv")
    events = list(deliveries(engine, "/out"))
    rows = [receipt_row(event) for event in events]
    for count in (0, 1, 3):
        out = io.StringIO()
        assert write_receipt(events[:count], "json", out) == count
        assert out.getvalue() == json.dumps(rows[:count], ensure_ascii=False, indent=2) + "\n"
    text = receipt_text(events, "csv").splitlines()
    assert len(text) == 4 and text[1].startswith('"quote ""q"", comma.csv",1,')


def test_a_replaced_file_is_the_old_one_or_the_new_one_never_a_part(tmp_path: Path) -> None:
    path = tmp_path / "receipt.csv"
    path.write_text("old\n")
    with pytest.raises(OSError, match="No space"), replacing_text(path) as out:
        out.write("new, half")
        raise OSError(28, "No space left on device")
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["receipt.csv"]
    with replacing_text(path) as out:
        assert out.write("new\n") == 4
    assert path.read_text() == "new\n"
    # A link put where the file was is replaced, never written through.
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep\n")
    path.unlink()
    path.symlink_to(elsewhere)
    with replacing_text(path) as out:
        out.write("receipt\n")
    assert not path.is_symlink() and path.read_text() == "receipt\n"
    assert elsewhere.read_text() == "keep\n"


def test_a_trace_cut_at_its_limit_says_so(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from entrepot.provenance import Recorder, reader

    state = tmp_path / "state"
    with Ledger.open(state) as ledger, Recorder(ledger.engine) as recorder:
        for name in ("a.csv", "b.csv", "c.csv"):
            recorder.record(Kind.RECEIVED, "/out", name)
    code, _, err = cli("trace", "*.csv", "--state", state)
    assert code == 0 and "only the first" not in err
    monkeypatch.setattr(reader, "LIMIT", 2)
    code, out, err = cli("trace", "*.csv", "--state", state)
    assert code == 0 and "c.csv" not in out
    assert "only the first 2 events are shown" in err


def test_a_window_that_ends_before_it_starts_is_a_mistake(tmp_path: Path, cli: Any) -> None:
    state = tmp_path / "state"
    Ledger.open(state).close()
    for command in (("trace", "*.csv"), ("receipt", tmp_path)):
        code, out, err = cli(*command, "--since", "1h", "--until", "2h", "--state", state)
        assert code == 3 and out == ""
        assert "--since 1h is not before --until 2h" in err
    code, _, _ = cli("receipt", tmp_path, "--since", "2h", "--until", "1h", "--state", state)
    assert code == 0


def test_a_state_folder_that_does_not_exist_is_a_mistake_not_an_empty_ledger(
    tmp_path: Path, cli: Any
) -> None:
    typo = tmp_path / "stat"
    for command in (("jobs", "ls"), ("jobs", "show", "x"), ("backlog", "ls"), ("trace", "*"),
                    ("receipt", tmp_path), ("status",), ("status", "--json")):  # fmt: skip
        code, out, err = cli(*command, "--state", typo)
        assert code == 4 and out == "", command
        assert f"no state folder at {typo}" in err, command
    assert not typo.exists()  # nothing made there


def test_an_output_that_is_not_a_file_is_written_into_not_replaced(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import stat
    import threading

    from entrepot.durable import output_text

    null = tmp_path / "null"  # as /dev/stdout is a link to what the shell gave
    null.symlink_to(os.devnull)
    with output_text(null) as out:
        out.write("x\n")
    assert null.is_symlink() and os.readlink(null) == os.devnull
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    read: list[str] = []
    reader = threading.Thread(target=lambda: read.append(pipe.read_text()))
    reader.start()
    with output_text(pipe) as out:
        out.write("through the pipe\n")
    reader.join(10)
    assert read == ["through the pipe\n"] and stat.S_ISFIFO(os.lstat(pipe).st_mode)
    # "-o -" is standard output, not a file named "-".
    state = tmp_path / "state"
    Ledger.open(state).close()
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli("receipt", tmp_path, "-o", "-", "--state", state)
    assert code == 0 and out.startswith("name,size,sha256,") and not (tmp_path / "-").exists()
