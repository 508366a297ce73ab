"""Servers whose replies are broken: sizes that are not numbers, bytes that are not text,
a hang-up in the middle of a download.

A listing entry whose size is not a count of bytes (``abc``, ``-7``, a digit
that is not ASCII, more digits than a number can be read from) is left out
of the listing and logged (``targets.entry_skipped``), as a made-up name is:
the rest of the listing, and so a ``fetch``, goes on.  A reply that is not
UTF-8 text, or a connection closed before a transfer's final reply, is a
connection failure in the library's own words (exit 5), never an
interpreter error's name.

The FTP servers here are small scripted fakes on loopback; the S3 store is
the scripted fake of :mod:`tests.hostile.test_targets_s3_direct`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from entrepot.errors import ConnectionFailed
from entrepot.targets import open_target
from tests.hostile._targets import entrepot
from tests.hostile.test_targets_s3_direct import FakeStore, Handler, answer

pytestmark = pytest.mark.server

#: Sizes no file has: each entry holding one is left out of its listing.
UNUSABLE_SIZES = ["abc", "-7", "\u0665", "9" * 5000]


class ScriptedFTP:
    """An FTP server on loopback that answers as told: its greeting, its ``FEAT``, its
    listings, and what it does on ``RETR`` (given the data and the control sockets)."""

    def __init__(
        self,
        *,
        greeting: bytes = b"220 ready\r\n",
        mlsd: bool = True,
        listing: list[str] | None = None,
        facts: str = "type=file;size=5;modify=20240101000000;",
        retr: Callable[[socket.socket, socket.socket], None] | None = None,
    ) -> None:
        self.greeting = greeting
        self.mlsd = mlsd
        self.listing = listing or []
        self.facts = facts
        self.retr = retr
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "") -> str:
        return f"ftp://u@127.0.0.1:{self.port}/{path}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as reader, contextlib.suppress(OSError):
            conn.sendall(self.greeting)
            passive: socket.socket | None = None
            while line := reader.readline():
                verb, _, arg = line.decode("latin-1").strip().partition(" ")
                verb = verb.upper()
                if verb == "PASV":
                    passive = socket.create_server(("127.0.0.1", 0))
                    port = passive.getsockname()[1]
                    conn.sendall(b"227 Passive (127,0,0,1,%d,%d)\r\n" % (port >> 8, port & 255))
                elif verb in {"MLSD", "LIST", "RETR"} and passive is not None:
                    conn.sendall(b"150 here it comes\r\n")
                    data, _ = passive.accept()
                    passive.close()
                    if verb == "RETR" and self.retr is not None:
                        self.retr(data, conn)
                        return
                    with data:
                        data.sendall("".join(f"{x}\r\n" for x in self.listing).encode())
                    conn.sendall(b"226 done\r\n")
                elif verb == "QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(self._reply(verb, arg))

    def _reply(self, verb: str, arg: str) -> bytes:
        features = " MLST type*;size*;modify*;\r\n MLSD\r\n" if self.mlsd else ""
        replies = {
            "USER": "331 password please",
            "PASS": "230 logged in",
            "TYPE": "200 binary",
            "FEAT": f"211-features\r\n{features} SIZE\r\n211 end",
            "PWD": '257 "/" is the folder',
            "CWD": "250 there",
            "SIZE": "213 5",
            "MLST": f"250-facts\r\n {self.facts} {arg}\r\n250 end",
        }
        return (replies.get(verb, "502 not here") + "\r\n").encode()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def scripted_ftp() -> Iterator[Callable[..., ScriptedFTP]]:
    servers: list[ScriptedFTP] = []

    def start(**script: object) -> ScriptedFTP:
        server = ScriptedFTP(**script)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _skipped(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.message for r in caplog.records if r.message.startswith("targets.entry_skipped")]


# -- sizes that are not a count of bytes --------------------------------------------------


@pytest.mark.timeout(60)
def test_an_mlsd_entry_whose_size_is_not_a_number_is_left_out_and_logged(
    scripted_ftp: Callable[..., ScriptedFTP], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    stamp = "modify=20240101000000"
    listing = [f"type=file;size=5;{stamp}; ok.csv"]
    listing += [
        f"type=file;size={size};{stamp}; bad{n}.csv" for n, size in enumerate(UNUSABLE_SIZES)
    ]
    server = scripted_ftp(listing=listing)
    with open_target(server.url(), timeout=10) as target:
        assert [(e.name, e.size) for e in target.list()] == [("ok.csv", 5)]
    skipped = _skipped(caplog)
    assert len(skipped) == len(UNUSABLE_SIZES)
    assert all("is not a count of bytes" in message for message in skipped)
    # The command lists the rest, and says nothing of ValueError.
    done = entrepot("ls", server.url(), "--timeout", "10")
    assert done.returncode == 0, done.stderr
    assert "ok.csv" in done.stdout and "bad" not in done.stdout
    assert "Error" not in done.stderr


@pytest.mark.timeout(60)
def test_a_list_line_whose_size_no_number_holds_is_left_out(
    scripted_ftp: Callable[..., ScriptedFTP], caplog: pytest.LogCaptureFixture
) -> None:
    line = "-rw-r--r--   1 u g {size} Jan  1 00:00 {name}"
    listing = [line.format(size=5, name="ok.csv"), line.format(size="9" * 5000, name="huge.csv")]
    server = scripted_ftp(mlsd=False, listing=listing)
    with open_target(server.url(), timeout=10) as target:
        assert [(e.name, e.size) for e in target.list()] == [("ok.csv", 5)]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("size", ["abc", "-7"])
def test_a_stat_whose_size_is_not_a_number_is_a_connection_failure(
    scripted_ftp: Callable[..., ScriptedFTP], size: str
) -> None:
    server = scripted_ftp(facts=f"type=file;size={size};modify=20240101000000;")
    target = open_target(server.url(), timeout=10)
    with target, pytest.raises(ConnectionFailed, match="is not a count of bytes") as caught:
        target.stat("a.csv")
    assert "ValueError" not in str(caught.value)


@pytest.mark.timeout(60)
def test_an_s3_listing_entry_whose_size_is_not_a_number_is_left_out_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    contents = "".join(
        f"<Contents><Key>in/{name}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
        f"<ETag>&quot;x&quot;</ETag><Size>{size}</Size></Contents>"
        for name, size in [
            ("ok.csv", "5"),
            *((f"bad{n}.csv", s) for n, s in enumerate(UNUSABLE_SIZES)),
        ]
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Name>bucket</Name><IsTruncated>false</IsTruncated>{contents}</ListBucketResult>"
    ).encode()
    listing = answer(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    def handle(number: int, request: bytes) -> Handler:
        return listing

    store = FakeStore(handle)
    try:
        target = open_target(store.url(), timeout=10, access_key="AK", secret_key="SK")
        with target:
            assert [(e.name, e.size) for e in target.list()] == [("ok.csv", 5)]
    finally:
        store.close()
    assert len(_skipped(caplog)) == len(UNUSABLE_SIZES)


# -- replies that are not text, a hang-up during a transfer ------------------------------


@pytest.mark.timeout(60)
def test_a_reply_that_is_not_utf8_is_a_connection_failure(
    scripted_ftp: Callable[..., ScriptedFTP],
) -> None:
    server = scripted_ftp(greeting=b"\x00\xffHELLO garbage\r\n")
    done = entrepot("ls", server.url(), "--timeout", "10")
    assert done.returncode == 5, done.stderr
    assert "not UTF-8 text" in done.stderr
    assert "UnicodeDecodeError" not in done.stderr


def _hang_up_after_two_bytes(data: socket.socket, control: socket.socket) -> None:
    with data:
        data.sendall(b"ab")
    control.close()


@pytest.mark.timeout(60)
def test_a_server_that_hangs_up_during_a_download_is_told_as_such(
    scripted_ftp: Callable[..., ScriptedFTP], tmp_path: Path
) -> None:
    server = scripted_ftp(retr=_hang_up_after_two_bytes)
    done = entrepot("get", server.url("ok.csv"), tmp_path / "got.csv", "--timeout", "10")
    assert done.returncode == 5, done.stderr
    assert "the server closed the connection during the transfer" in done.stderr
    assert "connection failed:  " not in done.stderr
    assert list(tmp_path.iterdir()) == []
