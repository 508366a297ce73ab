"""One kept-alive HTTP/1.1 connection for the S3 fast path: a request out, a response in.

:mod:`http.client` parses every response's headers through the email
package, which costs more CPU than the rest of a small PUT together
(measured: 44 % of the time the shipping threads held the interpreter).
The fast path needs much less: send a request it built itself, read the
status line, the headers and a body delimited by ``Content-Length`` or
chunked coding.  :class:`KeptConnection` does that, strictly: a malformed
status line or header, a body that ends early, a length that is not
plain ASCII digits, a transfer coding other than ``chunked`` alone, or a
length beside a coding is an error and the connection is closed — it is
never guessed at.  A response without a length is read to the end of the
connection, which is then closed.  No body larger than :data:`MAX_BODY`
is read, however it is delimited.  Bytes waiting on a kept connection
when the next request is due went on past the last response's length:
the connection is closed rather than have them read as the next reply.

The socket has the target's timeout on every operation; :meth:`hang_up`
shuts it down from another thread (a call's deadline,
:mod:`entrepot.targets.deadline`), and for good: a connection hung up
never opens again, so nothing the call tries afterwards escapes its
deadline.
"""

from __future__ import annotations

import io
import select
import socket
import ssl
from dataclasses import dataclass
from typing import Any, BinaryIO

from entrepot.targets.deadline import hang_up
from entrepot.targets.transfer import BLOCK, Progress

__all__ = ["MAX_BODY", "BadResponse", "IdleClosed", "KeptConnection", "Response"]

#: Longest status or header line accepted, and most header lines.
_MAX_LINE = 64 * 1024
_MAX_HEADERS = 200
#: Largest response body read: the replies of this path are small XML
#: documents (errors, listing pages of at most 1000 keys) or empty.
MAX_BODY = 16 * 1024 * 1024
_CAP = f"{MAX_BODY >> 20} MiB"
#: Most digits in a Content-Length (a HEAD reply gives the object's size).
_MAX_DIGITS = 19


class BadResponse(ConnectionError):
    """The server's reply is not HTTP/1.x as expected; the connection is dropped."""


class IdleClosed(ConnectionError):
    """A kept-alive connection was closed by the server before a reply began."""


