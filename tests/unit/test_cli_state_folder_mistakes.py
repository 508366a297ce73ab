"""Commands that only read the ledger refuse a folder that is not a state folder.

A folder holding no ledger, a ledger cut to 0 bytes, or a file named as the
state folder is a mistake: told as one, with nothing made there — never an
empty ledger read as "nothing happened".
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from entrepot.cli import main
from entrepot.spool import Spool

READERS = [
    ["jobs", "ls"],
    ["jobs", "show", "2026"],
    ["backlog", "ls"],
    ["status"],
    ["trace", "--undelivered"],
    ["trace", "*"],
    ["receipt", "{spool}"],
]


def run(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, err.getvalue()


def contents(folder: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*"))


@pytest.fixture
def spool(tmp_path: Path) -> str:
    return str(Spool(tmp_path / "out").prepare().root)


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_a_folder_with_no_ledger_is_refused_and_left_as_it_was(
    tmp_path: Path, spool: str, command: list[str]
) -> None:
    folder = tmp_path / "notstate"
    folder.mkdir()
    (folder / "README").write_text("notes\n")
    before = contents(folder)
    code, err = run(*(arg.format(spool=spool) for arg in command), "--state", str(folder))
    assert code == 4
    assert "is not a state folder" in err and "ledger.sqlite3" in err
    assert contents(folder) == before


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_a_ledger_cut_to_nothing_is_refused_and_left_as_it_was(
    tmp_path: Path, spool: str, command: list[str]
) -> None:
    state = tmp_path / "state"
    (state / "provenance").mkdir(parents=True)
    (state / "ledger.sqlite3").touch()
    before = contents(state)
    code, err = run(*(arg.format(spool=spool) for arg in command), "--state", str(state))
    assert code == 4
    assert "is empty (0 bytes)" in err
    assert contents(state) == before


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_a_file_named_as_the_state_folder_is_told_as_one(
    tmp_path: Path, spool: str, command: list[str]
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("hi\n")
    code, err = run(*(arg.format(spool=spool) for arg in command), "--state", str(afile))
    assert code == 3
    assert f"{afile} is not a folder" in err and "Errno" not in err
    assert afile.read_text() == "hi\n"


def test_a_state_folder_with_only_the_journals_of_puts_is_read(tmp_path: Path) -> None:
    state = tmp_path / "state"
    source = tmp_path / "a.csv"
    source.write_text("a\n")
    assert run("spool", "put", "--create", str(tmp_path / "out"), str(source),
               "--state", str(state))[0] == 0  # fmt: skip
    assert not (state / "ledger.sqlite3").exists()
    assert run("trace", "a.csv", "--state", str(state)) == (0, "")
