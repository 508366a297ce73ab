"""The S3 fast path's HTTP connection reads replies strictly and keeps the connection.

A scripted server on loopback answers each request with bytes chosen by the
test: lengths, chunked bodies, interim replies, closes — and replies that
are not HTTP, or end early, which must fail loudly rather than be guessed
at.  (Against a real store the fast path is exercised by the S3 contract
tests on SeaweedFS.)
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from entrepot.targets.s3_direct import DirectS3, DirectSettings
from entrepot.targets.s3_http import BadResponse, IdleClosed, KeptConnection
from tests.servers._common import read_http_request


@dataclass
class Scripted:
    """A server answering each request with the next of ``replies``.

    ``None`` closes the connection at once (the next reply goes to the next
    connection).  Every request received (head and body) is kept in
    ``received``.
    """

    replies: list[bytes | None]
    received: list[bytes] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        replies = list(self.replies)
        while replies:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn, conn.makefile("rb") as reader:
                while replies:
                    reply = replies.pop(0)
                    if reply is None:
                        break
                    request = read_http_request(reader)
                    if request is None:
                        break
                    self.received.append(request)
                    try:
                        conn.sendall(reply)
                    except OSError:  # the client gave up on a reply it refused
                        break

    def close(self) -> None:
        self.listener.close()


_opened: list[KeptConnection | DirectS3] = []


@pytest.fixture
def serve() -> Iterator[type[Scripted]]:
    servers: list[Scripted] = []

    class Tracked(Scripted):
        def __post_init__(self) -> None:
            super().__post_init__()
            servers.append(self)

    yield Tracked
    while _opened:
        _opened.pop().close()
    for server in servers:
        server.close()


def connect(server: Scripted) -> KeptConnection:
    """A connection to ``server``, closed when the test ends."""
    conn = KeptConnection("127.0.0.1", server.port, timeout=5)
    _opened.append(conn)
    return conn


OK = b'HTTP/1.1 200 OK\r\nETag: "abc"\r\nContent-Length: 0\r\n\r\n'


def test_replies_are_read_and_the_connection_is_kept(serve: type[Scripted]) -> None:
    server = serve(
        [OK, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Two: a\r\nX-Two: b\r\n\r\nhello"]
    )
    conn = connect(server)
    first = conn.request("PUT", "/b/k", {"Content-Length": "3"}, b"abc", lambda n: None)
    second = conn.request("GET", "/b/k", {}, b"", lambda n: None)
    assert (first.status, first.headers["etag"], first.body) == (200, '"abc"', b"")
    assert second.body == b"hello" and second.headers["x-two"] == "a, b"
    assert server.connections == 1 and conn.is_open
    assert server.received[0].startswith(b"PUT /b/k HTTP/1.1\r\n")
    assert server.received[0].endswith(b"\r\n\r\nabc")


def test_chunked_bodies_interim_replies_and_closing_replies(serve: type[Scripted]) -> None:
    chunked = (
        b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\n<Code\r\n7\r\n>NoSuch\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    server = serve([chunked, interim, closing])
    conn = connect(server)
    error = conn.request("GET", "/", {}, b"", lambda n: None)
    assert (error.status, error.body) == (404, b"<Code>NoSuch")
    assert conn.request("GET", "/", {}, b"", lambda n: None).body == b"ok"
    assert conn.request("GET", "/", {}, b"", lambda n: None).closes
    assert not conn.is_open


def test_a_reply_without_length_is_read_to_the_end(serve: type[Scripted]) -> None:
    server = serve([b"HTTP/1.0 500 Oops\r\n\r\nall of it", None])
    conn = connect(server)
    response = conn.request("GET", "/", {}, b"", lambda n: None)
    assert (response.status, response.body, response.closes) == (500, b"all of it", True)
    assert not conn.is_open


@pytest.mark.parametrize(
    "reply",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n",  # not HTTP at all
        b"HTTP/1.1 2000 OK\r\n\r\n",  # a status of four digits
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",  # then the line drops
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n",  # the headers never end
    ],
)
def test_a_reply_that_is_not_sound_http_fails_and_closes(
    serve: type[Scripted], reply: bytes
) -> None:
    server = serve([reply, None])
    conn = connect(server)
    with pytest.raises((BadResponse, IdleClosed)):
        conn.request("GET", "/", {}, b"", lambda n: None)
    assert not conn.is_open


def test_a_large_body_goes_block_by_block_and_is_reported(serve: type[Scripted]) -> None:
    body = bytes(range(256)) * (5 * 1024 * 4 + 1)  # 5 MiB and a bit
    server = serve([OK])
    reported: list[int] = []
    response = connect(server).request(
        "PUT", "/b/k", {"Content-Length": str(len(body))}, body, reported.append
    )
    assert response.status == 200
    assert server.received[0].endswith(body)
    assert sum(reported) == len(body) and len(reported) > 1


def test_a_put_is_sent_again_once_when_an_idle_connection_was_closed(
    serve: type[Scripted],
) -> None:
    # The store answered the first PUT, then closed the kept connection while idle.
    server = serve([OK, None, OK])
    settings = DirectSettings(f"http://127.0.0.1:{server.port}", "bucket")
    put = DirectS3(lambda: ("key", "secret", None), "us-east-1", settings)
    _opened.append(put)
    assert put.put("a.csv", b"1", lambda n: None) == '"abc"'
    assert put.put("b.csv", b"2", lambda n: None) == '"abc"'
    assert server.connections == 2
    # The request sent into the closed connection never arrived; the second try did.
    assert [request.split(b" ")[1] for request in server.received] == [
        b"/bucket/a.csv",
        b"/bucket/b.csv",
    ]


def test_a_connection_hung_up_never_opens_again(serve: type[Scripted]) -> None:
    # A call's deadline hung up: whatever the call tries next must not reach the server.
    server = serve([OK, OK])
    conn = connect(server)
    conn.request("GET", "/", {}, b"", lambda n: None)
    conn.hang_up()
    with pytest.raises(ConnectionError):
        conn.request("GET", "/", {}, b"", lambda n: None)
    conn.close()
    with pytest.raises(ConnectionAbortedError):
        conn.request("GET", "/", {}, b"", lambda n: None)
    assert server.connections == 1 and len(server.received) == 1


HOSTILE_REPLIES = {
    # A chunk size the reader would try to allocate, or cannot even pass to read().
    "chunk of 40 GB": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40000000000\r\n",
    "chunk of 2**64-1": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"f" * 16
    + b"\r\n",
    # Each chunk, and each length, within the cap; all of them together not.
    "chunks over the cap": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    + (b"800000\r\n" + b"x" * 0x800000 + b"\r\n") * 2
    + b"1\r\nx\r\n0\r\n\r\n",
    "length over the cap": b"HTTP/1.1 200 OK\r\nContent-Length: 16777217\r\n\r\n" + b"x" * 16777217,
    "length of 20 digits": b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
    # Digits to str.isdigit, not to int().
    "superscript length": "HTTP/1.1 200 OK\r\nContent-Length: ²\r\n\r\n".encode("latin-1"),
    "signed length": b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
    "two lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    # Codings we do not undo: the body would be taken as it came.
    "gzip then chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
    b"5\r\nhello\r\n0\r\n\r\n",
    "chunked then gzip": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
    b"5\r\nhello\r\n0\r\n\r\n",
    "a coding named like chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n"
    b"5\r\nhello\r\n0\r\n\r\n",
    # Two framings at once: which one a proxy on the way believed is anyone's guess.
    "length and chunked": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("reply", HOSTILE_REPLIES.values(), ids=HOSTILE_REPLIES.keys())
def test_a_hostile_reply_is_a_bad_response(serve: type[Scripted], reply: bytes) -> None:
    server = serve([reply, None])
    conn = connect(server)
    with pytest.raises(BadResponse):
        conn.request("GET", "/", {}, b"", lambda n: None)
    assert not conn.is_open


def test_a_reply_without_length_is_read_up_to_the_cap(serve: type[Scripted]) -> None:
    # Delimited by the end of the connection, but never read into memory without end.
    reply = b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * (16 * 1024 * 1024 + 1)
    server = serve([reply, None])
    conn = connect(server)
    with pytest.raises(BadResponse, match="16 MiB"):
        conn.request("GET", "/", {}, b"", lambda n: None)
    assert not conn.is_open


def test_a_head_reply_may_give_any_length_but_only_in_digits(serve: type[Scripted]) -> None:
    large = b"HTTP/1.1 200 OK\r\nContent-Length: 5000000000000\r\n\r\n"
    odd = "HTTP/1.1 200 OK\r\nContent-Length: ²\r\n\r\n".encode("latin-1")
    server = serve([large, odd, None])
    conn = connect(server)
    # The size of the object, not of this reply's body (which a HEAD reply has not).
    assert conn.request("HEAD", "/k", {}, b"", lambda n: None).headers["content-length"] == (
        "5000000000000"
    )
    with pytest.raises(BadResponse):
        conn.request("HEAD", "/k", {}, b"", lambda n: None)
