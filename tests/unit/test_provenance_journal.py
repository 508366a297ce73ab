"""The provenance journal's lines: one per shipped file, read back in both forms, across a kill.

A shipped file's claim and delivery are written as one journal line, before
its move to ``cur/``; a kill between that line and the move loses nothing
and adds nothing twice.  Journals left by a release that wrote one line per
event (``[seq, *row, then]``) are still recovered.  Lines are copied through
a memory map: a writer killed with nothing unmapped leaves them all, and the
zeros after them are ignored.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from entrepot.db import make_engine
from entrepot.provenance import Kind, Recorder, find, recover_journals
from entrepot.provenance.events import place_of
from entrepot.provenance.journal import JOURNAL_DIR, SUFFIX, Journal, event_row
from entrepot.provenance.journal_lines import read_journal
from entrepot.ship import ShipOptions, Shipper
from entrepot.spool import Spool


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", purpose="ledger")
    yield engine
    engine.dispose()


def test_a_shipped_file_costs_one_short_journal_line(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path / "out").prepare()
    for number in range(12):
        spool.publish_bytes(b"x" * number, f"f{number:02d}.csv")
    (tmp_path / "drop").mkdir()
    lines: list[bytes] = []
    copy = Journal._copy

    def counted(journal: Journal, line: bytes) -> None:
        lines.append(line)
        copy(journal, line)

    monkeypatch.setattr(Journal, "_copy", counted)
    shipper = Shipper(spool.root, (tmp_path / "drop").as_uri(), options=ShipOptions(parallel=3))
    with Recorder(engine, state_dir=tmp_path / "state") as recorder:
        shipper.record_into(recorder)
        assert len(shipper.run().done) == 12
    # The run's constants once (the template), then one line per file with its own values:
    # the delivery keeps its claim (and, in the database, the move its line announced),
    # read back as three events.
    template, *deliveries = [json.loads(line) for line in lines]
    assert template[:3] == [0, "template", 1]
    assert place_of(spool.root) in template[3]
    assert sorted(line[2] for line in deliveries) == [f"f{n:02d}.csv" for n in range(12)]
    assert all(line[1] == 1 and place_of(spool.root) not in line for line in deliveries)
    for number in range(12):
        kinds = [e.kind for e in find(engine, f"f{number:02d}.csv")]
        assert kinds == [Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED]
    with engine.connect() as conn:
        sql = "SELECT kind, count(*) FROM entrepot_provenance GROUP BY kind"
        stored = conn.exec_driver_sql(sql)
        assert dict(stored.all()) == {"delivered": 12}


CHILD = r"""
import os, sys
from entrepot.db import make_engine
from entrepot.provenance import Recorder
from entrepot.ship import Shipper
from entrepot.ship import shipper as shipping

spool, drop, state, database, when = sys.argv[1:]
after_delivery = shipping.Shipper._after_delivery

def killed(self, *args):
    # The delivery's line is written; the move to cur/ is next (or just done).
    if when == "after":
        after_delivery(self, *args)
    os.kill(os.getpid(), 9)

shipping.Shipper._after_delivery = killed
shipper = Shipper(spool, drop)
shipper.record_into(Recorder(make_engine(database, purpose="ledger"), state_dir=state))
shipper.run()
"""


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_kill_between_the_files_line_and_its_move_loses_and_doubles_nothing(
    engine: sa.Engine, tmp_path: Path, when: str
) -> None:
    spool = Spool(tmp_path / "out").prepare()
    spool.publish_bytes(b"abc", "a.csv")
    (tmp_path / "drop").mkdir()
    argv = [spool.root, (tmp_path / "drop").as_uri(), tmp_path / "state", engine.url, when]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.run([sys.executable, "-c", CHILD, *map(str, argv)], env=env)
    assert child.returncode == -9
    assert (tmp_path / "drop" / "a.csv").read_bytes() == b"abc"
    assert spool.names("cur") == (["a.csv"] if when == "after" else [])

    # The delivery's row (keeping its claim), and the move if it was made.
    added = recover_journals(engine, tmp_path / "state" / JOURNAL_DIR)
    assert added == (2 if when == "after" else 1)
    journey = find(engine, "a.csv")
    moved = [Kind.MOVED] if when == "after" else []
    assert [e.kind for e in journey] == [Kind.CLAIMED, Kind.DELIVERED, *moved]
    assert journey[0].checksum == journey[1].checksum and journey[0].checksum is not None
    assert journey[0].at <= journey[1].at
    assert recover_journals(engine, tmp_path / "state" / JOURNAL_DIR) == 0  # nothing twice


def test_a_journal_of_one_line_per_event_is_still_recovered(
    engine: sa.Engine, tmp_path: Path
) -> None:
    # As an earlier release left it when killed: [seq, *row, then], one event a line.
    root = tmp_path / "out"
    for area in ("claimed", "cur"):
        (root / area).mkdir(parents=True)
    (root / "cur" / "a.csv").write_bytes(b"abc")  # moved: in cur/, gone from claimed/
    place, checksum = place_of(root), "sha256:" + "ab" * 32
    common = [place, "a.csv", 3, checksum, "job-1", "host-1", "ok"]
    then = ["moved", '{"to":"cur"}', [f"{place}/cur/a.csv"], [f"{place}/claimed/t-a.csv"]]
    lines = [
        [1, 1700000000.5, "received", *common, None, None, '{"source":"put"}', None],
        [2, 1700000001.5, "claimed", *common, None, 1, "{}", None],
        [3, 1700000002.5, "delivered", *common, "ftp://h/in", 1, "{}", then],
    ]
    folder = tmp_path / "state" / JOURNAL_DIR
    folder.mkdir(parents=True)
    text = "".join(json.dumps(line) + "\n" for line in lines) + '[4, 1700000003.5, "fail'
    (folder / f"0123456789abcdef{SUFFIX}").write_text(text)  # the last line torn by the kill

    assert recover_journals(engine, folder) == 4
    journey = find(engine, "a.csv")
    assert [e.kind for e in journey] == [Kind.RECEIVED, Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED]
    assert journey[2].target == "ftp://h/in" and journey[3].details == {"to": "cur"}
    assert {e.checksum for e in journey[:3]} == {checksum}
    assert list(folder.iterdir()) == []


KILLED_WRITER = """
import os, signal, sys
from entrepot.provenance.journal import Journal, event_row
journal = Journal(sys.argv[1])
for number in range(1, 1001):
    row = event_row("received", "/srv/out", f"f{number:04}.csv", size=number, details="{}")
    journal.append((row,))
