"""``entrepot validate`` tells what ``serve`` would refuse on this machine, with its line.

Token files that are missing, empty or open to others; an endpoint other
hosts could reach with no token; a state folder or a spool whose place a
file takes.  ``serve`` refuses them through the same checks
(:mod:`entrepot.service.preflight`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from entrepot.errors import ConfigError
from entrepot.service.instance import InstanceLock

BASE = """\
[service]
state = "state"
{service}

[spools.out]
path = "{spool}"
"""


def _validate(cli: Any, tmp_path: Path, service: str = "", spool: str = "out") -> list[Any]:
    path = tmp_path / "entrepot.toml"
    path.write_text(BASE.format(service=service, spool=spool))
    code, out, err = cli("validate", path, "--json")
    report = json.loads(out)
    assert (code == 0) == report["ok"], err
    problems: list[Any] = report["problems"]
    return problems


def _token(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "token"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_a_good_token_file_passes(cli: Any, tmp_path: Path) -> None:
    token = _token(tmp_path, "a-long-random-token\n")
    service = f'listen = "0.0.0.0:9180"\ntoken_file = "{token}"\nviewer_token_file = "{token}"'
    assert _validate(cli, tmp_path, service) == []


@pytest.mark.parametrize(
    ("text", "mode", "message"),
    [
        ("a-long-random-token\n", 0o644, "open to other users"),
        ("\n", 0o600, "is empty"),
        (None, 0o600, "No such file"),
    ],
)
@pytest.mark.parametrize("key", ["token_file", "viewer_token_file"])
def test_a_token_file_serve_could_not_use_is_reported(
    cli: Any, tmp_path: Path, key: str, text: str | None, mode: int, message: str
) -> None:
    token = _token(tmp_path, text, mode) if text is not None else tmp_path / "token"
    [problem] = _validate(cli, tmp_path, f'listen = "127.0.0.1:9180"\n{key} = "{token}"')
    assert problem["where"] == f"service.{key}" and message in problem["message"]
    assert problem["line"] == 4


def test_an_endpoint_others_reach_without_a_token_is_reported(cli: Any, tmp_path: Path) -> None:
    [problem] = _validate(cli, tmp_path, 'listen = "0.0.0.0:9180"')
    assert problem["where"] == "service.listen" and problem["line"] == 3
    assert "can be reached from other hosts" in problem["message"]
    assert _validate(cli, tmp_path, 'listen = "localhost:9180"') == []


def test_a_file_where_a_folder_must_be_is_reported(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "state").write_text("not a folder\n")
    (tmp_path / "afile").write_text("not a folder\n")
    problems = _validate(cli, tmp_path, spool="afile/out")
    assert [p["where"] for p in problems] == ["service.state", "spools.out.path"]
    assert all("a file is in the way" in p["message"] for p in problems)
    assert [p["line"] for p in problems] == [2, 6]
    # Nothing was made on the way.
    assert (tmp_path / "state").is_file() and (tmp_path / "afile").is_file()


def test_the_lock_refuses_a_state_folder_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("not a folder\n")
    with pytest.raises(ConfigError, match=r"state folder .* a file is in the way"):
        InstanceLock(tmp_path / "state").acquire()
