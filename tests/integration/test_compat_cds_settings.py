"""The CDS facade's settings: odd folder names, IPv6 hosts, bad values, a missing filestore.

``export`` and ``import_`` never raise: settings that cannot work are told
in the log like a failed session.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from entrepot.compat import cds
from entrepot.compat.filestore import FileStore
from tests.integration.test_compat_cds import (
    LogTrap,
    connecting,
    export,
    logs_fixture,  # noqa: F401 - the fixture `logs`
    put,
    store_fixture,  # noqa: F401 - the fixture `store`
)
from tests.servers.ftp import PASSWORD, USER, FTPFolder, FTPServer

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("ftp")]


def test_a_question_mark_in_the_folder_is_part_of_its_name(
    store: FileStore, ftp_server: FTPFolder, logs: LogTrap
) -> None:
    (ftp_server.root / "q?x").mkdir()
    (ftp_server.root / "50%").mkdir()
    put(store, "a-file", "A")
    export(store, ftp_server, ftp_dir=f"/{ftp_server.folder}/q?x")
    assert logs.lines()[-1] == "Exiting with success."
    assert (ftp_server.root / "q?x" / "a-file").read_text() == "A"
    put(store, "b-file", "B")
    export(store, ftp_server, ftp_dir=f"/{ftp_server.folder}/50%")
    assert logs.lines()[-1] == "Exiting with success."
    assert (ftp_server.root / "50%" / "b-file").read_text() == "B"


class IPv6FTPServer(FTPServer):
    """The shared test server's handler, listening on ``::1``."""

    def start(self) -> None:
        from pyftpdlib.ioloop import IOLoop
        from pyftpdlib.servers import ThreadedFTPServer

        server = ThreadedFTPServer(("::1", 0), self._handler_class(), ioloop=IOLoop())
        server._exit = threading.Event()
        server._lock = threading.Lock()
        self.port = server.socket.getsockname()[1]
        self._server = server
        # Listening already: a client that comes before the loop runs waits in the backlog.
        self._thread = threading.Thread(target=self._serve, args=(server,), daemon=True)
        self._thread.start()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.fixture
def ipv6_server(tmp_path: Path) -> Iterator[IPv6FTPServer]:
    if not _ipv6_loopback():
        pytest.skip("no IPv6 loopback on this host")
    root = tmp_path / "remote"
    root.mkdir()
    server = IPv6FTPServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("hostname", ["::1", "[::1]"])
def test_an_ipv6_address_is_a_host(
    store: FileStore, ipv6_server: IPv6FTPServer, logs: LogTrap, hostname: str
) -> None:
    put(store, "a-file", "A")
    cds.export(store.path, hostname, ipv6_server.port, USER, PASSWORD, "/")
    lines = logs.lines()
    assert (
        lines[1]
        == f"Connecting to CDS FTP server (host {hostname}, port {ipv6_server.port}, user {USER})"
    )
    assert lines[-1] == "Exiting with success."
    assert (ipv6_server.root / "a-file").read_text() == "A"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"port": "abc"}, "Could not connect to CDS FTP server."),
        ({"port": None}, "Could not connect to CDS FTP server."),
        ({"port": 0}, "Could not connect to CDS FTP server."),
        ({"port": 70000}, "Could not connect to CDS FTP server."),
        ({"hostname": ""}, "Could not connect to CDS FTP server."),
        ({"ftp_dir": "/a/../b"}, "Error accessing FTP server."),
        ({"ftp_dir": "/a\x00b"}, "Error accessing FTP server."),
    ],
    ids=["port-abc", "port-none", "port-0", "port-70000", "no-host", "dotdot-folder", "nul-folder"],
)
def test_settings_that_cannot_work_are_logged_not_raised(
    store: FileStore, ftp_server: FTPFolder, logs: LogTrap, changes: dict[str, Any], reason: str
) -> None:
    put(store, "a-file", "A")
    export(store, ftp_server, **changes)
    host = changes.get("hostname", ftp_server.host)
    port = changes.get("port", ftp_server.port)
    assert logs.lines()[:5] == [
        f"Accessed filestore {store.path}",
        f"Connecting to CDS FTP server (host {host}, port {port}, user {ftp_server.user})",
        reason,
        "Exiting with exception:",
        "Traceback",
    ]
    assert store.list("new") == [os.path.join(store.path, "new", "a-file")]
    assert os.listdir(ftp_server.root) == []


def test_import_with_settings_that_cannot_work_is_logged_not_raised(
    store: FileStore, ftp_server: FTPFolder, logs: LogTrap
) -> None:
    cds.import_(store.path, ftp_server.host, "abc", ftp_server.user, ftp_server.password, "/")  # type: ignore[arg-type]
    lines = logs.lines()
    assert lines[2:4] == ["Could not connect to CDS FTP server.", "Exiting with exception:"]


def test_a_missing_filestore_is_created(
    tmp_path: Path, ftp_server: FTPFolder, logs: LogTrap
) -> None:
    missing = FileStore(tmp_path / "not-yet" / "store")
    export(missing, ftp_server)
    assert sorted(os.listdir(missing.path)) == ["cur", "new", "tmp"]
    assert logs.lines() == [
        f"Accessed filestore {missing.path}",
        "No new files to export.",
        "Exiting with success.",
    ]
    put(missing, "a-file", "A")
    export(missing, ftp_server)
    assert connecting(ftp_server) in logs.lines()
    assert (ftp_server.root / "a-file").read_text() == "A"


def test_a_filestore_that_cannot_be_made_is_logged_not_raised(
    tmp_path: Path, ftp_server: FTPFolder, logs: LogTrap
) -> None:
    (tmp_path / "a-file").write_text("in the way")
    export(FileStore(tmp_path / "a-file"), ftp_server)
    lines = logs.lines()
    assert lines[:2] == [
        f"Could not access filestore {tmp_path / 'a-file'}",
        "Exiting with exception:",
    ]
