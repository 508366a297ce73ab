"""An archive's seal killed with SIGKILL at each of its steps is recorded once, in order.

A child interpreter writes a few records with a :class:`RollingWriter`
that hands its archives to a spool and journals their provenance, and
kills itself (SIGKILL) at one named point of the seal — the code path is
otherwise the real one:

* ``before-note``: sealed in place, before the hand-off's note is written;
* ``before-rename``: the note written, before ``X.open`` becomes final;
* ``before-handoff``: renamed, before the spool has it;
* ``in-spool-tmp``: linked into the spool's ``tmp/``, not yet published there;
* ``before-journal``: in the spool, before its events are journaled;
* ``before-settle``: journaled, before the local copy and the note go;
* ``after``: every step done (killed from the ``on_close`` hook).

The next writer in the folder recovers what was left, then the ledger
adds the journals.  The archive must be in the spool once, whole, and its
trace hold ``sealed`` and ``handed_off`` in the archive folder and
``received`` in the spool, each once, in order, with its record count and
the checksum of the bytes in the spool.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from entrepot.archive import ArchiveReader, RollingWriter
from entrepot.db import make_engine
from entrepot.provenance import Kind, find, recover_journals
from entrepot.provenance.reader import by_file
from entrepot.spool import Spool

RECORDS = 7
TEMPLATE = "events-{seq}.arc"
POINTS = (
    "before-note", "before-rename", "before-handoff", "in-spool-tmp", "before-journal",
    "before-settle",
)  # fmt: skip

#: Writes RECORDS records and closes the writer, killed at the point named by argv[1].
CHILD = """
import os, signal, sys
from entrepot.archive import RollingWriter, handoff, sealnote

point, folder, spool, state, compression, records, template = sys.argv[1:]

def kill(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

def before(owner, name):
    setattr(owner, name, kill)

def after(owner, name):
    real = getattr(owner, name)
    def then_kill(*args, **kwargs):
        real(*args, **kwargs)
        kill()
    setattr(owner, name, then_kill)

if point == "before-note":
    before(sealnote.HeldNote, "write")
elif point == "before-rename":
    after(sealnote.HeldNote, "write")
elif point == "before-handoff":
    before(handoff.HandOff, "_deliver")
elif point == "in-spool-tmp":
    from entrepot.spool.areas import Areas
    before(Areas, "publish")
elif point == "before-journal":
    before(handoff.HandOff, "_record")
elif point == "before-settle":
    after(handoff.HandOff, "_record")
writer = RollingWriter(
    folder, template, spool=spool, provenance=state,
    compression=None if compression == "none" else compression,
    on_close=[kill] if point == "after" else [],
)
for number in range(int(records)):
    writer.write({"kind": "reading"}, {"value": number})
writer.close()
"""


def _killed_seal(tmp_path: Path, point: str, compression: str) -> tuple[Path, Spool, Path]:
    folder, state = tmp_path / "archives", tmp_path / "state"
    spool = Spool(tmp_path / "outbox").prepare()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    argv = [point, folder, spool.root, state, compression, RECORDS, TEMPLATE]
    child = subprocess.run(
        [sys.executable, "-c", CHILD, *(str(arg) for arg in argv)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert child.returncode == -signal.SIGKILL, child.stderr
    return folder, spool, state


def _next_run(folder: Path, spool: Spool, state: Path, compression: str) -> None:
    """The next writer in the folder: it recovers what the killed one left, writes nothing."""
    chosen = None if compression == "none" else compression
    RollingWriter(folder, TEMPLATE, spool=spool, provenance=state, compression=chosen).close()


def _check_trace(engine: Engine, folder: Path, spool: Spool, compression: str) -> None:
    (name,) = spool.names("new")
    data = spool.path("new", name).read_bytes()
    with ArchiveReader(spool.path("new", name)) as reader:
        assert [record.payload["value"] for record in reader] == list(range(RECORDS))
        assert reader.header is not None
        archive_id = reader.header.archive_id.hex
    assert os.listdir(folder) == []  # no open file, no note, no local copy left
    journeys = by_file(find(engine, name))
    here, there = os.path.realpath(folder), os.path.realpath(spool.root)
    assert set(journeys) == {(here, name), (there, name)}
    archived, sealed, handed = journeys[here, name]
    (received,) = journeys[there, name]
    assert (archived.kind, sealed.kind, handed.kind, received.kind) == (
        Kind.ARCHIVED,
        Kind.SEALED,
        Kind.HANDED_OFF,
        Kind.RECEIVED,
    )
    # Journaled when the archive got its first record, before any step of the seal.
    assert archived.details == {"archive": archive_id}
    assert archived.at <= sealed.at <= handed.at <= received.at
    checksum = "sha256:" + hashlib.sha256(data).hexdigest()
    for event in (sealed, handed, received):
        assert (event.checksum, event.size) == (checksum, len(data)), event
        assert event.details["archive"] == archive_id
    chosen = None if compression == "none" else compression
    assert sealed.details == {"records": RECORDS, "compression": chosen, "archive": archive_id}
    assert handed.details["as"] == name
    assert received.details["source"] == str(folder / name)


@pytest.mark.parametrize("compression", ["none", "zstd"])
@pytest.mark.parametrize("point", [*POINTS, "after"])
def test_a_seal_killed_at_any_step_is_traced_once(
    tmp_path: Path, point: str, compression: str
) -> None:
    folder, spool, state = _killed_seal(tmp_path, point, compression)
    _next_run(folder, spool, state, compression)
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", purpose="ledger")
    try:
        recover_journals(engine, state / "provenance")
        _check_trace(engine, folder, spool, compression)
    finally:
        engine.dispose()


@pytest.mark.parametrize("point", ["before-journal", "before-settle"])
def test_journals_read_before_and_after_the_recovery_add_each_event_once(
    tmp_path: Path, point: str
) -> None:
    # The ledger reads the killed writer's journal first; recovery then journals the
    # hand-off again, and what was recorded already is not added twice.
    folder, spool, state = _killed_seal(tmp_path, point, "zstd")
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", purpose="ledger")
    try:
        recover_journals(engine, state / "provenance")
        _next_run(folder, spool, state, "zstd")
        recover_journals(engine, state / "provenance")
        _check_trace(engine, folder, spool, "zstd")
    finally:
        engine.dispose()


def test_a_seal_killed_after_journaling_is_traced_once_on_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    folder, spool, state = _killed_seal(tmp_path, "before-settle", "none")
    engine = make_engine(postgres_url, purpose="ledger")
    try:
        recover_journals(engine, state / "provenance")  # the killed writer's events first
        _next_run(folder, spool, state, "none")
        recover_journals(engine, state / "provenance")
        _check_trace(engine, folder, spool, "none")
    finally:
        engine.dispose()
