"""The S3 direct path against stores that stall, drip or answer with hostile replies.

Issue 10 items covered here, for the direct path
(:mod:`entrepot.targets.s3_direct`, its own HTTP/1.1 connection):

* 15 — a call whose deadline fired is not sent again on a new connection
  (where no deadline would cut a dripping store off): the whole call ends
  within its deadline, as a temporary error;
* hostile replies (sizes too large or not numbers, codings we do not
  speak, a length beside a coding) are a clear target error — never a
  ``MemoryError``, ``OverflowError`` or ``ValueError`` — and nothing
  unbounded is read into memory.

The store here is a small fake on loopback, scripted per request.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from entrepot.errors import ConnectionFailed, TargetTimeout
from entrepot.targets import open_target
from tests.servers._common import read_http_request

pytestmark = pytest.mark.server

#: What the fake store does with one request: answer it on the connection, or not.
Handler = Callable[[socket.socket, bytes], None]

EMPTY_LISTING = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Name>bucket</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
    b"</ListBucketResult>"
)
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


class FakeStore:
    """A loopback server that hands each request to ``handle(connection_number, request)``."""

    def __init__(self, handle: Callable[[int, bytes], Handler]) -> None:
        self.handle = handle
        self.requests: list[tuple[int, bytes]] = []
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            number = self.connections
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        with conn, conn.makefile("rb") as reader, contextlib.suppress(OSError):
            while not self.stop.is_set():
                request = read_http_request(reader)
                if request is None:
                    return
                self.requests.append((number, request))
                self.handle(number, request)(conn, request)

    def url(self, **options: object) -> str:
        query = "".join(f"&{name}={value}" for name, value in options.items())
        return f"s3://bucket/in?endpoint_url=http://127.0.0.1:{self.port}&region=us-east-1{query}"

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.fixture
def fake_store() -> Iterator[Callable[[Callable[[int, bytes], Handler]], FakeStore]]:
    stores: list[FakeStore] = []

    def start(handle: Callable[[int, bytes], Handler]) -> FakeStore:
        store = FakeStore(handle)
        stores.append(store)
        return store

    yield start
    for store in stores:
        store.close()


def answer(reply: bytes) -> Handler:
    """Send ``reply`` at once."""

    def send(conn: socket.socket, request: bytes) -> None:
        conn.sendall(reply)

    return send


def stall(conn: socket.socket, request: bytes) -> None:
    """Answer nothing until the client hangs up."""
    with contextlib.suppress(OSError):
        while conn.recv(1024):
            pass


def drip(reply: bytes, every: float) -> Handler:
    """Send ``reply`` one byte every ``every`` seconds (each inside any read timeout)."""

    def send(conn: socket.socket, request: bytes) -> None:
        for byte in reply:
            time.sleep(every)
            conn.sendall(bytes([byte]))

    return send


def listing_then(
    put: Callable[[int], Handler], head: Handler | None = None
) -> Callable[[int, bytes], Handler]:
    """Answer listings with an empty page, HEADs with ``head``, PUTs with ``put(connection)``."""

    def handle(number: int, request: bytes) -> Handler:
        if request.startswith(b"GET "):
            reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(EMPTY_LISTING)
            return answer(reply + EMPTY_LISTING)
        if request.startswith(b"HEAD "):
            return head or answer(NOT_FOUND)
        return put(number)

    return handle


# -- a call whose deadline fired ---------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_put_cut_off_by_its_deadline_is_not_sent_again(
    fake_store: Callable[[Callable[[int, bytes], Handler]], FakeStore],
) -> None:
    # The PUT on the kept connection stalls; were it sent again on a new one,
    # a reply dripped a byte every 0.3 s would hold the call ~20 s more.
    ok = b"HTTP/1.1 200 OK\r\nX-Amz-Request-Id: 0123456789\r\nContent-Length: 0\r\n\r\n"
    store = fake_store(listing_then(lambda number: stall if number == 1 else drip(ok, 0.3)))
    timeout = 2.5
    target = open_target(store.url(), timeout=timeout, access_key="AK", secret_key="SK")
    started = time.monotonic()
    with target, pytest.raises(TargetTimeout) as caught:
        target.upload_bytes(b"1", "a.csv")
    assert time.monotonic() - started < 3 * timeout
    # Cut off by the deadline or by the read timeout (both 2.5 s): exit 5, try again later.
    assert caught.value.transient
    puts = [number for number, request in store.requests if request.startswith(b"PUT ")]
    assert puts == [1]


# -- hostile replies ----------------------------------------------------------------------

HOSTILE_PUT_REPLIES = {
    "chunk of 40 GB": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40000000000\r\n",
    "chunk of 2**64-1": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"f" * 16
    + b"\r\n",
    "superscript length": "HTTP/1.1 200 OK\r\nContent-Length: ²\r\n\r\n".encode("latin-1"),
    "superscript status": "HTTP/1.1 ²²² OK\r\nContent-Length: 0\r\n\r\n".encode("latin-1"),
    "gzip then chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "length and chunked": b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "no length, no end": b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * (17 * 1024 * 1024),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("reply", HOSTILE_PUT_REPLIES.values(), ids=HOSTILE_PUT_REPLIES.keys())
def test_a_hostile_reply_to_a_put_is_a_connection_failure(
    fake_store: Callable[[Callable[[int, bytes], Handler]], FakeStore], reply: bytes
) -> None:
    store = fake_store(listing_then(lambda number: answer(reply)))
    target = open_target(store.url(), timeout=10, access_key="AK", secret_key="SK")
    with target, pytest.raises(ConnectionFailed) as caught:
        target.upload_bytes(b"1", "a.csv")
    assert caught.value.transient  # exit 5, like any reply that is not sound HTTP
    # The library's own words, not an interpreter error's.
    assert "Error" not in str(caught.value)


HOSTILE_HEAD_REPLIES = {
    "no date": b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n",
    "no size": b"HTTP/1.1 200 OK\r\nLast-Modified: Sat, 05 Dec 2026 09:00:00 GMT\r\n\r\n",
    "a date that is not one": b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
    b"Last-Modified: yesterday\r\n\r\n",
}


@pytest.mark.parametrize("reply", HOSTILE_HEAD_REPLIES.values(), ids=HOSTILE_HEAD_REPLIES.keys())
def test_a_hostile_reply_to_a_head_is_a_connection_failure(
    fake_store: Callable[[Callable[[int, bytes], Handler]], FakeStore], reply: bytes
) -> None:
    store = fake_store(listing_then(lambda number: stall, head=answer(reply)))
    target = open_target(store.url(), timeout=10, access_key="AK", secret_key="SK")
    with target, pytest.raises(ConnectionFailed, match="HEAD reply lacks a size or a date"):
        target.stat("a.csv")
