"""The old CDS export scenarios, against a real FTP server, through the facade.

Each scenario checks the log lines — words and order — and what ends up on the
server and in the filestore.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from entrepot.compat import cds
from entrepot.compat.filestore import FileStore
from tests.servers._common import free_port
from tests.servers.ftp import FTPFolder

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("ftp")]


class LogTrap:
    """Collects what reaches the root logger, like the old scenario's StringIO."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        # Only the facade's own lines: the test server's threads log to the root
        # logger too (a traceback when it is stopped), at moments of their choosing.
        self.handler.addFilter(logging.Filter("entrepot"))

    def lines(self) -> list[str]:
        """The log lines since the last call; a traceback (always the last thing a run
        logs) is folded to 'Traceback' and its final line, the error raised."""
        text = self.stream.getvalue()
        self.stream.seek(0)
        self.stream.truncate()
        head, marker, tail = text.partition("Traceback (most recent call last):")
        lines = head.splitlines()
        if marker:
            final = [line for line in tail.splitlines() if line and not line.startswith(" ")]
            lines += ["Traceback", final[-1]]
        return lines


@contextmanager
def trapping() -> Iterator[LogTrap]:
    """What reaches the root logger at INFO and above, while inside."""
    trap = LogTrap()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(trap.handler)
    root.setLevel(logging.INFO)
    try:
        yield trap
    finally:
        root.removeHandler(trap.handler)
        root.setLevel(old_level)


def fresh_store(folder: Path) -> FileStore:
    """A prepared file store in ``folder``."""
    filestore = FileStore(folder)
    filestore.prepare()
    return filestore


@pytest.fixture(name="logs")
def logs_fixture() -> Iterator[LogTrap]:
    with trapping() as trap:
        yield trap


@pytest.fixture(name="store")
def store_fixture(tmp_path: Path) -> FileStore:
    return fresh_store(tmp_path / "store")


def put(store: FileStore, name: str, text: str) -> None:
    with store.create(name) as f:
        f.write(text)
    store.move(name, "tmp", "new")


def export(store: FileStore, ftp: FTPFolder, **changes: object) -> None:
    args: dict[str, object] = {
        "hostname": ftp.host,
        "port": ftp.port,
        "user": ftp.user,
        "password": ftp.password,
        "ftp_dir": "/" + ftp.folder,
    }
    args.update(changes)
    cds.export(store.path, **args)  # type: ignore[arg-type]


def connecting(ftp: FTPFolder, port: int | None = None) -> str:
    return (
        f"Connecting to CDS FTP server (host {ftp.host}, port {port or ftp.port}, user {ftp.user})"
    )