os.kill(os.getpid(), signal.SIGKILL)  # nothing unmapped, synced or closed
"""


def test_a_killed_writer_s_mapped_lines_are_all_recovered(
    engine: sa.Engine, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], env=env)
    assert child.returncode == -9
    (left,) = (tmp_path / JOURNAL_DIR).glob(f"*{SUFFIX}")
    data = left.read_bytes()
    # Grown from 64 KiB as the lines came (about 120 bytes each), zeros after the last.
    assert len(data) >= 128 * 1024 and data.count(b"\n") == 1000
    assert data.rstrip(b"\0").endswith(b"\n") and data.endswith(b"\0")
    assert recover_journals(engine, tmp_path / JOURNAL_DIR) == 1000
    assert [e.size for e in find(engine, "f*.csv")] == list(range(1, 1001))


def test_a_journal_read_back_ignores_the_zeros_and_a_line_cut_by_them(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    for number in (1, 2):
        journal.append((event_row("received", "/srv/out", f"{number}.csv", details="{}"),))
    with journal.path.open("rb") as lines:
        assert [e.row[3] for e in read_journal(lines)] == ["1.csv", "2.csv"]
    # A kill in the middle of a copy: the line stops where the zeros begin.
    cut = journal.path.read_bytes().replace(b'"2.csv"', b'"2.c\0\0\0')
    assert [e.row[3] for e in read_journal(cut.splitlines(keepends=True))] == ["1.csv"]
    # Closed while its events wait to be recovered: its lines only, no zeros after them.
    journal.close(remove=False)
    assert journal.path.read_bytes().endswith(b"\n") and b"\0" not in journal.path.read_bytes()
    journal = Journal(tmp_path)
    journal.empty()  # emptied before anything was written, then written again
    journal.append((event_row("received", "/srv/out", "3.csv", details="{}"),))
    journal.empty()
    assert journal.path.stat().st_size == 0
    journal.close(remove=True)


def test_a_journal_s_whole_lines_are_decoded_in_one_call_and_damaged_ones_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path)
    for number in (1, 2, 3):
        journal.append((event_row("received", "/srv/out", f"{number}.csv", details="{}"),))
    lines = journal.path.read_bytes().split(b"\n")
    journal.close(remove=True)
    calls: list[bytes] = []
    real = json.loads

    def counted(text: bytes) -> object:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(json, "loads", counted)
    assert [e.row[3] for e in read_journal(lines)] == ["1.csv", "2.csv", "3.csv"]
    assert len(calls) == 1
    # Two values on one line: decoded as one array, the values outnumber the lines, and
    # each line is read on its own.  Only lines of one value count (an empty list is no
    # entry).
    two = lines[0] + b"," + lines[1]
    damaged = [lines[0], two, b"[]", lines[2]]
    calls.clear()
    assert [e.row[3] for e in read_journal(damaged)] == ["1.csv", "3.csv"]
    assert len(calls) == 1 + len(damaged)
    # A line torn by a crash: read line by line from the start.
    calls.clear()
    assert [e.row[3] for e in read_journal([*lines[:2], lines[2][:40]])] == ["1.csv", "2.csv"]
    assert len(calls) == 3


def test_the_journal_s_stretches_are_written_not_left_unwritten(tmp_path: Path) -> None:
    # An ext4 block reserved but never written ("unwritten") ties the journal's dirty
    # pages to every fsync the process makes of other files: the journal writes zeros.
    filefrag = shutil.which("filefrag") or "/usr/sbin/filefrag"
    kind = subprocess.run(["stat", "-f", "-c", "%T", str(tmp_path)], capture_output=True, text=True)
    if not os.path.exists(filefrag) or kind.stdout.strip() != "ext2/ext3":
        pytest.skip("needs filefrag and an ext4 temporary folder")
    journal = Journal(tmp_path)
    journal.append((event_row("received", "/srv/out", "a.csv", details="{}"),))
    with journal.path.open("rb") as synced:
        os.fsync(synced.fileno())
    extents = subprocess.run(
        [filefrag, "-v", str(journal.path)], capture_output=True, text=True, check=True
    ).stdout
    assert journal.path.stat().st_size == 64 * 1024
    assert "eof" in extents and "unwritten" not in extents, extents
    journal.close(remove=True)
