"""Hostile names are refused everywhere a name becomes a path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from entrepot.errors import InvalidName
from entrepot.names import check_name
from entrepot.spool import Spool

HOSTILE = [
    "",
    ".",
    "..",
    "../escape",
    "../../etc/passwd",
    "a/b",
    "/etc/passwd",
    "/",
    "//",
    "a/../../b",
    "a\\b",
    "..\\..\\windows",
    "\\\\server\\share",
    "C:\\autoexec.bat",
    "nul\x00byte",
    "\x00",
    "line\nfeed",
    "carriage\rreturn",
    "tab\tname",
    "\x1b[31mred",
    "del\x7f",
    "unit\x1fsep",
    "next\x85line",
    "right\u202eleft",
    "zero\u200bwidth",
    "\ufeffbom",
    "line\u2028sep",
    "para\u2029sep",
    "lone\ud800surrogate",
    ".hidden",
    "..double",
    " leading-space",
    "trailing-space ",
    "trailing-dot.",
    "x" * 256,
    "é" * 128,
]

ACCEPTED = ["report 2026.csv", "été.csv", "a..b", "-dash", "~tilde", "名前.txt", "x" * 255]


def test_at_least_thirty_hostile_names() -> None:
    assert len(HOSTILE) >= 30


@pytest.mark.parametrize("name", HOSTILE, ids=repr)
def test_check_name_refuses(name: str) -> None:
    with pytest.raises(InvalidName) as info:
        check_name(name)
    # The message says why, and is printable (no raw control characters).
    assert str(info.value).isprintable()


@pytest.mark.parametrize("value", [None, 3, b"bytes", Path("a")])
def test_check_name_refuses_non_strings(value: object) -> None:
    with pytest.raises(InvalidName, match="must be a string"):
        check_name(value)


@pytest.mark.parametrize("name", ACCEPTED)
def test_check_name_accepts(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", HOSTILE, ids=repr)
def test_spool_refuses_hostile_names_everywhere(tmp_path: Path, name: str) -> None:
    spool = Spool(tmp_path / "spool").prepare()
    spool.publish_bytes(b"ok", "ok")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(InvalidName):
        spool.publish_bytes(b"x", name)
    with pytest.raises(InvalidName), spool.writer(name):
        pass
    with pytest.raises(InvalidName):
        spool.move(name, "new", "cur")
    with pytest.raises(InvalidName):
        spool.move("ok", "new", name)
    with pytest.raises(InvalidName):
        spool.copy(name, "new", "cur")
    with pytest.raises(InvalidName):
        spool.remove(name, "new")
    with pytest.raises(InvalidName):
        spool.claim(name)
    with pytest.raises(InvalidName):
        spool.list(name)
    after = sorted(str(p) for p in tmp_path.rglob("*"))
    assert after == before
    assert os.listdir(tmp_path) == ["spool"]
