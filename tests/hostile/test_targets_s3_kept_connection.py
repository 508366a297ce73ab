"""The S3 direct path's kept-alive connection against a store that says more than it
announced: bytes after a response's ``Content-Length`` are never read as the reply
to the next request — the connection is closed, and the next request goes out on
a new one.

The store is the scripted fake of :mod:`tests.hostile.test_targets_s3_direct`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from entrepot.targets import open_target
from tests.hostile.test_targets_s3_direct import FakeStore, Handler

pytestmark = pytest.mark.server

SMUGGLED = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def listing(name: str) -> bytes:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        "<Name>bucket</Name><IsTruncated>false</IsTruncated>"
        f"<Contents><Key>in/{name}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
        "<Size>3</Size></Contents></ListBucketResult>"
    ).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def saying_more(pause: float) -> Handler:
    """Answer a listing, then (after ``pause`` seconds) an empty reply nobody asked for."""

    def send(conn: socket.socket, request: bytes) -> None:
        if pause:
            conn.sendall(listing("a.csv"))
            time.sleep(pause)
            conn.sendall(SMUGGLED)
        else:
            conn.sendall(listing("a.csv") + SMUGGLED)

    return send


@pytest.fixture
def stores() -> Iterator[list[FakeStore]]:
    started: list[FakeStore] = []
    yield started
    for store in started:
        store.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("pause", [0.0, 0.2], ids=["in one send", "a moment later"])
def test_bytes_after_a_response_close_the_connection(stores: list[FakeStore], pause: float) -> None:
    store = FakeStore(lambda number, request: saying_more(pause))
    stores.append(store)
    target = open_target(store.url(), timeout=10, access_key="AK", secret_key="SK")
    with target:
        for _ in range(3):
            time.sleep(2 * pause)  # the extra bytes are there before the next request
            assert [entry.name for entry in target.list()] == ["a.csv"]
    # The check on connecting and three listings, each on a connection of its own.
    assert store.connections == 4
    assert len(store.requests) == 4


@pytest.mark.timeout(60)
def test_a_response_of_the_length_it_announced_keeps_the_connection(
    stores: list[FakeStore],
) -> None:
    reply = listing("a.csv")

    def handle(number: int, request: bytes) -> Handler:
        return lambda conn, request: conn.sendall(reply)

    store = FakeStore(handle)
    stores.append(store)
    target = open_target(store.url(), timeout=10, access_key="AK", secret_key="SK")
    with target:
        for _ in range(3):
            assert [entry.name for entry in target.list()] == ["a.csv"]
    assert store.connections == 1
