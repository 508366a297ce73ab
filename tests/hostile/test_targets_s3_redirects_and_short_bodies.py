"""S3 stores that answer with a redirect, or send less of an object than they announced.

* A redirect (``307``, ``301``) is never followed, on the direct path or through
  boto3: the request fails at once with the store's answer, a refusal (exit 6)
  that says so — not boto3 asking again until Python's recursion limit.
* An object whose body ends before its ``Content-Length`` is a connection
  failure (exit 5) that says the store hung up during the transfer, and no
  file is left behind.

The store is the scripted fake of :mod:`tests.hostile.test_targets_s3_direct`.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from entrepot.errors import ConnectionFailed, PermanentTargetError
from entrepot.targets import open_target
from tests.hostile._targets import entrepot
from tests.hostile.test_targets_s3_direct import FakeStore, Handler, answer

pytestmark = pytest.mark.server

PATHS = {"direct": {}, "boto3": {"fast_put": "false"}}
KEYS = {"access_key": "AK", "secret_key": "SK"}
DATE = "Thu, 01 Jan 2026 00:00:00 GMT"


@pytest.fixture
def store() -> Iterator[Callable[[Callable[[int, bytes], Handler]], FakeStore]]:
    stores: list[FakeStore] = []

    def start(handle: Callable[[int, bytes], Handler]) -> FakeStore:
        stores.append(FakeStore(handle))
        return stores[-1]

    yield start
    for one in stores:
        one.close()


# -- redirects -----------------------------------------------------------------------------

MOVED = b"<Error><Code>PermanentRedirect</Code><Message>Go elsewhere</Message></Error>"
REDIRECTS = {
    "307": b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:9/elsewhere\r\n"
    b"Content-Length: 0\r\n\r\n",
    "301 with a body": b"HTTP/1.1 301 Moved Permanently\r\nContent-Length: %d\r\n\r\n%s"
    % (len(MOVED), MOVED),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("reply", REDIRECTS.values(), ids=REDIRECTS.keys())
@pytest.mark.parametrize("path", PATHS)
def test_a_redirect_is_refused_at_once(
    store: Callable[..., FakeStore], path: str, reply: bytes
) -> None:
    fake = store(lambda number, request: answer(reply))
    target = open_target(fake.url(**PATHS[path]), timeout=10, **KEYS)
    with pytest.raises(PermanentTargetError, match="redirect") as caught:
        target.list()
    assert "not followed" in str(caught.value)
    assert len(fake.requests) == 1


@pytest.mark.timeout(60)
def test_ls_of_an_endpoint_that_redirects_exits_6(store: Callable[..., FakeStore]) -> None:
    fake = store(lambda number, request: answer(REDIRECTS["307"]))
    done = entrepot("ls", fake.url(fast_put="false", **KEYS), "--timeout", "10")
    assert done.returncode == 6, done.stderr
    assert "redirect" in done.stderr
    assert "RecursionError" not in done.stderr


# -- a body shorter than its length --------------------------------------------------------

LISTING = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Name>bucket</Name><IsTruncated>false</IsTruncated></ListBucketResult>"
)


def short_object(number: int, request: bytes) -> Handler:
    """Listings are empty; the object is 3000 bytes by its HEAD and GET, of which GET
    sends three before it hangs up."""
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Length: 3000\r\nLast-Modified: {DATE}\r\n"
        'ETag: "0123456789abcdef0123456789abcdef"\r\n'
    ).encode()
    if request.startswith(b"HEAD "):
        return answer(head + b"\r\n")
    if b"list-type=2" in request.split(b"\r\n", 1)[0]:
        return answer(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(LISTING) + LISTING)

    def cut_short(conn: socket.socket, request: bytes) -> None:
        conn.sendall(head + b"\r\nabc")
        conn.shutdown(socket.SHUT_RDWR)

    return cut_short


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", PATHS)
def test_an_object_cut_short_is_a_connection_failure(
    store: Callable[..., FakeStore], path: str, tmp_path: Path
) -> None:
    fake = store(short_object)
    target = open_target(fake.url(**PATHS[path]), timeout=10, **KEYS)
    with target, pytest.raises(ConnectionFailed, match="during the transfer") as caught:
        target.download("a.csv", tmp_path / "a.csv")
    assert caught.value.transient
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(60)
def test_get_of_an_object_cut_short_exits_5(
    store: Callable[..., FakeStore], tmp_path: Path
) -> None:
    fake = store(short_object)
    url = fake.url(**KEYS).replace("/in?", "/in/a.csv?")
    done = entrepot("get", url, tmp_path / "a.csv", "--timeout", "10")
    assert done.returncode == 5, done.stderr
    assert "IncompleteReadError" not in done.stderr
    assert list(tmp_path.iterdir()) == []