@dataclass(frozen=True)
class Response:
    """A complete response: its status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes
    #: The server closes the connection after this response.
    closes: bool


class KeptConnection:
    """One connection to ``host:port``, opened on first use and kept between requests."""

    def __init__(
        self, host: str, port: int, *, timeout: float, context: ssl.SSLContext | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.context = context
        self._sock: socket.socket | None = None
        self._raw: _Raw | None = None
        self._reader: io.BufferedReader | None = None
        #: Set by :meth:`hang_up`: no request is sent, and no connection opened, after it.
        self.hung_up = False

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def _open(self) -> tuple[socket.socket, io.BufferedReader]:
        if self.hung_up:
            # A new connection would be out of reach of the deadline that hung up.
            raise ConnectionAbortedError("the call ran out of time")
        if self._left_over():
            # Bytes before a request: the last response went on past its length,
            # and they would be read as this request's response.
            self.close()
        if self._sock is None or self._reader is None:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            try:
                # Small requests go out at once, not after the peer's delayed ACK.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self.context is not None:
                    sock = self.context.wrap_socket(sock, server_hostname=self.host)
            except BaseException:
                sock.close()
                raise
            raw = self._raw = _Raw(sock)
            self._sock, self._reader = sock, io.BufferedReader(raw)
        return self._sock, self._reader

    def _left_over(self) -> bool:
        """Whether bytes wait on the kept connection, read ahead by its buffered reader
        or arrived since the last response."""
        raw, reader = self._raw, self._reader
        if raw is None or reader is None:
            return False
        raw.peeking = True
        try:
            return bool(reader.peek(1))
        except OSError:
            return True  # broken: not to be used again either
        finally:
            raw.peeking = False

    def request(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        progress: Progress,
    ) -> Response:
        """Send one request and read its whole response.

        A body of one block or less goes out in one write with the head; a
        larger one block by block, each reported to ``progress``.  Raises
        :class:`IdleClosed` when a reused connection turns out closed before
        any reply (the caller may try again on a new one), :class:`BadResponse`
        for a reply that is not HTTP.  The connection is closed after any
        failure and after a response that says it closes.
        """
        sock, reader = self._open()
        lines = [f"{method} {target} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            if len(body) <= BLOCK:
                sock.sendall(head + body)
                progress(len(body))
            else:
                sock.sendall(head)
                view = memoryview(body)
                for start in range(0, len(body), BLOCK):
                    block = view[start : start + BLOCK]
                    sock.sendall(block)
                    progress(len(block))
            response = _read_response(reader, method)
        except BaseException:
            self.close()
            raise
        if response.closes:
            self.close()
        return response

    def close(self) -> None:
        sock, reader = self._sock, self._reader
        self._sock = self._reader = self._raw = None
        if reader is not None:
            reader.close()
        if sock is not None:
            sock.close()

    def hang_up(self) -> None:
        """Shut the connection down (from another thread), failing a request under way.

        For good: the connection is not opened again (make a new one).
        """
        self.hung_up = True
        hang_up(self._sock)


class _Raw(socket.SocketIO):
    """A socket's reader that, while :attr:`peeking`, answers "nothing yet" (None)
    rather than wait for bytes that are not there."""

    peeking = False

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock, "rb")
        self.sock = sock

    def readinto(self, buffer: Any) -> int | None:
        if self.peeking and not _waiting(self.sock):
            return None
        return super().readinto(buffer)


def _waiting(sock: socket.socket) -> bool:
    """Whether ``sock`` has bytes to read now (or its end)."""
    if isinstance(sock, ssl.SSLSocket):
        # Only what TLS has decrypted: a record on the wire may be no data at all
        # (a session ticket), and reading it would wait for more.
        return sock.pending() > 0
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _read_response(reader: BinaryIO, method: str) -> Response:
    while True:
        status_line = reader.readline(_MAX_LINE + 1)
        if not status_line:
            raise IdleClosed("the server closed the connection")
        version, status = _status(status_line)
        headers = _headers(reader)
        if not 100 <= status < 200:
            break
        # An interim reply (100 Continue): the real one follows.
    closes = "close" in headers.get("connection", "").lower()
    chunked, length = _framing(headers)
    if method == "HEAD" or status in (204, 304):
        body = b""  # a HEAD reply's length is the object's, not this reply's
    elif chunked:
        body = _chunked(reader)
    elif length is not None:
        if length > MAX_BODY:
            raise BadResponse(f"the response body ({length} bytes) is over {_CAP}")
        body = _exactly(reader, length)
    else:
        # Delimited by the end of the connection (which is then closed).
        body, closes = reader.read(MAX_BODY + 1), True
        if len(body) > MAX_BODY:
            raise BadResponse(f"the response body goes on past {_CAP}")
    return Response(status, headers, body, closes or version == "HTTP/1.0")


def _framing(headers: dict[str, str]) -> tuple[bool, int | None]:
    """Whether the body is chunked, and its ``Content-Length`` (None if not given).

    Chunked is the only transfer coding undone here, so it must be the only
    one; a length beside it, or a length not all ASCII digits, leaves the
    reply's end open to interpretation and is refused (RFC 9112, 6.1 and 6.3).
    """
    length_text = headers.get("content-length")
    length = None if length_text is None else _length(length_text)
    coding = headers.get("transfer-encoding")
    if coding is None:
        return False, length
    if coding.strip().lower() != "chunked":
        raise BadResponse(f"unsupported Transfer-Encoding {coding[:40]!r}")
    if length is not None:
        raise BadResponse("the response has both a Content-Length and a Transfer-Encoding")
    return True, None


def _status(line: bytes) -> tuple[str, int]:
    parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or len(line) > _MAX_LINE:
        raise BadResponse(f"not an HTTP status line: {line[:80]!r}")
    code = parts[1]
    if len(code) != 3 or not (code.isascii() and code.isdigit()):
        raise BadResponse(f"not an HTTP status: {code[:20]!r}")
    return parts[0], int(code)


def _headers(reader: BinaryIO) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(_MAX_HEADERS):
        line = reader.readline(_MAX_LINE + 1)
        if line in (b"\r\n", b"\n"):
            return headers
        if not line or len(line) > _MAX_LINE:
            raise BadResponse("the response's headers end early or are too long")
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon or not name or name != name.strip():
            raise BadResponse(f"not an HTTP header: {line[:80]!r}")
        key = name.lower()
        value = value.strip()
        # Repeated headers are one list (RFC 9110, 5.3).
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    raise BadResponse("too many headers in the response")


def _length(text: str) -> int:
    # ASCII digits only: str.isdigit() also passes "²", which int() then refuses.
    if not (text.isascii() and text.isdigit()) or len(text) > _MAX_DIGITS:
        raise BadResponse(f"bad Content-Length {text[:20]!r}")
    return int(text)


def _exactly(reader: BinaryIO, size: int) -> bytes:
    data = reader.read(size)
    if len(data) != size:
        raise BadResponse(f"the response body ended after {len(data)} of {size} bytes")
    return data


def _chunked(reader: BinaryIO) -> bytes:
    chunks = []
    total = 0
    while True:
        line = reader.readline(_MAX_LINE + 1)
        size_text = line.split(b";", 1)[0].strip()
        if not size_text or size_text.strip(b"0123456789abcdefABCDEF"):
            raise BadResponse(f"bad chunk size {line[:20]!r}")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > MAX_BODY:
            raise BadResponse(f"the response body's chunks add up to over {_CAP}")
        chunks.append(_exactly(reader, size))
        if reader.readline(3) not in (b"\r\n", b"\n"):
            raise BadResponse("a chunk does not end with a line break")
    _headers(reader)  # the trailer, if any, up to its blank line
    return b"".join(chunks)