def test_export_scenarios_in_order(store: FileStore, ftp_server: FTPFolder, logs: LogTrap) -> None:
    ftp = ftp_server
    accessed = f"Accessed filestore {store.path}"

    # Main scenario: two files exported under a write lock, moved to cur/.
    put(store, "a-file", "This is the A file")
    put(store, "b-file", "This is the B file")
    export(store, ftp)
    assert logs.lines() == [
        accessed,
        connecting(ftp),
        "Creating lock file: write",
        "Lock file successfully created: write",
        "Uploading: a-file",
        "Moved from 'new' to 'cur': a-file",
        "Uploading: b-file",
        "Moved from 'new' to 'cur': b-file",
        "Removing lock file: write",
        "Lock file successfully removed: write",
        "Disconnected from CDS FTP server",
        "Exiting with success.",
    ]
    assert sorted(os.listdir(ftp.root)) == ["a-file", "b-file"]
    assert (ftp.root / "a-file").read_text() == "This is the A file"
    assert (ftp.root / "b-file").read_text() == "This is the B file"
    assert os.listdir(Path(store.path) / "new") == []
    assert sorted(os.listdir(Path(store.path) / "cur")) == ["a-file", "b-file"]

    # Nothing to export: no connection at all.
    export(store, ftp)
    assert logs.lines() == [accessed, "No new files to export.", "Exiting with success."]

    # A write lock on the server: the export does not happen.
    (ftp.root / "write").write_text("Lock file")
    put(store, "new-file", "some new file")
    export(store, ftp)
    assert logs.lines() == [
        accessed,
        connecting(ftp),
        "Cannot access CDS FTP server as 'write' lockfile exists.",
        "Exiting.",
    ]
    assert (ftp.root / "write").read_text() == "Lock file"  # someone else's lock stays
    assert store.list("new") == [os.path.join(store.path, "new", "new-file")]
    os.remove(ftp.root / "write")

    # Wrong port: nobody listens there.
    wrong_port = free_port()
    export(store, ftp, port=wrong_port)
    lines = logs.lines()
    assert lines[:4] == [
        accessed,
        connecting(ftp, wrong_port),
        "Could not connect to CDS FTP server.",
        "Exiting with exception:",
    ]
    assert lines[4] == "Traceback"
    assert lines[5].startswith("entrepot.errors.ConnectionFailed")
    assert len(lines) == 6

    # Wrong password: refused, and the password is not in the log.
    export(store, ftp, password="secret")
    lines = logs.lines()
    assert lines[:4] == [
        accessed,
        connecting(ftp),
        "Could not connect to CDS FTP server.",
        "Exiting with exception:",
    ]
    assert lines[5].startswith("entrepot.errors.AuthenticationFailed")
    assert "530" in lines[5]
    assert "secret" not in "\n".join(lines)

    # A folder that does not exist on the server.
    export(store, ftp, ftp_dir="/nonexistent")
    lines = logs.lines()
    assert lines[:4] == [
        accessed,
        connecting(ftp),
        "Error accessing FTP server.",
        "Exiting with exception:",
    ]
    assert lines[5].startswith("entrepot.errors.RemoteNotFound")

    # The server is down.
    ftp.stop()
    put(store, "another-file", "something")
    export(store, ftp)
    lines = logs.lines()
    assert lines[:4] == [
        accessed,
        connecting(ftp),
        "Could not connect to CDS FTP server.",
        "Exiting with exception:",
    ]
    assert lines[5].startswith("entrepot.errors.ConnectionFailed")

    # Nothing was lost along the way: both waiting files export once it is back.
    ftp.start()
    export(store, ftp)
    assert logs.lines()[-1] == "Exiting with success."
    assert sorted(os.listdir(ftp.root)) == ["a-file", "another-file", "b-file", "new-file"]
    assert ftp.password not in (ftp.root / "a-file").read_text()


def test_export_writes_the_optional_logfile(
    store: FileStore, ftp_server: FTPFolder, tmp_path: Path, logs: LogTrap
) -> None:
    put(store, "x", "x")
    logfile = tmp_path / "cds.log"
    export(store, ftp_server, logfile=str(logfile))
    text = logfile.read_text()
    assert "Uploading: x" in text and "Exiting with success." in text
    assert ftp_server.password not in text


def test_lock_is_removed_even_when_an_upload_fails(
    store: FileStore, ftp_server: FTPFolder, logs: LogTrap
) -> None:
    put(store, "a-file", "A")
    put(store, "b-file", "B")
    # A folder named like the second file makes its upload fail on the server.
    (ftp_server.root / "b-file").mkdir()
    export(store, ftp_server)
    lines = logs.lines()
    assert lines[2:6] == [
        "Creating lock file: write",
        "Lock file successfully created: write",
        "Uploading: a-file",
        "Moved from 'new' to 'cur': a-file",
    ]
    assert "Uploading: b-file" in lines
    assert "Exiting with success." not in lines
    # The old system left its 'write' lock behind here; the facade never does.
    assert "Lock file successfully removed: write" in lines
    assert sorted(os.listdir(ftp_server.root)) == ["a-file", "b-file"]
    assert (ftp_server.root / "b-file").is_dir()
    # The file that did not go stays waiting; the next run sends it.
    assert store.list("new") == [os.path.join(store.path, "new", "b-file")]
    (ftp_server.root / "b-file").rmdir()
    export(store, ftp_server)
    assert logs.lines()[-1] == "Exiting with success."
    assert (ftp_server.root / "b-file").read_text() == "B"


def test_import_fetches_under_a_read_lock(
    store: FileStore, ftp_server: FTPFolder, logs: LogTrap
) -> None:
    (ftp_server.root / "in-1.xml").write_text("<one/>")
    (ftp_server.root / "in-2.xml").write_text("<two/>")
    cds.import_(
        store.path,
        ftp_server.host,
        ftp_server.port,
        ftp_server.user,
        ftp_server.password,
        "/" + ftp_server.folder,
    )
    lines = logs.lines()
    assert lines[0] == f"Accessed filestore {store.path}"
    assert "Creating lock file: read" in lines
    assert "Lock file successfully removed: read" in lines
    assert lines[-1] == "Exiting with success."
    assert sorted(os.path.basename(p) for p in store.list("new")) == ["in-1.xml", "in-2.xml"]
    assert os.listdir(ftp_server.root) == []
