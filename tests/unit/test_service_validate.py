"""``entrepot validate`` and ``entrepot init``: one broken configuration per mistake, each
reported with its message and its line (exit 3); a starter file that validates as written."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

GOOD = """\
[service]
state = "state"
grace = "5s"

[spools.outbox]
path = "outbox"

[targets.partner]
url = "ftp://drop@127.0.0.1:2121/in"
password_env = "PARTNER_PW"
options = {{ timeout = 20 }}

[targets.store]
url = "sftp://drop@127.0.0.1:2222/in"
password_file = "{pw}"

[routes.to-partner]
spool = "outbox"
target = "partner"
on_arrival = true
cron = "0 2 * * *"
retry = {{ max_tries = 3, delay = "30s" }}
"""


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    pw = tmp_path / "store.pw"
    pw.write_text("secret\n")
    pw.chmod(0o600)
    monkeypatch.setenv("PARTNER_PW", "x")
    return tmp_path / "entrepot.toml", GOOD.format(pw=pw)


def _line(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_good_configuration_validates(cli: Any, setup: tuple[Path, str]) -> None:
    path, text = setup
    path.write_text(text)
    code, out, err = cli("validate", path)
    assert code == 0, err
    assert "ok — 2 targets, 1 spools, 1 routes" in out


MISTAKES = [
    # an unknown key, with a "did you mean"
    ("on_arrival = true", "on_arival = true", "on_arival", "unknown key 'on_arival'",
     "did you mean 'on_arrival'?"),
    # a bad URL
    ('url = "ftp://drop@127.0.0.1:2121/in"', 'url = "ftp:/drop@127.0.0.1/in"', "ftp:/drop",
     "looks like a URL without its '//'", None),
    # a scheme nobody serves
    ('url = "ftp://drop@127.0.0.1:2121/in"', 'url = "fpt://drop@127.0.0.1/in"', "fpt://",
     "unknown target scheme 'fpt'", None),
    # a bad duration and a bad cron expression
    ('delay = "30s"', 'delay = "30 secs"', "delay =", "not a duration", None),
    ('cron = "0 2 * * *"', 'cron = "0 26 * * *"', "cron =", "not a cron expression", None),
    # a route naming a target that is not there
    ('target = "partner"', 'target = "partnr"', 'target = "partnr"',
     "no target named 'partnr'", "did you mean 'partner'?"),
    # a password written in the file
    ('url = "ftp://drop@127.0.0.1', 'url = "ftp://drop:hunter2@127.0.0.1', "drop:hunter2",
     "carries a password", None),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "needle", "message", "hint"), MISTAKES)
def test_each_mistake_is_reported_with_its_message_and_line(
    cli: Any,
    setup: tuple[Path, str],
    old: str,
    new: str,
    needle: str,
    message: str,
    hint: str | None,
) -> None:
    path, good = setup
    text = good.replace(old, new)
    assert text != good
    path.write_text(text)
    code, out, err = cli("validate", path, "--json")
    assert code == 3, (out, err)
    report = json.loads(out)
    assert report["ok"] is False
    found = [p for p in report["problems"] if message in p["message"]]
    assert found, report["problems"]
    assert found[0]["line"] == _line(text, needle), found[0]
    if hint:
        assert hint in (found[0]["hint"] or "")
    assert "hunter2" not in out + err
    # The same, as text on stderr: file:line: where: message (hint)
    code, _, err = cli("validate", path)
    assert code == 3 and f"entrepot.toml:{_line(text, needle)}:" in err


def test_the_environment_is_checked_too(
    cli: Any, setup: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, text = setup
    path.write_text(text)
    monkeypatch.delenv("PARTNER_PW")
    pw = Path(text.split('password_file = "')[1].split('"')[0])
    pw.chmod(0o644)
    code, out, _ = cli("validate", path, "--json")
    assert code == 3
    problems = json.loads(out)["problems"]
    missing = [p for p in problems if "PARTNER_PW is not set" in p["message"]]
    assert missing and missing[0]["line"] == _line(text, "password_env")
    readable = [p for p in problems if "password file" in p["message"]]
    assert readable and readable[0]["line"] == _line(text, "password_file"), problems


def test_a_scheme_whose_library_is_missing_names_the_extra_to_install(
    cli: Any, setup: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, text = setup
    path.write_text(text)
    # As if paramiko were not installed.
    monkeypatch.setitem(sys.modules, "paramiko", None)
    monkeypatch.delitem(sys.modules, "entrepot.targets.sftp", raising=False)
    code, out, _ = cli("validate", path, "--json")
    assert code == 3
    problems = json.loads(out)["problems"]
    found = [p for p in problems if "pip install 'entrepot[sftp]'" in p["text"]]
    assert found and found[0]["line"] == _line(text, 'url = "sftp://'), problems


def test_a_missing_file_says_how_to_make_one(cli: Any, tmp_path: Path) -> None:
    code, _, err = cli("validate", tmp_path / "nope.toml")
    assert code == 4 and "entrepot init" in err


def test_init_writes_a_starter_that_validates_and_refuses_to_overwrite(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "etc" / "entrepot.toml"
    monkeypatch.setenv("ENTREPOT_CONFIG", str(path))
    code, _, err = cli("init")
    assert code == 0, err
    assert path.is_file() and (tmp_path / "etc" / "outbox" / "new").is_dir()
    before = path.read_text()
    code, _, err = cli("validate")
    assert code == 0, err
    code, _, err = cli("init", path)
    assert code == 3 and "not overwritten" in err
    assert path.read_text() == before
    assert os.stat(path).st_size > 500  # commented: it explains itself
