"""Numbers on the command line that no clock, socket or query can hold are refused as
usage errors (or as a bad setting, from a URL), never a traceback or a silent surprise:
a NaN timeout, a negative or enormous listing limit, an archive rolled after no record."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrepot.cli import main

UNREACHABLE = "ftp://ops@127.0.0.1:9/in"


@pytest.mark.parametrize(
    ("argv", "code", "said"),
    [
        (["jobs", "ls", "-n", "-5"], 2, "greater than or equal to 1"),
        (["jobs", "ls", "-n", "99999999999999999999999"], 2, "less than or equal to"),
        (["dc", "log", "--root", "{tmp}", "--limit", "-3"], 2, "greater than or equal to 1"),
        (["archive", "write", "{tmp}/a", "--max-records", "0"], 2, "greater than or equal to 1"),
        (["ls", UNREACHABLE, "--timeout", "nan"], 2, "not a duration: 'nan'"),
        (["ls", UNREACHABLE, "--timeout", "99999999999d"], 2, "longer than 100 years"),
        (["ls", UNREACHABLE, "--timeout", "2d"], 3, "at most a day (86400 s), got 172800"),
        (["ls", UNREACHABLE + "?timeout=nan"], 3, "at most a day (86400 s), got nan"),
        (["ls", UNREACHABLE + "?timeout=1e30"], 3, "got 1e+30"),
        (["reload", "--wait", "nan"], 2, "not a duration: 'nan'"),
        (["trace", "x", "--since", "99999999999d", "--state", "{tmp}"], 3, "longer than 100"),
        (["put", "{tmp}/f", "file://{tmp}", "-j", "0"], 2, "greater than or equal to 1"),
        (["put", "{tmp}/f", "file://{tmp}", "-j", "65"], 2, "less than or equal to 64"),
        (["ship", "{tmp}", "file://{tmp}", "-j", "0"], 2, "greater than or equal to 1"),
    ],
)
def test_a_number_nothing_can_hold_is_refused_with_its_code(
    argv: list[str], code: int, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([arg.replace("{tmp}", str(tmp_path)) for arg in argv]) == code
    out, err = capsys.readouterr()
    assert said in " ".join((out + err).split()), out + err
    assert "Traceback" not in out + err
    assert not (tmp_path / "a").exists()  # no archive begun


def test_the_same_options_take_what_they_can_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import json

    drop, state = tmp_path / "drop", str(tmp_path / "state")
    drop.mkdir()
    (tmp_path / "one.csv").write_text("a\n")
    assert main(["ls", drop.as_uri(), "--timeout", "2m"]) == 0
    for _ in range(2):
        assert (
            main(["spool", "put", "--create", str(tmp_path / "out"), str(tmp_path / "one.csv")])
            == 0
        )
        assert main(["ship", str(tmp_path / "out"), drop.as_uri(), "--state", state]) == 0
    capsys.readouterr()
    assert main(["jobs", "ls", "-n", "1", "--state", state, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO('{"a": 1}\n{"a": 2}\n'))
    assert main(["archive", "write", str(tmp_path / "a"), "--max-records", "1"]) == 0
    assert len(list((tmp_path / "a").iterdir())) == 2


def test_what_is_not_a_file_where_one_is_named_is_told_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "plain").write_text("x")
    drop = (tmp_path / "drop").as_uri()
    for argv, code, said in (
        (["put", str(tmp_path / "pipe"), drop], 2, "pipe' is not a regular file"),
        (["put", str(tmp_path), drop], 2, "is a folder: only files are uploaded"),
        (["archive", "write", str(tmp_path / "plain")], 3, "a file is in the way"),
        (["get", (tmp_path / "plain").as_uri(), str(tmp_path / "no" / "x")], 4,
         f"no folder to download into: '{tmp_path / 'no'}'"),
    ):  # fmt: skip
        assert main(argv) == code, argv
        out, err = capsys.readouterr()
        assert said in " ".join((out + err).split()), out + err
        assert ".partial" not in err and "Traceback" not in err
    assert (tmp_path / "plain").read_text() == "x"
