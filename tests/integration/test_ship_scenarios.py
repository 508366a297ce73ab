"""The old export scenarios, as shipping jobs, against every real server.

Success, nothing to export, a lock file present, wrong port, wrong password,
missing remote folder and server down — each ends in the right outcome, with
the right kind of error, and nothing lost locally.
"""

from __future__ import annotations

from typing import Any

import pytest

from entrepot.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    RemoteLocked,
    RemoteNotFound,
)
from entrepot.jobs import FakeClock, JobState, Ledger, Outcome, RetryPolicy, Runner
from entrepot.ship import ShipJob, ShipOptions
from entrepot.spool import Spool
from tests.servers._common import free_port

pytestmark = pytest.mark.server


@pytest.fixture(params=["ftp_server", "sftp_server", "s3_server"])
def remote(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


def run(remote: Any, spool: Spool, ledger: Ledger, url: str | None = None, **options: Any) -> Any:
    target_options = {**remote.options, **options}
    job = ShipJob(
        str(spool.root),
        url or remote.url,
        options=ShipOptions(protocol="lock"),
        target_options=target_options,
    )
    runner = Runner(ledger, policy=RetryPolicy(attempts=2, delay=1.0), clock=FakeClock())
    return runner.run(job)


def cause(result: Any) -> BaseException | None:
    return result.error.__cause__ if result.error else None


def with_port(url: str, port: int, old: int) -> str:
    return url.replace(f":{old}", f":{port}", 1)


def test_export_scenarios(remote: Any, tmp_path: Any) -> None:
    spool = Spool(tmp_path / "store").prepare()
    ledger = Ledger.open(tmp_path / "state", clock=FakeClock())

    # Success: both files delivered, moved to cur/, no lock left.
    spool.publish_bytes(b"This is the A file", "a-file")
    spool.publish_bytes(b"This is the B file", "b-file")
    result = run(remote, spool, ledger)
    assert result.outcome is Outcome.SUCCEEDED
    with remote.open() as target:
        assert [info.name for info in target.list()] == ["a-file", "b-file"]
        assert target.read_bytes("b-file") == b"This is the B file"
    assert spool.names("cur") == ["a-file", "b-file"]

    # Nothing to export: success without connecting.
    assert run(remote, spool, ledger, password="wrong-but-unused").outcome is Outcome.EMPTY

    # A 'write' lock on the server: nothing sent, the job waits in the backlog.
    with remote.open() as target:
        target.upload_bytes(b"Lock file", "write")
    spool.publish_bytes(b"some new file", "new-file")
    result = run(remote, spool, ledger)
    assert isinstance(cause(result), RemoteLocked)
    assert result.state is JobState.BACKLOG
    assert result.attempts == 2  # locked is worth retrying
    with remote.open() as target:
        assert target.read_bytes("write") == b"Lock file"
        target.delete("write")
    assert spool.names("new") == ["new-file"]

    # Wrong port: nobody listens.
    wrong = with_port(remote.url, free_port(), remote.port)
    result = run(remote, spool, ledger, url=wrong)
    assert isinstance(cause(result), ConnectionFailed)
    assert result.error is not None and result.error.transient

    # Wrong password: refused at once, not retried.
    secret = "secret_key" if "secret_key" in remote.options else "password"
    result = run(remote, spool, ledger, **{secret: "secret"})
    assert isinstance(cause(result), AuthenticationFailed)
    assert result.attempts == 1
    assert "secret" not in str(result.error).replace("secret_key", "")

    # A remote folder (or bucket) that does not exist.
    missing = remote.url.replace(remote.url.split("?")[0].rsplit("/", 1)[1], "nonexistent", 1)
    if "s3://" not in remote.url:
        result = run(remote, spool, ledger, url=missing)
        assert isinstance(cause(result), RemoteNotFound)
        assert result.attempts == 1
    else:
        bucket = remote.url.split("/")[2]
        result = run(remote, spool, ledger, url=remote.url.replace(bucket, "no-such-bucket", 1))
        assert isinstance(cause(result), RemoteNotFound)

    # The server is down: a transient failure; the file still waits.
    remote.stop()
    try:
        result = run(remote, spool, ledger)
        assert isinstance(cause(result), ConnectionFailed)
        assert result.state is JobState.BACKLOG
    finally:
        remote.start()
    assert spool.names("new") == ["new-file"]

    # Back up: the waiting file goes, and nothing is duplicated.
    final = run(remote, spool, ledger)
    assert final.outcome is Outcome.SUCCEEDED
    with remote.open() as target:
        assert [info.name for info in target.list()] == ["a-file", "b-file", "new-file"]
    ledger.close()
