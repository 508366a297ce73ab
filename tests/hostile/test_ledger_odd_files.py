"""The state folder's ledger file: odd folder names, damaged files, other databases, a lock.

What was wrong, and what is now expected:

* a ``%41``, ``?`` or ``#`` in the state folder's path was read as a URL
  escape, a query or a fragment: the ledger went to ``…/A…`` or to a file
  beside the folder, shared with other services.  Now the ledger is
  ``<state>/ledger.sqlite3`` whatever the path holds, and the commands that
  only read find it there;
* ``status`` on a damaged ledger printed a traceback and exited 1 (which
  monitoring reads as "a job needs attention").  Now it says the ledger
  cannot be opened and exits 3, as ``jobs ls`` does;
* the commands that only read gave Entrepôt's tables to any SQLite database
  named ``ledger.sqlite3`` and reported an empty, healthy ledger.  Now they
  refuse it (exit 3) and leave it as it was, while a ledger of a release
  that predates schema versions is still read (and upgraded) as before;
* ``jobs ls``, ``backlog ls`` and ``jobs show`` took the write lock just to
  open the ledger, and waited 150 s on a ledger another process held.  Now
  a ledger at this release's version is opened without the write lock, and
  they answer at once.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from entrepot.jobs import Ledger
from entrepot.jobs.states import JobState
from entrepot.jobs.summary import sqlite_reader, state_counts
from tests.hostile._shipping import entrepot

READING = [
    ["status"],
    ["status", "--json"],
    ["jobs", "ls"],
    ["jobs", "show", "2026"],
    ["backlog", "ls"],
]


def _ledger_with_a_job(state: Path) -> None:
    with Ledger.open(state) as ledger:
        ledger.add_job("20260101-one", "noop", {}, state=JobState.BACKLOG)


@pytest.mark.parametrize("name", ["pct%41", "hash#q?x", "a?1", "sp ace%2Fslash"])
def test_the_ledger_is_in_the_state_folder_whatever_its_name_holds(
    tmp_path: Path, name: str
) -> None:
    state = tmp_path / name / "state"
    _ledger_with_a_job(state)
    assert (state / "ledger.sqlite3").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # nothing made beside it
    with sqlite_reader(state) as rows:  # the read-only reader finds the same file
        assert rows is not None
        assert state_counts(rows)[JobState.BACKLOG] == 1
    done = entrepot("status", "--json", "--state", state)
    assert done.returncode == 1, done.stderr  # the backlog job: the same ledger
    assert '"backlog": 1' in done.stdout


@pytest.mark.parametrize(
    "content", [b"not a database " * 600, b"SQLite format 3\x00" + b"\xff" * 8192]
)
def test_a_damaged_ledger_is_told_with_exit_3_by_every_reading_command(
    tmp_path: Path, content: bytes
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "ledger.sqlite3").write_bytes(content)
    for command in READING:
        done = entrepot(*command, "--state", state)
        assert done.returncode == 3, (command, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert "cannot open the ledger" in done.stderr, done.stderr
        assert done.stdout == ""


def test_a_database_that_is_not_a_ledger_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    with sqlite3.connect(state / "ledger.sqlite3") as conn:
        conn.execute("CREATE TABLE precious (x)")
    before = (state / "ledger.sqlite3").read_bytes()
    for command in [*READING, ["trace", "x"], ["receipt", "r"]]:
        done = entrepot(*command, "--state", state)
        assert done.returncode == 3, (command, done.stdout, done.stderr)
        assert "is not a ledger" in done.stderr, done.stderr
    with sqlite3.connect(state / "ledger.sqlite3") as conn:
        tables = conn.execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [("precious",)]
    assert (state / "ledger.sqlite3").read_bytes() == before


def test_a_ledger_made_before_schema_versions_is_still_read_and_upgraded(tmp_path: Path) -> None:
    state = tmp_path / "state"
    _ledger_with_a_job(state)
    with sqlite3.connect(state / "ledger.sqlite3") as conn:
        conn.execute("DROP TABLE entrepot_schema")
    for command in (["status"], ["jobs", "ls"]):
        done = entrepot(*command, "--state", state)
        assert done.returncode in (0, 1), (command, done.stderr)
        assert "20260101-one" in done.stdout
    with sqlite3.connect(state / "ledger.sqlite3") as conn:
        (version,) = conn.execute(
            "SELECT version FROM entrepot_schema WHERE component = 'ledger'"
        ).fetchone()
    assert version >= 1


HOLD = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
time.sleep(120)
"""


def test_commands_that_only_read_answer_at_once_while_another_process_writes(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    _ledger_with_a_job(state)
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(state / "ledger.sqlite3")],
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            for command in (["jobs", "ls"], ["backlog", "ls"], ["jobs", "show", "2026"],
                            ["status"]):  # fmt: skip
                began = time.monotonic()
                done = entrepot(*command, "--state", state, timeout=60)
                took = time.monotonic() - began
                assert done.returncode in (0, 1), (command, done.stderr)
                assert "20260101-one" in done.stdout
                assert took < 20, (command, took)  # under the 30 s busy timeout: no write lock
        finally:
            holder.kill()
