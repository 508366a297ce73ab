"""``entrepot put|ls|get|check`` on local folders (the network ones run in integration)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from entrepot.cli.connecting import target_options
from entrepot.cli.exitcodes import ExitCode
from entrepot.cli.targets import split_file_url
from entrepot.errors import ConfigError


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    folder = tmp_path / "remote"
    folder.mkdir()
    return folder


def test_put_ls_get_round_trip(cli: Any, tmp_path: Path, remote: Path) -> None:
    a = tmp_path / "a.csv"
    a.write_text("x,y\n")
    b = tmp_path / "b b.csv"
    b.write_text("1,2\n")
    code, out, _ = cli("put", a, b, remote.as_uri())
    assert code == ExitCode.OK
    assert "a.csv\t4" in out
    assert sorted(p.name for p in remote.iterdir()) == ["a.csv", "b b.csv"]
    code, out, _ = cli("ls", "--json", remote.as_uri())
    assert code == ExitCode.OK
    assert [e["name"] for e in json.loads(out)] == ["a.csv", "b b.csv"]
    code, out, _ = cli("ls", remote)
    assert "b b.csv" in out
    back = tmp_path / "back"
    back.mkdir()
    code, out, _ = cli("get", f"{remote.as_uri()}/b%20b.csv", back)
    assert code == ExitCode.OK
    assert (back / "b b.csv").read_text() == "1,2\n"


def test_put_with_name_and_conflict_fail(cli: Any, tmp_path: Path, remote: Path) -> None:
    a = tmp_path / "a.csv"
    a.write_text("1")
    assert cli("put", "--name", "in/x.csv", a, remote)[0] == ExitCode.OK
    code, _, err = cli("put", "--name", "in/x.csv", "--conflict", "fail", a, remote)
    assert code == ExitCode.REFUSED
    assert "taken" in err or "exists" in err
    assert cli("put", "--conflict", "sideways", a, remote)[0] == ExitCode.USAGE


def test_put_to_a_missing_folder(cli: Any, tmp_path: Path) -> None:
    a = tmp_path / "a.csv"
    a.write_text("1")
    code, _, err = cli("put", a, tmp_path / "absent")
    assert code == ExitCode.NOT_FOUND
    assert "no such folder" in err


def test_check_reports_each_step(cli: Any, remote: Path, tmp_path: Path) -> None:
    code, out, _ = cli("check", remote)
    assert code == ExitCode.OK
    for step in ("connect", "list", "write", "read back", "delete"):
        assert step in out
    assert list(remote.iterdir()) == []
    code, out, _ = cli("check", tmp_path / "absent")
    assert code == ExitCode.NOT_FOUND
    assert "✗ connect" in out


def test_one_password_rule(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Issue 10 item 30: ENTREPOT_PASSWORD is a default, passed by reference, and
    # never overrides a password the command names otherwise.
    monkeypatch.setenv("ENTREPOT_PASSWORD", "from-env")
    url = "ftp://u@h/in"
    assert target_options(url, None) == {"password_env": "ENTREPOT_PASSWORD"}
    assert target_options("ftp://u:inurl@h/in", None) == {}
    assert target_options(url, None, "OTHER") == {"password_env": "OTHER"}
    assert target_options(url, None, None, tmp_path / "pw") == {
        "password_file": str(tmp_path / "pw")
    }
    assert "password_env" not in target_options(url + "?password_file=/p", None)
    assert target_options(url, ["known_hosts=/k"], timeout=5) == {
        "known_hosts": "/k",
        "password_env": "ENTREPOT_PASSWORD",
        "timeout": 5,
    }
    monkeypatch.delenv("ENTREPOT_PASSWORD")
    assert target_options(url, None) == {}
    with pytest.raises(ConfigError):
        target_options(url, ["novalue"])
    with pytest.raises(ConfigError):
        target_options(url, None, "A", tmp_path / "pw")


@pytest.mark.parametrize("command", ["put", "ls", "get", "check"])
def test_secrets_on_the_command_line_are_refused(
    cli: Any, command: str, remote: Path, tmp_path: Path
) -> None:
    # Issue 10 item 11: one rule for every command (ship refuses them too).
    a = tmp_path / "a.csv"
    a.write_text("1")
    target = remote.as_uri() + ("/a.csv" if command == "get" else "")
    args = {"put": [a, target], "get": [target, tmp_path], "ls": [target], "check": [target]}
    code, out, err = cli(command, "-o", "password=Hunter-42", *args[command])
    assert code == ExitCode.CONFIG
    assert "Hunter-42" not in out + err
    assert "by reference" in err


def test_split_file_url() -> None:
    assert split_file_url("sftp://u@h:22/a/b.csv?x=1") == ("sftp://u@h:22/a?x=1", "b.csv")
    assert split_file_url("ftp://h/b.csv") == ("ftp://h", "b.csv")
    assert split_file_url("file:///tmp/x/y.csv") == ("file:///tmp/x", "y.csv")
    assert split_file_url("/tmp/x/y.csv") == ("/tmp/x", "y.csv")
    with pytest.raises(ConfigError):
        split_file_url("sftp://h/")


def test_get_into_a_pipe_or_a_link_to_a_device_writes_into_it(tmp_path: Path, remote: Path) -> None:
    import os
    import subprocess
    import sys

    from entrepot.durable import is_stream

    (remote / "a.csv").write_text("x,y\n")
    # "-" is standard output: here a pipe, which gets the bytes; the line goes to stderr.
    got = subprocess.run(
        [sys.executable, "-m", "entrepot", "get", f"{remote.as_uri()}/a.csv", "-"],
        capture_output=True, cwd=tmp_path, check=True, timeout=60,
    )  # fmt: skip
    assert got.stdout == b"x,y\n" and got.stderr.startswith(b"/dev/stdout\t4")
    assert not (tmp_path / "-").exists()
    both = subprocess.run(
        [sys.executable, "-m", "entrepot", "get", f"{remote.as_uri()}/a.csv", "-", "--json"],
        capture_output=True, cwd=tmp_path, check=False, timeout=60,
    )  # fmt: skip
    assert both.returncode == 2 and b"cannot both go to standard output" in both.stderr
    null = tmp_path / "null"
    null.symlink_to(os.devnull)
    got = subprocess.run(
        [sys.executable, "-m", "entrepot", "get", f"{remote.as_uri()}/a.csv", str(null)],
        capture_output=True, cwd=tmp_path, check=True, timeout=60,
    )  # fmt: skip
    assert null.is_symlink() and os.readlink(null) == os.devnull
    # What is never replaced by a file: a name of /dev or /proc (/dev/stdout is a link to
    # the shell's redirection, a regular file at times), anything but a regular file.
    assert is_stream("/dev/stdout") and is_stream("/proc/self/fd/1") and is_stream(null)
    assert not is_stream(remote / "a.csv") and not is_stream(tmp_path / "nothing")
