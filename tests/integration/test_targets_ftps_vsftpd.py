"""FTPS against vsftpd as Debian ships it, which requires TLS session reuse.

vsftpd (and ProFTPD, FileZilla Server) accept a data connection only when
it resumes the control connection's TLS session (``require_ssl_reuse``, on
by default).  The FTPS client started a fresh session on every data
connection, so every transfer and listing was refused with ``522 SSL
connection failed: session reuse required`` (exit 6): an FTPS delivery to
vsftpd never worked.  Now each data connection resumes the control
connection's session, over TLS 1.3 and TLS 1.2: ``put``, ``get``, ``ls``,
``ship`` and ``fetch`` work against the real vsftpd, several data
connections on one session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from entrepot.cli import ExitCode
from entrepot.spool import Spool

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("targets-vsftpd-tls")]


@pytest.fixture
def login(vsftpd_ftps_server: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The command-line options that log in to the server and trust its certificate."""
    monkeypatch.setenv("VSFTPD_PW", vsftpd_ftps_server.password)
    return ["--password-env", "VSFTPD_PW", "-o", f"ca_file={vsftpd_ftps_server.ca_file}"]


def test_the_library_moves_files_over_many_data_connections_of_one_session(
    vsftpd_ftps_server: Any,
) -> None:
    with vsftpd_ftps_server.open() as target:
        expected = "TLSv1.2" if vsftpd_ftps_server.server.tls_version == "tls1.2" else "TLSv1.3"
        assert target.ftp.sock.version() == expected
        for number in range(3):
            target.upload_bytes(b"row %d\n" % number, f"f{number}.csv")
        assert sorted((e.name, e.size) for e in target.list()) == [
            ("f0.csv", 6), ("f1.csv", 6), ("f2.csv", 6),
        ]  # fmt: skip
        assert target.read_bytes("f1.csv") == b"row 1\n"
        target.delete("f0.csv")
        assert [e.name for e in target.list()] == ["f1.csv", "f2.csv"]
    assert (vsftpd_ftps_server.root / "f2.csv").read_bytes() == b"row 2\n"


def test_put_ls_and_get_on_the_command_line(
    cli: Any, vsftpd_ftps_server: Any, login: list[str], tmp_path: Path
) -> None:
    local = tmp_path / "report.csv"
    local.write_bytes(b"day,count\n2024-06-01,42\n")
    url = vsftpd_ftps_server.url
    code, _, err = cli("put", local, url, *login)
    assert code == ExitCode.OK, err
    code, out, err = cli("ls", url, *login)
    assert code == ExitCode.OK, err
    assert "report.csv" in out
    code, _, err = cli("get", f"{url}/report.csv", tmp_path / "back.csv", *login)
    assert code == ExitCode.OK, err
    assert (tmp_path / "back.csv").read_bytes() == local.read_bytes()


def test_ship_and_fetch(
    cli: Any, vsftpd_ftps_server: Any, login: list[str], tmp_path: Path
) -> None:
    outbox = Spool(tmp_path / "outbox").prepare()
    for number in range(3):
        outbox.publish_bytes(b"row %d\n" % number, f"f{number}.csv")
    state = ["--state", tmp_path / "state", "--max-tries", "1"]
    code, out, err = cli("ship", outbox.root, vsftpd_ftps_server.url, *login, *state)
    assert code == ExitCode.OK, err
    assert "Shipped: 3 files" in out
    remote = vsftpd_ftps_server.root
    assert sorted(p.name for p in remote.iterdir()) == ["f0.csv", "f1.csv", "f2.csv"]

    inbox = Spool(tmp_path / "inbox").prepare()
    code, out, err = cli("fetch", vsftpd_ftps_server.url, inbox.root, *login, *state)
    assert code == ExitCode.OK, err
    assert sorted(p.name for p in (inbox.root / "new").iterdir()) == [
        "f0.csv", "f1.csv", "f2.csv",
    ]  # fmt: skip
    assert (inbox.root / "new" / "f1.csv").read_bytes() == b"row 1\n"
