"""The target commands against real servers, password from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from entrepot.cli.exitcodes import ExitCode

pytestmark = [pytest.mark.server]


@pytest.mark.xdist_group("targets-sftp")
def test_sftp_put_ls_get_check(
    cli: Any, sftp_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENTREPOT_PASSWORD", sftp_server.password)
    known = ["-o", f"known_hosts={sftp_server.known_hosts}"]
    files = []
    for n in range(25):
        path = tmp_path / f"f{n:02}.csv"
        path.write_text(f"{n}\n")
        files.append(path)
    code, out, err = cli("put", *known, "-j", "3", *files, sftp_server.url)
    assert code == ExitCode.OK, err
    assert sorted(p.name for p in sftp_server.root.iterdir()) == [f.name for f in files]
    code, out, _ = cli("ls", *known, sftp_server.url)
    assert "f24.csv" in out
    code, _, _ = cli("get", *known, f"{sftp_server.url}/f07.csv", tmp_path / "got.csv")
    assert code == ExitCode.OK
    assert (tmp_path / "got.csv").read_text() == "7\n"
    code, out, _ = cli("check", *known, sftp_server.url)
    assert code == ExitCode.OK
    assert sftp_server.password not in out


@pytest.mark.xdist_group("targets-ftp")
def test_ftp_check_with_a_wrong_password(
    cli: Any, ftp_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENTREPOT_PASSWORD", "Wrong-Pässword-7")
    code, out, err = cli("check", ftp_server.url)
    assert code == ExitCode.REFUSED
    assert "✗ connect" in out
    assert "Wrong-Pässword-7" not in out + err


@pytest.mark.xdist_group("targets-ftp")
def test_ftp_put_while_the_server_is_down(cli: Any, ftp_server: Any, tmp_path: Path) -> None:
    local = tmp_path / "a.csv"
    local.write_text("1\n")
    ftp_server.stop()
    code, _, _err = cli("put", "--password-env", "NOT_NEEDED_HERE", local, ftp_server.url)
    assert code in (ExitCode.TEMPORARY, ExitCode.CONFIG)
    assert local.read_text() == "1\n"
