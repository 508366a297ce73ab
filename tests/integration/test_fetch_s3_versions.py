"""An S3 object written again while a fetch works on it, with real SeaweedFS (both request
paths: the direct one and boto3's).

What was wrong: a fetch listed an object (ETag E1), claimed it, downloaded whatever the
key held at the time of its GET, then deleted the key with no condition.  An object
written again during the download lost its new version — deleted, fetched by nobody —
and the run exited 0.  Written again between the listing and the GET, the new bytes
landed under the old ETag (in the claim and the ``received`` event), and a second
fetcher, claiming the new ETag, landed them too: one object delivered twice.  And a new
version of an object whose old version still waited in ``new/`` was downloaded on every
run, then failed ("already exists in new/").

What is expected now: the GET is pinned to the listed ETag (``If-Match``; 412: the file
is deferred, listed again next run); only the version fetched is deleted (a HEAD, then
``If-Match`` on the DELETE, which SeaweedFS honours); the ``received`` event names the
ETag of the bytes landed; a file whose name waits in ``new/`` with other content is not
downloaded but deferred — the run succeeds — and fetched once the old one has gone on.
The window is hit from the test, through the target's own calls; the server stays real.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import entrepot.targets.s3_versions as s3_versions
from entrepot.jobs import Ledger
from entrepot.provenance import Kind, Recorder, find
from entrepot.ship import Fetcher, ShipOptions
from entrepot.ship.claimed import FetchClaims, source_identity
from entrepot.spool import Spool

pytestmark = [pytest.mark.server]

NAME = "edge-1/a.csv"
LOCAL = "edge-1~a.csv"
V1, V2 = b"version 1\n", b"version 2: a correction\n"
PATHS = pytest.mark.parametrize("fast_put", [True, False], ids=["direct", "boto3"])


def _put(folder: Any, body: bytes) -> str:
    """Write ``body`` under NAME; its ETag, without quotes."""
    key = f"{folder.prefix}/{NAME}"
    reply = folder.client().put_object(Bucket=folder.bucket, Key=key, Body=body)
    return str(reply["ETag"]).strip('"')


def _bucket(folder: Any) -> dict[str, bytes]:
    client, listed = folder.client(), folder.keys()
    found = {}
    for key in listed:
        found[key] = client.get_object(Bucket=folder.bucket, Key=f"{folder.prefix}/{key}")
    return {key: reply["Body"].read() for key, reply in found.items()}


def _new(spool: Spool) -> dict[str, bytes]:
    folder = spool.root / "new"
    return {name: (folder / name).read_bytes() for name in os.listdir(folder)}


def _fetcher(
    folder: Any, root: Path, ledger: Ledger, instance: str, fast_put: bool, **more: Any
) -> Fetcher:
    fetcher = Fetcher(
        Spool(root / instance).prepare(),
        folder.url,
        options=ShipOptions(claims=True, instance=instance),
        target_options={**folder.options, "fast_put": fast_put},
        **more,
    )
    fetcher.claims = FetchClaims(ledger, source_identity(fetcher), instance)
    return fetcher


def _after_first(target: Any, method: str, then: Any) -> None:
    """Run ``then()`` once, right after the first answer of ``target.method``."""
    original = getattr(target, method)
    done: list[bool] = []

    def hooked(*args: Any, **kwargs: Any) -> Any:
        answer = original(*args, **kwargs)
        if not done:
            done.append(True)
            then()
        return answer

    setattr(target, method, hooked)


@PATHS
def test_a_version_written_during_the_download_is_kept_and_fetched_once_the_old_has_gone(
    s3_server: Any, tmp_path: Path, fast_put: bool
) -> None:
    _put(s3_server, V1)
    with Ledger.open(tmp_path / "state") as ledger:
        fetcher = _fetcher(s3_server, tmp_path, ledger, "central-1", fast_put)
        target = fetcher.connect()
        _after_first(target, "download", lambda: _put(s3_server, V2))
        report = fetcher.run()
        assert _new(fetcher.spool) == {LOCAL: V1}
        assert _bucket(s3_server) == {NAME: V2}  # the new version was not deleted
        assert report.ok and report.done == [NAME] and fetcher.deferred == {}
        # Version 1 still waits in new/: version 2 is left remote, not downloaded, and
        # the run succeeds.
        downloads: list[str] = []
        target = fetcher.connect()
        _after_first(target, "download", lambda: downloads.append("downloaded"))
        report = fetcher.run()
        assert report.ok and report.done == [] and not report.skipped
        assert list(fetcher.deferred) == [NAME] and downloads == []
        assert _bucket(s3_server) == {NAME: V2}
        # Version 1 has gone on (shipped): version 2 comes in.
        os.unlink(fetcher.spool.path("new", LOCAL))
        report = fetcher.run()
    assert report.done == [NAME] and fetcher.deferred == {}
    assert _new(fetcher.spool) == {LOCAL: V2}
    assert _bucket(s3_server) == {}


@PATHS
def test_a_version_written_between_the_check_and_the_delete_is_kept(
    s3_server: Any, tmp_path: Path, fast_put: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the HEAD that precedes the DELETE, only ``If-Match`` on the DELETE keeps it."""
    _put(s3_server, V1)
    real = s3_versions.delete_key
    written: list[str] = []

    def delete_key(target: Any, path: str, **kwargs: Any) -> None:
        if path == NAME and not written:
            written.append(_put(s3_server, V2))
        real(target, path, **kwargs)

    monkeypatch.setattr(s3_versions, "delete_key", delete_key)
    with Ledger.open(tmp_path / "state") as ledger:
        fetcher = _fetcher(s3_server, tmp_path, ledger, "central-1", fast_put)
        report = fetcher.run()
    assert written and report.ok and report.done == [NAME]
    assert _new(fetcher.spool) == {LOCAL: V1}
    assert _bucket(s3_server) == {NAME: V2}


