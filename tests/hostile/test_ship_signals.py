"""Stopping long commands with SIGTERM or Ctrl-C, in a subprocess, against real servers.

Issue 10 item 1 (the shipping part): ``entrepot ship``, ``fetch``,
``backlog retry`` and ``spool put`` of many files, stopped in the middle of
their work, take no new file, let the transfers in hand finish, release
every claim (nothing left in ``claimed/``), leave no temporary upload and
no lock file on the server, record the job as interrupted (never "running")
and exit 143 for SIGTERM, 130 for SIGINT.

The servers are slowed down (pyftpdlib's throttled data channel for FTP, a
throttling TCP proxy for SFTP) so that the signal lands mid-transfer.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from entrepot.spool import Spool
from tests.hostile._shipping import (
    Throttle,
    entrepot,
    ledger_jobs,
    listing,
    partials,
    signal_exit,
    slow_ftp,
    stop_midway,
)
from tests.servers.ftp import PASSWORD as FTP_PASSWORD
from tests.servers.ftp import USER as FTP_USER

pytestmark = pytest.mark.server

SIZE = 160 * 1024
RATE = 80 * 1024  # two seconds a file
FILES = 6


@pytest.fixture
def outbox(tmp_path: Path) -> dict[str, bytes]:
    spool = Spool(tmp_path / "outbox").prepare()
    files = {f"part-{n}.bin": os.urandom(SIZE) for n in range(FILES)}
    for name, data in files.items():
        spool.publish_bytes(data, name)
    return files


class Remote:
    """A slow remote folder: its URL, the password variable, the folder on disk."""

    def __init__(self, url: str, env: dict[str, str], folder: Path, options: list[str]) -> None:
        self.url = url
        self.env = env
        self.folder = folder
        self.options = options


@pytest.fixture(params=["ftp", "sftp"])
def slow_remote(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Remote]:
    if request.param == "ftp":
        with slow_ftp(tmp_path / "ftp-root", RATE) as server:
            folder = server.root / "drop"
            folder.mkdir()
            yield Remote(
                f"ftp://{FTP_USER}@127.0.0.1:{server.port}/drop",
                {"SHIP_PW": FTP_PASSWORD},
                folder,
                [],
            )
        return
    sftp: Any = request.getfixturevalue("sftp_server")
    proxy = Throttle(sftp.port, RATE)
    known = tmp_path / "known_hosts"
    public = sftp.server.host_key.export_public_key().decode().strip()
    known.write_text(f"[127.0.0.1]:{proxy.port} {public}\n")
    try:
        yield Remote(
            f"sftp://{sftp.user}@127.0.0.1:{proxy.port}/{sftp.folder}",
            {"SHIP_PW": sftp.password},
            sftp.root,
            ["-o", f"known_hosts={known}"],
        )
    finally:
        proxy.close()


def check_stopped_cleanly(
    done: Any, sig: signal.Signals, spool: Path, remote: Path, files: dict[str, bytes]
) -> list[str]:
    """What every stopped ship must leave behind; returns the names delivered."""
    assert done.returncode == signal_exit(sig), done.stderr
    assert "Traceback" not in done.stderr
    assert listing(spool / "claimed") == []
    assert partials(remote) == []
    assert "write" not in os.listdir(remote)  # the lock is removed
    delivered = sorted(os.listdir(spool / "cur"))
    waiting = sorted(os.listdir(spool / "new"))
    assert sorted(delivered + waiting) == sorted(files)
    assert waiting, "the run went on after the signal"
    assert sorted(os.listdir(remote)) == delivered
    for name in delivered:
        assert (remote / name).read_bytes() == files[name]
    return delivered


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_ship_stops_cleanly(
    slow_remote: Remote, outbox: dict[str, bytes], tmp_path: Path, sig: signal.Signals
) -> None:
    spool, state = tmp_path / "outbox", tmp_path / "state"
    args = [
        "ship", spool, slow_remote.url, "--password-env", "SHIP_PW", "--state", state,
        "--protocol", "lock", "--parallel", "2", "--max-tries", "1", *slow_remote.options,
    ]  # fmt: skip
    done = stop_midway(
        args, lambda: bool(partials(slow_remote.folder, "part-")), sig, env=slow_remote.env
    )
    check_stopped_cleanly(done, sig, spool, slow_remote.folder, outbox)
    [job] = ledger_jobs(state)
    assert (job["state"], job["last_outcome"]) == ("backlog", "interrupted")

    # The next run of the same route delivers the rest, as a run of the same job.
    again = entrepot(*args, env=slow_remote.env)
    assert again.returncode == 0, again.stderr
    assert sorted(os.listdir(slow_remote.folder)) == sorted(outbox)
    [job] = ledger_jobs(state)
    assert (job["state"], job["runs"]) == ("succeeded", 2)


def test_fetch_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    files = {f"in-{n}.bin": os.urandom(SIZE) for n in range(FILES)}
    inbox, state = Spool(tmp_path / "inbox").prepare(), tmp_path / "state"
    with slow_ftp(tmp_path / "ftp-root", RATE) as server:
        folder = server.root / "out"
        folder.mkdir()
        for name, data in files.items():
            (folder / name).write_bytes(data)
        url = f"ftp://{FTP_USER}@127.0.0.1:{server.port}/out"
        done = stop_midway(
            ["fetch", url, inbox.root, "--password-env", "PW", "--protocol", "lock",
             "--state", state],
            lambda: bool(os.listdir(inbox.root / "tmp")),  # a download under way
            signal.SIGTERM,
            env={"PW": FTP_PASSWORD},
        )  # fmt: skip
        assert done.returncode == 143, done.stderr
        remaining = set(os.listdir(folder))
    assert "read" not in remaining  # the lock is removed
    fetched = set(inbox.names("new"))
    assert fetched and remaining, "nothing fetched, or the run went on after the signal"
    assert fetched | remaining == set(files) and not fetched & remaining
    assert all((inbox.root / "new" / name).read_bytes() == files[name] for name in fetched)
    assert os.listdir(inbox.root / "tmp") == []
    [job] = ledger_jobs(state)
    assert (job["state"], job["last_outcome"]) == ("backlog", "interrupted")


def test_backlog_retry_stops_cleanly_on_sigterm(outbox: dict[str, bytes], tmp_path: Path) -> None:
    spool, state = tmp_path / "outbox", tmp_path / "state"
    with slow_ftp(tmp_path / "ftp-root", RATE) as server:
        folder = server.root / "drop"
        folder.mkdir()
        url = f"ftp://{FTP_USER}@127.0.0.1:{server.port}/drop"
        server.stop()
        failed = entrepot(
            "ship", spool, url, "--password-env", "PW", "--state", state, "--max-tries", "1",
            env={"PW": FTP_PASSWORD},
        )  # fmt: skip
        assert failed.returncode == 5, failed.stderr
        server.start()
        done = stop_midway(
            ["backlog", "retry", "--all", "--force", "--state", state],
            lambda: bool(partials(folder, "part-")),
            signal.SIGTERM,
            env={"PW": FTP_PASSWORD},
        )
        check_stopped_cleanly(done, signal.SIGTERM, spool, folder, outbox)
    [job] = ledger_jobs(state)
    assert (job["state"], job["last_outcome"], job["runs"]) == ("backlog", "interrupted", 2)


def test_spool_put_of_many_files_stops_between_two_files(tmp_path: Path) -> None:
    sources = tmp_path / "exports"
    sources.mkdir()
    expected = {}
    for number in range(3000):
        data = os.urandom(64) * 8
        (sources / f"e-{number:04d}.csv").write_bytes(data)
        expected[f"e-{number:04d}.csv"] = data
    spool = Spool(tmp_path / "outbox").prepare()
    done = stop_midway(
        ["spool", "put", spool.root, *sorted(sources.iterdir())],
        lambda: len(os.listdir(spool.root / "new")) >= 20,
        signal.SIGTERM,
    )
    assert done.returncode == 143, done.stderr
    published = spool.names("new")
    assert 20 <= len(published) < 3000
    assert all((spool.root / "new" / name).read_bytes() == expected[name] for name in published)
    assert os.listdir(spool.root / "tmp") == []
    # Every name printed is published; the signal may come between the last
    # publish and its line.
    printed = set(done.stdout.split())
    assert printed <= set(published) and len(set(published) - printed) <= 1
