"""Shipping spools to real FTP, SFTP and S3 servers, with the ledger and the backlog."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import pytest

from entrepot.errors import AuthenticationFailed, RemoteLocked
from entrepot.jobs import FakeClock, JobState, Ledger, Outcome, RetryPolicy, Runner
from entrepot.ship import Fetcher, FetchJob, ShipJob, ShipOptions, Shipper
from entrepot.spool import Spool

pytestmark = pytest.mark.server

SERVERS = ["ftp_server", "sftp_server", "s3_server"]


@pytest.fixture(params=SERVERS)
def remote(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "outbox").prepare()


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    book = Ledger.open(tmp_path / "state", clock=FakeClock())
    yield book  # type: ignore[misc]
    book.close()


def fill(spool: Spool, count: int, size: int = 1000) -> dict[str, bytes]:
    files = {}
    for number in range(count):
        data = hashlib.sha256(b"%d" % number).digest() * (size // 32 + 1)
        name = f"export-{number:03d} é.csv"
        spool.publish_bytes(data[:size], name)
        files[name] = data[:size]
    return files


def remote_files(remote: Any) -> dict[str, bytes]:
    with remote.open() as target:
        return {info.name: target.read_bytes(info.name) for info in target.list("")}


def with_password_env(remote: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The fixture's target options with the password moved into the environment,
    as a job kept in the backlog needs it (the ledger never stores secrets)."""
    options = dict(remote.options)
    password = options.pop("password")
    monkeypatch.setenv("ENTREPOT_TEST_PASSWORD", password)
    options["password_env"] = "ENTREPOT_TEST_PASSWORD"
    return options


def test_ship_delivers_verifies_and_moves_to_cur(remote: Any, spool: Spool, ledger: Ledger) -> None:
    files = fill(spool, 30)
    job = ShipJob(
        str(spool.root),
        remote.url,
        options=ShipOptions(parallel=3),
        target_options=remote.options,
    )
    result = Runner(ledger).run(job)
    assert result.outcome is Outcome.SUCCEEDED, result.error
    assert (result.items, result.bytes) == (30, 30_000)
    assert remote_files(remote) == files
    assert spool.names("new") == [] and spool.names("claimed") == []
    assert sorted(spool.names("cur")) == sorted(files)
    record = ledger.get(result.job_id)
    assert record.state is JobState.SUCCEEDED
    # Secrets never reach the ledger.
    stored = str(record.params)
    for secret in ("password", "secret_key"):
        value = remote.options.get(secret)
        assert value is None or value not in stored


def test_ship_again_is_empty_and_replaces_never_duplicates(
    remote: Any, spool: Spool, ledger: Ledger
) -> None:
    files = fill(spool, 3)
    Shipper(spool, remote.url, target_options=remote.options).run()
    result = Runner(ledger).run(ShipJob(str(spool.root), remote.url, target_options=remote.options))
    assert result.outcome is Outcome.EMPTY
    # The same names published again replace the remote copies.
    for name in files:
        spool.publish_bytes(b"second version", name + ".v2")
    spool.publish_bytes(b"new content", "export-000 é.csv~x")
    report = Shipper(spool, remote.url, target_options=remote.options).run()
    assert len(report.done) == 4
    assert len(remote_files(remote)) == 7


def test_lock_protocol_removes_its_lock_and_respects_others(ftp_server: Any, spool: Spool) -> None:
    fill(spool, 3)
    report = Shipper(
        spool,
        ftp_server.url,
        options=ShipOptions(protocol="lock"),
        target_options=ftp_server.options,
    ).run()
    assert len(report.done) == 3
    assert "write" not in os.listdir(ftp_server.root)

    # A lock file appears between runs: the next run leaves the folder alone.
    fill(spool, 5)
    (ftp_server.root / "read").write_text("partner is reading")
    shipper = Shipper(
        spool,
        ftp_server.url,
        options=ShipOptions(protocol="lock"),
        target_options=ftp_server.options,
    )
    with pytest.raises(RemoteLocked, match="'read'"):
        shipper.run()
    assert len(spool.names("new")) == 5
    assert (ftp_server.root / "read").read_text() == "partner is reading"
    assert "write" not in os.listdir(ftp_server.root)


def test_stale_lock_of_a_dead_shipper_is_taken_over(ftp_server: Any, spool: Spool) -> None:
    from entrepot.ship import LockOwner

    dead = LockOwner(os.uname().nodename, 2**22 + 7, "0123456789abcdef", 0.0)
    (ftp_server.root / "write").write_bytes(dead.encode())
    fill(spool, 2)
    report = Shipper(
        spool,
        ftp_server.url,
        options=ShipOptions(protocol="lock"),
        target_options=ftp_server.options,
    ).run()
    assert len(report.done) == 2
    assert "write" not in os.listdir(ftp_server.root)


