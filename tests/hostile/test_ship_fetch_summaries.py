"""What ``ship`` and ``fetch`` say a run did, when a file fails or cannot be fetched.

* A file whose failure stopped the run (the store hung up during its
  transfer) is in the summary as failed — in the table, in the count and in
  ``--json`` — not only files the store refused.
* A listed size no local file can have (``2**64 - 1``) is that file's
  problem: it is skipped and reported, the other files are fetched, and the
  command exits 7 (invalid data), as for a name no spool entry may have —
  rather than the run failing on it first, on every retry.

The store is a small S3 fake on loopback (the scripted server of
:mod:`tests.hostile.test_targets_s3_direct`) holding objects in a dict.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from entrepot.cli.exitcodes import ExitCode
from tests.hostile._shipping import entrepot
from tests.hostile.test_targets_s3_direct import FakeStore, Handler, answer

pytestmark = pytest.mark.server

DATE = "Thu, 01 Jan 2026 00:00:00 GMT"
IMPOSSIBLE = 2**64 - 1
#: One try, no ledger, the secret key by reference (as a job takes it).
RUN = ("--no-ledger", "--max-tries", "1", "-o", "timeout=10", "--password-env", "S3_SECRET")
ENV = {"S3_SECRET": "SK"}


@dataclass
class Objects:
    """The bucket's objects, and how the store misbehaves with some of them."""

    held: dict[str, bytes] = field(default_factory=dict)
    #: Sizes the store states for these keys instead of their own.
    sizes: dict[str, int] = field(default_factory=dict)
    #: Keys whose upload or download the store hangs up on half-way.
    cut: set[str] = field(default_factory=set)

    def handle(self, number: int, request: bytes) -> Handler:
        method, target = request.split(b" ", 2)[:2]
        parts = urlsplit(target.decode("latin-1"))
        key = unquote(parts.path.partition("/bucket/")[2])
        if method == b"GET" and not key:
            return self._listing(parse_qs(parts.query).get("prefix", [""])[0])
        if key in self.cut and method in {b"PUT", b"GET"}:
            return self._cut(key)
        if method == b"PUT":
            self.held[key] = request.partition(b"\r\n\r\n")[2]
            etag = hashlib.md5(self.held[key]).hexdigest().encode()
            return answer(b'HTTP/1.1 200 OK\r\nETag: "%s"\r\nContent-Length: 0\r\n\r\n' % etag)
        if key not in self.held:
            return answer(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        if method == b"DELETE":
            del self.held[key]
            return answer(b"HTTP/1.1 204 No Content\r\n\r\n")
        head = self._head(key)
        return answer(head if method == b"HEAD" else head + self.held[key])

    def _head(self, key: str) -> bytes:
        data = self.held[key]
        return (
            f"HTTP/1.1 200 OK\r\nContent-Length: {self.sizes.get(key, len(data))}\r\n"
            f'Last-Modified: {DATE}\r\nETag: "{hashlib.md5(data).hexdigest()}"\r\n\r\n'
        ).encode()

    def _cut(self, key: str) -> Handler:
        """Hang up half-way: before a PUT's reply, after a GET's first byte."""

        def hang_up(conn: socket.socket, request: bytes) -> None:
            if request.startswith(b"GET "):
                conn.sendall(self._head(key) + self.held[key][:1])
            conn.shutdown(socket.SHUT_RDWR)

        return hang_up

    def _listing(self, prefix: str) -> Handler:
        contents = "".join(
            f"<Contents><Key>{key}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
            f"<Size>{self.sizes.get(key, len(data))}</Size></Contents>"
            for key, data in sorted(self.held.items())
            if key.startswith(prefix)
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>bucket</Name><IsTruncated>false</IsTruncated>{contents}</ListBucketResult>"
        ).encode()
        return answer(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


@pytest.fixture
def objects() -> Iterator[tuple[Objects, str]]:
    held = Objects()
    store = FakeStore(held.handle)
    try:
        yield held, store.url(access_key="AK")
    finally:
        store.close()


# -- a failure that stops the run ----------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_file_whose_upload_stopped_the_run_is_counted_as_failed(
    objects: tuple[Objects, str], tmp_path: Path
) -> None:
    held, url = objects
    spool = tmp_path / "outbox"
    assert entrepot("spool", "init", spool).returncode == 0
    for n, name in enumerate(["a.csv", "b.csv"]):
        (spool / "new" / name).write_bytes(b"1,2\n")
        os.utime(spool / "new" / name, (1_700_000_000 + n,) * 2)  # a.csv first
    held.cut.add("in/b.csv")
    done = entrepot("ship", spool, url, *RUN, env=ENV)
    assert done.returncode == ExitCode.TEMPORARY, done.stdout + done.stderr
    assert "1 files" in done.stdout and "1 failed" in done.stdout
    assert "b.csv" in done.stdout and "failed: " in done.stdout
    assert sorted(p.name for p in (spool / "new").iterdir()) == ["b.csv"]
    again = entrepot("ship", spool, url, *RUN, "--json", env=ENV)
    result = json.loads(again.stdout)
    assert result["files"] == [] and list(result["failed"]) == ["b.csv"]


@pytest.mark.timeout(120)
def test_a_file_whose_download_stopped_the_run_is_counted_as_failed(
    objects: tuple[Objects, str], tmp_path: Path
) -> None:
    held, url = objects
    held.held.update({"in/a.csv": b"a\n", "in/b.csv": b"bbbb\n"})
    held.cut.add("in/b.csv")
    spool = tmp_path / "inbox"
    done = entrepot("fetch", url, spool, "--create", *RUN, "--json", env=ENV)
    assert done.returncode == ExitCode.TEMPORARY, done.stderr
    result = json.loads(done.stdout)
    assert result["files"] == ["a.csv"] and list(result["failed"]) == ["b.csv"]
    assert "closed the connection" in result["failed"]["b.csv"]
    assert sorted(p.name for p in (spool / "new").iterdir()) == ["a.csv"]


# -- a size no local file can have ---------------------------------------------------------


@pytest.mark.timeout(120)
def test_an_impossible_size_is_skipped_and_the_other_files_fetched(
    objects: tuple[Objects, str], tmp_path: Path
) -> None:
    held, url = objects
    # Fetched in the order of their names: the impossible one would come first.
    held.held.update({"in/huge.csv": b"small\n", "in/ok.csv": b"ok\n", "in/ok2.csv": b"ok2\n"})
    held.sizes["in/huge.csv"] = IMPOSSIBLE
    spool = tmp_path / "inbox"
    done = entrepot("fetch", url, spool, "--create", *RUN, env=ENV)
    assert done.returncode == ExitCode.DATA, done.stdout + done.stderr
    assert "huge.csv" in done.stdout and "skipped: " in done.stdout
    assert "2 files" in done.stdout and "0 failed" in done.stdout
    assert sorted(p.name for p in (spool / "new").iterdir()) == ["ok.csv", "ok2.csv"]
    assert sorted(held.held) == ["in/huge.csv"]  # left where it is
    again = entrepot("fetch", url, spool, *RUN, "--json", env=ENV)
    assert again.returncode == ExitCode.DATA
    skipped = json.loads(again.stdout)["skipped"]
    assert list(skipped) == ["huge.csv"] and str(IMPOSSIBLE) in skipped["huge.csv"]
