"""A remote file whose name is not UTF-8 is listed escaped, skipped by fetch, and the rest
comes in.

paramiko decodes an SFTP folder's names as strict UTF-8: one such name
failed the whole listing (a connection failure, exit 5), so ``fetch``
took none of the good files beside it, run after run.  Over FTP the
listing replaced its bytes with U+FFFD, a name no file has, which
``fetch`` then asked the server for, and a "not found" failed the job
into the backlog.  Now the listings keep the name's bytes, escaped:
``ls`` lists it (shown as ``\\xNN``), ``fetch`` skips it with the reason
(exit 7) and leaves it where it is, and fetches the others — on our
asyncssh server, OpenSSH's sshd and vsftpd.  pyftpdlib itself sends such a
name with ``?`` for each byte: ``fetch`` finds no file of that name when
it asks for it, checks that it is gone indeed, and skips it as gone.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from entrepot.targets import open_target
from tests.hostile._shipping import entrepot

pytestmark = pytest.mark.server

BAD_NAME = b"bad\xff\xfe.csv"
#: How Python reads it (a byte that is not UTF-8 as a lone surrogate).
BAD_TEXT = os.fsdecode(BAD_NAME)
#: pyftpdlib sends it with "?" for each such byte: a name no file has, which ``fetch``
#: finds gone when it asks for it (and skips as such).
SPELLED = {"ftp_server": "bad??.csv"}
GROUPS = {
    "ftp_server": "targets-ftp", "vsftpd_server": "targets-vsftpd",
    "sftp_server": "targets-sftp", "sshd_server": "targets-sshd",
}  # fmt: skip


@pytest.fixture(
    params=[pytest.param(name, marks=pytest.mark.xdist_group(group)) for name, group in
            GROUPS.items()]
)  # fmt: skip
def server(request: pytest.FixtureRequest) -> Any:
    server = request.getfixturevalue(request.param)
    server.spelled = SPELLED.get(request.param, BAD_TEXT)
    (server.root / "ok.csv").write_bytes(b"ok\n")
    with open(os.path.join(bytes(server.root), BAD_NAME), "wb") as bad:
        bad.write(b"x\n")
    return server


def _options(server: Any) -> list[str]:
    known = ["-o", f"known_hosts={server.known_hosts}"] if server.url.startswith("sftp") else []
    return ["--password-env", "PW", *known]


@pytest.mark.timeout(60)
def test_the_name_is_listed_with_its_bytes_escaped(server: Any) -> None:
    with server.open() as target:
        names = sorted(info.name for info in target.list())
    assert names == sorted(["ok.csv", server.spelled])
    listed = entrepot("ls", server.url, *_options(server), env={"PW": server.password})
    assert listed.returncode == 0, listed.stderr
    shown = "bad\\xff\\xfe.csv" if server.spelled == BAD_TEXT else server.spelled
    assert "ok.csv" in listed.stdout and shown in listed.stdout


@pytest.mark.timeout(90)
def test_fetch_skips_it_and_takes_the_others(server: Any, tmp_path: Any) -> None:
    spool = tmp_path / "inbox"
    entrepot("spool", "init", spool)
    fetched = entrepot(
        "fetch", server.url, spool, *_options(server), "--json", env={"PW": server.password}
    )
    assert fetched.returncode == 7, fetched.stderr
    result = json.loads(fetched.stdout)
    assert list(result["skipped"]) == [server.spelled]
    why = "not UTF-8" if server.spelled == BAD_TEXT else "listed, then not found"
    assert why in result["skipped"][server.spelled]
    assert [p.name for p in (spool / "new").iterdir()] == ["ok.csv"]
    assert os.listdir(bytes(server.root)) == [BAD_NAME]  # left where it was
    assert "UnicodeDecodeError" not in fetched.stderr


def test_an_ftp_link_whose_name_is_not_utf8_is_skipped_not_asked_about(
    vsftpd_server: Any,
) -> None:
    """vsftpd lists links as links; what one points at cannot be asked by its name."""
    os.symlink(b"elsewhere", os.path.join(bytes(vsftpd_server.root), b"link\xff"))
    (vsftpd_server.root / "ok.csv").write_bytes(b"ok\n")
    with open_target(vsftpd_server.url, password=vsftpd_server.password, timeout=30) as target:
        assert [info.name for info in target.list()] == ["ok.csv"]


@pytest.mark.timeout(120)
def test_a_long_sftp_listing_is_bounded_page_by_page(sftp_server: Any, tmp_path: Any) -> None:
    """A folder of many files, listed through a slow link: the whole listing takes longer
    than ``--timeout``, each page of names far less.  It was cut off by one deadline for
    the whole listing (so such a folder could never be fetched); the deadline now bounds
    each page, as it does for S3."""
    from tests.servers.throttle import Throttle

    for number in range(2500):
        (sftp_server.root / f"{number:05d}-{'x' * 80}.csv").write_bytes(b"")
    proxy = Throttle(sftp_server.port, 60_000)
    known = tmp_path / "known_hosts"
    public = sftp_server.server.host_key.export_public_key().decode().strip()
    known.write_text(f"[127.0.0.1]:{proxy.port} {public}\n")
    url = f"sftp://{sftp_server.user}@127.0.0.1:{proxy.port}/{sftp_server.folder}"
    try:
        started = time.monotonic()
        listed = entrepot(
            "ls", url, "--password-env", "PW", "-o", f"known_hosts={known}", "--timeout", "2",
            "--json", env={"PW": sftp_server.password},
        )  # fmt: skip
        took = time.monotonic() - started
    finally:
        proxy.close()
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 2500
    assert took > 3  # longer than one deadline: the pages renewed it