def test_marker_protocol_writes_a_marker_per_file(remote: Any, spool: Spool) -> None:
    files = fill(spool, 3)
    Shipper(
        spool, remote.url, options=ShipOptions(protocol="marker"), target_options=remote.options
    ).run()
    found = remote_files(remote)
    assert sorted(found) == sorted([*files, *(name + ".done" for name in files)])


@pytest.mark.parametrize("server", ["ftp_server", "sftp_server"])
def test_connection_dropped_mid_batch_then_backlog_delivers_the_rest(
    server: str,
    request: pytest.FixtureRequest,
    spool: Spool,
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    remote = request.getfixturevalue(server)
    # Enough files that the server's cut lands mid-batch even on a loaded machine.
    files = fill(spool, 60)
    options = with_password_env(remote, monkeypatch)
    options["reconnect"] = False
    remote.drop_after(4)
    job = ShipJob(str(spool.root), remote.url, target_options=options, max_tries=1)
    result = Runner(ledger).run(job)
    assert result.outcome is Outcome.FAILED
    assert result.error is not None and result.error.transient
    assert result.state is JobState.BACKLOG
    done, waiting = set(spool.names("cur")), set(spool.names("new"))
    assert 1 <= len(done) < 60
    assert done | waiting == set(files) and not done & waiting
    assert spool.names("claimed") == []
    delivered = remote_files(remote)
    assert set(done) <= set(delivered) <= set(files)
    assert all(delivered[name] == files[name] for name in delivered)

    # The next run from the backlog delivers the rest, exactly once each.
    again = Runner(ledger).rerun(result.job_id)
    assert again.ok, again.error
    assert remote_files(remote) == files
    assert spool.names("new") == [] and len(spool.names("cur")) == 60
    assert ledger.get(result.job_id).state is JobState.SUCCEEDED


def test_wrong_password_goes_straight_to_the_backlog_with_its_reason(
    remote: Any, spool: Spool, ledger: Ledger
) -> None:
    fill(spool, 2)
    options = dict(remote.options)
    secret_key = "secret_key" if "secret_key" in options else "password"
    options[secret_key] = "definitely-wrong-Ü"
    clock = FakeClock()
    runner = Runner(ledger, policy=RetryPolicy(attempts=5, delay=1.0), clock=clock)
    result = runner.run(ShipJob(str(spool.root), remote.url, target_options=options))
    assert result.outcome is Outcome.FAILED
    assert result.attempts == 1  # permanent: not retried within the run
    assert clock.sleeps == []
    assert isinstance(result.error.__cause__, AuthenticationFailed)  # type: ignore[union-attr]
    record = ledger.get(result.job_id)
    assert record.state is JobState.BACKLOG
    assert re.search("authenticat|credentials", record.last_error or "", re.IGNORECASE)
    assert "definitely-wrong" not in (record.last_error or "")
    assert len(spool.names("new")) == 2


def test_server_that_comes_back_after_failures(
    ftp_server: Any, spool: Spool, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = fill(spool, 3)
    options = with_password_env(ftp_server, monkeypatch)
    ftp_server.stop()
    clock = FakeClock()
    starts = {"left": 2}

    def sleep_and_maybe_restart(seconds: float) -> None:
        clock.advance(seconds)
        clock.sleeps.append(seconds)
        starts["left"] -= 1
        if starts["left"] == 0:
            ftp_server.start()

    monkeypatch.setattr(clock, "sleep", sleep_and_maybe_restart)
    runner = Runner(ledger, policy=RetryPolicy(attempts=4, delay=1.0, jitter=0.0), clock=clock)
    result = runner.run(ShipJob(str(spool.root), ftp_server.url, target_options=options))
    assert result.ok, result.error
    assert result.attempts == 3
    assert clock.sleeps == [1.0, 2.0]
    assert remote_files(ftp_server) == files


def test_fetch_brings_remote_files_into_the_spool(
    remote: Any, spool: Spool, tmp_path: Path
) -> None:
    with remote.open() as target:
        target.upload_bytes(b"one", "in-1.xml")
        target.upload_bytes(b"two", "in-2.xml")
    report = Fetcher(spool, remote.url, target_options=remote.options).run()
    assert sorted(report.done) == ["in-1.xml", "in-2.xml"]
    assert (spool.root / "new" / "in-1.xml").read_bytes() == b"one"
    assert remote_files(remote) == {}
    assert spool.names("tmp") == []


def test_fetch_job_moves_remote_copies_when_asked(ftp_server: Any, spool: Spool) -> None:
    (ftp_server.root / "a.csv").write_text("a")
    job = FetchJob(
        str(spool.root),
        ftp_server.url,
        options=ShipOptions(protocol="lock", remote_after="done"),
        target_options=ftp_server.options,
    )
    result = Runner(None).run(job)
    assert result.ok, result.error
    assert spool.names("new") == ["a.csv"]
    assert (ftp_server.root / "done" / "a.csv").read_text() == "a"
    assert not (ftp_server.root / "read").exists()
