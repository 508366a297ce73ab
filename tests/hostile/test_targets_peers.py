"""Hostile and unusual peers: what a server says must not hang, crash or mislead us.

Issue 10 items covered here:

* 15 — a peer that drips one byte at a time is cut off by the call's
  deadline (FTP, SFTP, S3; the library, ``entrepot put`` and
  ``entrepot ship`` as subprocesses);
* 12 — remote names holding escape sequences, newlines or rich markup are
  listed escaped, and a ``[/]`` in a name does not crash ``ls``;
* 23 — listed names a server made up (``..``, a ``/``) are dropped, and
  :func:`~entrepot.targets.remote_name_problem` says which names must not be
  fetched;
* 25–28 — servers that are not our test servers (vsftpd, OpenSSH sshd):
  the sweep finds temporary uploads hidden from ``NLST``, listings carry
  times (``MDTM``) and are not globbed, a missing folder is "not found"
  (exit 4) everywhere, refusals are exit 6 whatever their wording, and
  ``MLSD`` is used when ``FEAT`` names ``MLST``;
* 29 — SFTP with neither password nor key is a configuration error (exit 3).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from entrepot.errors import ConfigError, PermissionDenied, RemoteNotFound, TargetTimeout
from entrepot.targets import open_target, remote_name_problem
from entrepot.targets.ftp import FTPTarget
from entrepot.targets.info import RemoteInfo
from entrepot.targets.memory import MemoryTarget
from tests.hostile._targets import entrepot

pytestmark = pytest.mark.server


# -- item 15: dripping peers -------------------------------------------------------------

DRIPS: dict[str, tuple[bytes, str, dict[str, Any]]] = {
    "ftp": (b"220", "ftp://u@127.0.0.1:{port}/in", {"password": "Drip-Secret-9"}),
    "sftp": (b"SSH-2.0-", "sftp://u@127.0.0.1:{port}/in", {"password": "Drip-Secret-9"}),
    "s3": (
        b"HTTP/1.1 200 OK\r\nX-Drip: ",
        "s3://bucket/in?endpoint_url=http://127.0.0.1:{port}&region=us-east-1",
        {"access_key": "AK", "secret_key": "SK"},
    ),
}


@pytest.mark.timeout(90)
@pytest.mark.parametrize("kind", sorted(DRIPS))
def test_a_dripping_peer_is_cut_off(
    kind: str, dripping_peer: Callable[..., int], tmp_path: Path
) -> None:
    opening, url, options = DRIPS[kind]
    port = dripping_peer(opening, every=0.25)  # always inside the 1 s read timeout
    local = tmp_path / "a.csv"
    local.write_bytes(b"1,2\n")
    target = open_target(url.format(port=port), timeout=1, **options)
    started = time.monotonic()
    with pytest.raises(TargetTimeout) as caught:
        target.upload(local, "a.csv")
    assert time.monotonic() - started < 30
    assert "no progress" in str(caught.value)
    assert "Drip-Secret-9" not in str(caught.value)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", sorted(DRIPS))
def test_put_and_ship_against_a_dripping_peer_exit_temporary(
    kind: str, dripping_peer: Callable[..., int], tmp_path: Path
) -> None:
    from entrepot.spool import Spool

    opening, url, _ = DRIPS[kind]
    url = url.format(port=dripping_peer(opening, every=0.25))
    extra = ["-o", "access_key=AK"] if kind == "s3" else []
    env = {"ENTREPOT_PASSWORD": "SK" if kind == "s3" else "pw"}
    local = tmp_path / "a.csv"
    local.write_bytes(b"1,2\n")
    started = time.monotonic()
    done = entrepot("put", local, url, "--timeout", "1", *extra, env=env)
    assert done.returncode == 5, done.stderr
    assert "no progress" in done.stderr
    spool = Spool(tmp_path / "outbox").prepare()
    spool.publish_bytes(b"1,2\n", "b.csv")
    done = entrepot(
        "ship", spool.root, url, "--password-env", "ENTREPOT_PASSWORD", "--no-ledger",
        "--max-tries", "1", "-o", "timeout=1", *extra, env=env,
    )  # fmt: skip
    assert done.returncode == 5, done.stdout + done.stderr
    assert time.monotonic() - started < 90
    assert [entry.name for entry in spool.list("new")] == ["b.csv"]


# -- items 12 and 23: names a server chose -------------------------------------------------

HOSTILE_NAMES = ["in\x1b[31mvoice.csv", "in[reverse]voice.csv", "a[", "new\nline.csv"]


def test_ls_and_put_show_hostile_names_escaped(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    for name in HOSTILE_NAMES:
        (remote / name).write_bytes(b"x")
    done = entrepot("-v", "ls", remote)
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout + done.stderr
    assert "in\\x1b[31mvoice.csv" in done.stdout
    assert "in[reverse]voice.csv" in done.stdout
    assert "new\\nline.csv" in done.stdout
    done = entrepot("ls", remote, "--json")
    assert {entry["name"] for entry in json.loads(done.stdout)} == set(HOSTILE_NAMES)
    # A "[/]" in a name or a path is text, not markup that could crash the command.
    (remote / "a[").unlink()
    (remote / "a[").mkdir()
    (remote / "a[" / "]b.csv").write_bytes(b"x")
    done = entrepot("ls", "--folder", "a[", remote)
    assert done.returncode == 0, done.stderr
    assert "a[/]b.csv" in done.stdout
    done = entrepot("put", remote / "a[" / "]b.csv", tmp_path / "missing[/]folder")
    assert done.returncode == 4, done.stderr
    assert "missing[/]folder" in done.stderr
    assert "Traceback" not in done.stderr


def test_names_a_server_made_up_are_dropped_from_listings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Lying(MemoryTarget):
        def _list(self, folder: str) -> list[RemoteInfo]:
            made_up = ["..", "../../etc/passwd", "a/b", "", "x\x00y"]
            return [RemoteInfo("good.csv", 1), *(RemoteInfo(name, 1) for name in made_up)]

    from entrepot.targets.url import parse_url

    target = Lying(parse_url("memory://lies/drop"))
    assert [entry.name for entry in target.list()] == ["good.csv"]
    assert sum(r.message.startswith("targets.entry_skipped") for r in caplog.records) == 5


@pytest.mark.parametrize(
    ("name", "fetchable"),
    [
        ("data.csv", True),
        ("2024/06/data.csv", True),
        ("in\x1b[31mvoice.csv", False),
        ("new\nline.csv", False),
        ("../escape.csv", False),
        (".hidden", False),
        ("a" * 300, False),
    ],
)
def test_remote_name_problem_says_what_may_be_fetched(name: str, fetchable: bool) -> None:
    problem = remote_name_problem(name)
    assert (problem is None) == fetchable
    if problem is not None:
        assert "\x1b" not in problem and "\n" not in problem


# -- items 25-28: servers that are not our test servers ------------------------------------

SERVERS = ["ftp_server", "vsftpd_server", "sftp_server", "sshd_server"]


def _grouped(names: list[str]) -> list[Any]:
    groups = {"ftp_server": "targets-ftp", "vsftpd_server": "targets-vsftpd"}
    groups |= {"sftp_server": "targets-sftp", "sshd_server": "targets-sshd"}
    return [pytest.param(n, marks=pytest.mark.xdist_group(groups[n])) for n in names]


@pytest.mark.parametrize("fixture", _grouped(SERVERS))
def test_missing_remote_folder_in_ls_exits_4(
    fixture: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    server = request.getfixturevalue(fixture)
    monkeypatch.setenv("ENTREPOT_PASSWORD", server.password)
    extra = ["-o", f"known_hosts={server.known_hosts}"] if server.url.startswith("sftp:") else []
    code, out, err = cli("ls", *extra, "--folder", "no-such-folder", server.url)
    assert code == 4, out + err
    code, _, err = cli("ls", *extra, server.url + "/no-such-folder")
    assert code == 4, err
    code, out, _ = cli("ls", *extra, server.url)
    assert code == 0


@pytest.mark.xdist_group("targets-vsftpd")
def test_vsftpd_refusals_are_refusals_whatever_their_wording(vsftpd_server: Any) -> None:
    # vsftpd answers "550 Create directory operation failed" and "553 Could not create file".
    reader = vsftpd_server.url.replace(f"{vsftpd_server.user}@", f"{vsftpd_server.readonly_user}@")
    with open_target(reader, password=vsftpd_server.readonly_password, timeout=30) as target:
        assert target.list() == []
        with pytest.raises(PermissionDenied):
            target.makedirs("sub")
        with pytest.raises(PermissionDenied):
            target.upload_bytes(b"x", "a.csv")
    with vsftpd_server.open() as target:
        target.upload_bytes(b"x", "a.csv")
    with open_target(reader, password=vsftpd_server.readonly_password, timeout=30) as target:
        with pytest.raises(PermissionDenied):
            target.delete("a.csv")
        with pytest.raises(RemoteNotFound):
            target.delete("missing.csv")
        with pytest.raises(PermissionDenied):
            target.rename("a.csv", "b.csv")
    assert sorted(p.name for p in vsftpd_server.root.iterdir()) == ["a.csv"]


@pytest.mark.xdist_group("targets-vsftpd")
def test_vsftpd_listing_finds_hidden_partials_and_gives_times(vsftpd_server: Any) -> None:
    stale = vsftpd_server.root / ".died.csv.0badf00d.partial"
    stale.write_bytes(b"half")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    with vsftpd_server.open() as target:
        target.upload_bytes(b"kept", "keep.csv")
        (entry,) = target.list()
        assert entry.name == "keep.csv"
        assert entry.mtime is not None and abs(entry.mtime - time.time()) < 600
        assert target.remove_partials(older_than=3600) == [stale.name]
    assert sorted(p.name for p in vsftpd_server.root.iterdir()) == ["keep.csv"]


def test_listing_a_folder_whose_name_is_a_pattern(tmp_path: Path) -> None:
    # Item 27: ProFTPD expands an NLST argument as a glob: "data[1]" listed as
    # one bogus sub-folder "data[1]/data[1]".  Listings never pass a path now.
    from tests.servers.ftp import PASSWORD, USER, FTPServer

    (tmp_path / "root" / "drop" / "data[1]").mkdir(parents=True)
    (tmp_path / "root" / "drop" / "data[1]" / "in.csv").write_bytes(b"123")
    server = FTPServer(tmp_path / "root", mlsd=False, glob_nlst=True)
    server.start()
    try:
        url = f"ftp://{USER}@127.0.0.1:{server.port}/drop"
        with open_target(url, password=PASSWORD, timeout=30) as target:
            assert [(e.name, e.is_dir) for e in target.list()] == [("data[1]", True)]
            listed = [(e.name, e.size, e.is_dir) for e in target.list("data[1]")]
            assert listed == [("data[1]/in.csv", 3, False)]
    finally:
        server.stop()


@pytest.mark.xdist_group("targets-vsftpd")
def test_an_entry_that_cannot_be_read_is_not_called_a_folder(vsftpd_server: Any) -> None:
    # Item 27: a fifo answers "550 Could not get file size"; it is no folder.
    os.mkfifo(vsftpd_server.root / "pipe")
    (vsftpd_server.root / "real").mkdir()
    with vsftpd_server.open() as target:
        target.upload_bytes(b"1", "a.csv")
        assert [(e.name, e.is_dir) for e in target.list()] == [("a.csv", False), ("real", True)]


@pytest.mark.xdist_group("targets-ftp")
def test_mlsd_is_used_when_feat_names_only_mlst(ftp_server: Any) -> None:
    with ftp_server.open() as target:
        for n in range(10):
            target.upload_bytes(b"x", f"f{n}.csv")
        assert isinstance(target, FTPTarget)
        assert "mlsd" not in target._features and "mlst" in target._features
        commands: list[str] = []
        session = target.ftp
        send = session.sendcmd

        def counting(cmd: str) -> str:
            commands.append(cmd.split()[0])
            return send(cmd)

        session.sendcmd = counting  # type: ignore[method-assign]
        assert len(target.list()) == 10
    assert "MLSD" in commands
    assert "SIZE" not in commands and "MLST" not in commands


# -- item 29 ----------------------------------------------------------------------------------


@pytest.mark.xdist_group("targets-sftp")
def test_sftp_without_password_or_key_is_a_configuration_error(sftp_server: Any) -> None:
    with pytest.raises(ConfigError, match=r"password .* or a private key"):
        open_target(sftp_server.url, known_hosts=sftp_server.known_hosts)
    env = {k: v for k, v in os.environ.items() if k != "ENTREPOT_PASSWORD"}
    # A listening socket of its own: any connection attempt would be waiting in it
    # (the shared server's counter also sees other tests' late connections).
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        url = f"sftp://{sftp_server.user}@127.0.0.1:{listener.getsockname()[1]}/x"
        done = subprocess.run(
            [sys.executable, "-m", "entrepot", "ls", url],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert done.returncode == 3, done.stderr
        assert "Traceback" not in done.stderr
        with pytest.raises(BlockingIOError):  # refused before dialling
            listener.accept()
