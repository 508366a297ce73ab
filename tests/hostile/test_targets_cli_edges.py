"""Target commands at their edges: special files in a local folder, standard output
redirected to a file, a timeout of zero, a password that is wrong.

* A FIFO (or any file that is not a regular one) in a ``file://`` folder is
  neither listed nor read: opening it would wait for a writer that may never
  come, and ``get``, ``fetch`` and ``ls`` would hang for ever.
* ``get URL -`` writes where standard output stands: what a shell
  redirected there (``>`` or ``>>``) and wrote before is kept.
* ``timeout=0`` is refused as ``-1`` is (exit 3), not taken for "unset".
* ``check`` with a wrong password logs in once: a server that locks an
  account after a few failures must not see two for each check.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from entrepot.errors import ConfigError, PermissionDenied
from entrepot.spool import Spool
from entrepot.targets import open_target
from tests.hostile._targets import ROOT, entrepot

pytestmark = pytest.mark.server


@pytest.fixture
def folder_with_a_fifo(tmp_path: Path) -> Path:
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "a.csv").write_bytes(b"1,2\n")
    os.mkfifo(remote / "p.csv")
    (remote / "sub").mkdir()
    return remote


# -- special files in a local folder --------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_fifo_in_a_local_folder_is_neither_listed_nor_read(
    folder_with_a_fifo: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with open_target(folder_with_a_fifo.as_uri()) as target:
        listed = [(e.name, e.is_dir) for e in target.list()]
        assert listed == [("a.csv", False), ("sub", True)]
        with pytest.raises(PermissionDenied, match="not a regular file"):
            target.read_bytes("p.csv")
        with pytest.raises(PermissionDenied, match="not a regular file"):
            target.download("p.csv", tmp_path / "got.csv")
    assert not (tmp_path / "got.csv").exists()
    assert any(
        "targets.entry_skipped" in r.message and "p.csv" in r.message for r in caplog.records
    )


@pytest.mark.timeout(60)
def test_get_and_fetch_do_not_wait_on_a_fifo(folder_with_a_fifo: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    done = entrepot("get", (folder_with_a_fifo / "p.csv").as_uri(), tmp_path / "got.csv")
    assert done.returncode == 6, done.stderr
    assert "not a regular file" in done.stderr
    assert not (tmp_path / "got.csv").exists()
    spool = Spool(tmp_path / "inbox").prepare()
    done = entrepot("fetch", folder_with_a_fifo.as_uri(), spool.root, "--no-ledger")
    assert done.returncode == 0, done.stderr
    assert spool.names("new") == ["a.csv"]
    assert (folder_with_a_fifo / "p.csv").exists()
    assert time.monotonic() - started < 50


# -- standard output redirected to a file ----------------------------------------------------


def _get_into(stdout: Any, url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "entrepot", "get", url, "-"],
        stdout=stdout,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        check=True,
        timeout=60,
    )


def test_get_to_standard_output_keeps_what_was_written_before(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "a.txt").write_bytes(b"hi\n")
    url = (remote / "a.txt").as_uri()
    log = tmp_path / "log.txt"
    log.write_bytes(b"log start\n")
    with open(log, "ab") as appended:  # ">> log.txt"
        _get_into(appended, url)
    assert log.read_bytes() == b"log start\nhi\n"
    # "{ echo before; entrepot get URL -; echo after; } > out": one description, shared.
    out = tmp_path / "out.txt"
    with open(out, "wb") as shared:
        shared.write(b"before\n")
        shared.flush()
        _get_into(shared, url)
        shared.seek(0, os.SEEK_CUR)  # where the child left the shared offset
        shared.write(b"after\n")
    assert out.read_bytes() == b"before\nhi\nafter\n"


# -- a timeout of zero ------------------------------------------------------------------------


def test_a_timeout_of_zero_is_refused_as_a_negative_one_is(tmp_path: Path) -> None:
    url = tmp_path.as_uri()
    for wrong in (0, "0", -1):
        with pytest.raises(ConfigError, match="must be positive"):
            open_target(url, timeout=wrong)
    for args in (["ls", f"{url}?timeout=0"], ["ls", url, "--timeout", "0"]):
        done = entrepot(*args)
        assert done.returncode == 3, (args, done.stderr)
        assert "must be positive and at most a day" in done.stderr


# -- a wrong password -------------------------------------------------------------------------


def test_check_with_a_wrong_password_logs_in_once(tmp_path: Path, cli: Any) -> None:
    from tests.servers.ftp import USER, FTPServer

    class Counting(FTPServer):
        """Counts the failed logins it sees."""

        failed_logins = 0

        def _handler_class(self) -> type:
            server = self

            class Handler(super()._handler_class()):  # type: ignore[misc]
                def on_login_failed(self, username: str, password: str) -> None:
                    server.failed_logins += 1

            return Handler

    (tmp_path / "root").mkdir()
    server = Counting(tmp_path / "root")
    server.start()
    try:
        code, out, _ = cli("check", f"ftp://{USER}:Wrong-Pass-1@127.0.0.1:{server.port}/")
        assert code == 6, out
        assert "530" in out and "Wrong-Pass-1" not in out
        # The server counts a failure after it answers: wait for its thread to have done so.
        deadline = time.monotonic() + 5
        while server.failed_logins == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # time for a second login, were there one
        assert server.failed_logins == 1
    finally:
        server.stop()