@PATHS
def test_a_version_written_before_the_get_is_not_fetched_under_the_old_etag(
    s3_server: Any, tmp_path: Path, fast_put: bool
) -> None:
    """Written after the listing and the download's HEAD, before its GET: the GET is
    refused (412), the file deferred; the next run fetches the new version and records
    its own ETag."""
    _put(s3_server, V1)
    with Ledger.open(tmp_path / "state") as ledger, Recorder(ledger.engine) as recorder:
        fetcher = _fetcher(s3_server, tmp_path, ledger, "central-1", fast_put, recorder=recorder)
        etags: list[str] = []
        target = fetcher.connect()
        _after_first(target, "stat", lambda: etags.append(_put(s3_server, V2)))
        report = fetcher.run()
        assert report.ok and report.done == [] and list(fetcher.deferred) == [NAME]
        assert _new(fetcher.spool) == {}
        assert _bucket(s3_server) == {NAME: V2}
        report = fetcher.run()
        received = [e for e in find(ledger.engine, LOCAL) if e.kind is Kind.RECEIVED]
    assert report.done == [NAME] and _new(fetcher.spool) == {LOCAL: V2}
    assert [e.details["etag"] for e in received] == etags
    assert _bucket(s3_server) == {}


@PATHS
def test_two_fetchers_deliver_an_object_written_again_once(
    s3_server: Any, tmp_path: Path, fast_put: bool
) -> None:
    """Fetcher A lists version 1 and checks it; the object is written again (the same
    size) before A's GET; fetcher B fetches version 2 while A downloads: B delivers it,
    A nothing — not version 2's bytes under version 1's ETag."""
    _put(s3_server, V1)
    with Ledger.open(tmp_path / "state") as ledger:
        one = _fetcher(s3_server, tmp_path, ledger, "central-1", fast_put)
        two = _fetcher(s3_server, tmp_path, ledger, "central-2", fast_put)
        by_two: list[Any] = []
        target = one.connect()
        _after_first(target, "stat", lambda: _put(s3_server, b"version 2\n"))
        download = target.download

        def downloading(*args: Any, **kwargs: Any) -> Any:
            try:
                return download(*args, **kwargs)
            finally:
                by_two.append(two.run())

        target.download = downloading
        report = one.run()
    assert _new(one.spool) == {} and _new(two.spool) == {LOCAL: b"version 2\n"}  # once
    assert [r.done for r in by_two] == [[NAME]]
    # A's GET was refused; by then B had fetched and removed the object: nothing left.
    assert report.ok and report.done == [] and not report.skipped and one.deferred == {}
    assert _bucket(s3_server) == {}


def test_a_fetch_whose_file_name_waits_in_new_with_other_bytes_exits_0(
    s3_server: Any, tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command: a deferral is not a failure (exit 0), and the file stays remote —
    told apart by the ETag's MD5 from a local file of the same size, without a download."""
    spool = Spool(tmp_path / "inbox").prepare()
    spool.publish_bytes(b"version 0\n", LOCAL)  # the size of V1, other bytes
    _put(s3_server, V1)
    monkeypatch.setenv("S3_SECRET", s3_server.secret_key)
    args = ("fetch", s3_server.url, tmp_path / "inbox", "--claims", "--state", tmp_path / "state",
            "-o", f"access_key={s3_server.access_key}", "--password-env", "S3_SECRET")  # fmt: skip
    code, _, _ = cli(*args)
    assert code == 0
    assert _new(spool) == {LOCAL: b"version 0\n"} and _bucket(s3_server) == {NAME: V1}
    os.unlink(spool.path("new", LOCAL))
    assert cli(*args)[0] == 0
    assert _new(spool) == {LOCAL: V1} and _bucket(s3_server) == {}
