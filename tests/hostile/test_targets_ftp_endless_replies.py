"""FTP peers that never stop talking: endless replies and listings are cut off, memory bounded.

An endless ``MLSD`` listing was never cut off: every 64 KiB received renewed
the deadline and every line stayed in memory, until the process died of
``MemoryError`` (exit 1) — ``--timeout 5`` ran for half a minute.  An
endless multi-line reply (a ``220-`` greeting, a ``FEAT``) was cut at the
deadline, but took gigabytes first (``ftplib`` keeps every line of a
multi-line reply).  A reply line over 8192 characters ended as
``Error: got more than 8192 bytes``, exit 1.

Now a reply holds at most 1 MiB, a listing at most 1,000,000 entries and
256 MiB (64 KiB waiting for a line's end); past a limit the command fails
with a ``ConnectionFailed`` naming it (exit 5), under a memory ceiling the
old client went through.  The peers are written here, on loopback; the
command runs as users run it, in a process of its own capped at 1 GiB of
address space.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from entrepot.targets import ftp_lines
from entrepot.targets.ftp_lines import OverLimit, read_listing
from tests.hostile._targets import ROOT
from tests.hostile.test_targets_broken_replies import ScriptedFTP

pytestmark = pytest.mark.server

#: The address space the command may use, in KiB (``ulimit -v``).
MEMORY_CEILING = 1024 * 1024


class EndlessFTP(ScriptedFTP):
    """An FTP server on loopback that never ends one thing: ``mode`` says which.

    ``greeting`` and ``feat``: a multi-line reply without its last line;
    ``long_line``: a greeting line of 100,000 characters; ``entries``: an
    ``MLSD`` of endless short entries; ``no_line_end``: an ``MLSD`` of one
    line without end.  Everything else is answered at once, ``QUIT`` too.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        super().__init__()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as reader, contextlib.suppress(OSError):
            if self.mode == "greeting":
                self._forever(conn, b"220-" + b"x" * 1000 + b"\r\n")
            if self.mode == "long_line":
                conn.sendall(b"220 " + b"x" * 100_000 + b"\r\n")
            conn.sendall(b"220 ready\r\n")
            passive: socket.socket | None = None
            while line := reader.readline():
                verb = line.decode("latin-1").strip().partition(" ")[0].upper()
                if verb == "FEAT" and self.mode == "feat":
                    conn.sendall(b"211-features\r\n")
                    self._forever(conn, b" X" + b"y" * 1000 + b"\r\n")
                elif verb == "FEAT":
                    conn.sendall(b"211-features\r\n MLST type*;size*;\r\n MLSD\r\n211 end\r\n")
                elif verb == "PASV":
                    passive = socket.create_server(("127.0.0.1", 0))
                    port = passive.getsockname()[1]
                    conn.sendall(b"227 Passive (127,0,0,1,%d,%d)\r\n" % (port >> 8, port & 255))
                elif verb == "MLSD" and passive is not None:
                    conn.sendall(b"150 here it comes, for ever\r\n")
                    data, _ = passive.accept()
                    passive.close()
                    threading.Thread(target=self._stream, args=(data,), daemon=True).start()
                elif verb == "QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    replies = {"USER": b"331 password", "PWD": b'257 "/"', "PASS": b"230 in"}
                    conn.sendall(replies.get(verb, b"200 fine") + b"\r\n")

    def _stream(self, data: socket.socket) -> None:
        if self.mode == "no_line_end":
            block = b"n" * 65536
        else:
            block = b"type=file;size=5; a.csv\r\n" * 4000
        with data, contextlib.suppress(OSError):
            self._forever(data, block)

    @staticmethod
    def _forever(sock: socket.socket, block: bytes) -> None:
        while True:
            sock.sendall(block)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def endless_ftp() -> Iterator[Callable[[str], EndlessFTP]]:
    servers: list[EndlessFTP] = []

    def start(mode: str) -> EndlessFTP:
        servers.append(EndlessFTP(mode))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def entrepot_capped(*args: object) -> subprocess.CompletedProcess[str]:
    """``entrepot ARGS`` in its own process, its address space capped at :data:`MEMORY_CEILING`."""
    capped = f'ulimit -v {MEMORY_CEILING} && exec "$0" "$@"'
    return subprocess.run(
        ["/bin/sh", "-c", capped, sys.executable, "-m", "entrepot", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("greeting", "the server sent a reply over 1 MiB"),
        ("feat", "the server sent a reply over 1 MiB"),
        ("long_line", "the server sent a reply line over 8192 characters"),
        ("entries", "the server sent a listing over 1,000,000 entries"),
        ("no_line_end", "the server sent a listing line over 64 KiB"),
    ],
)
def test_a_peer_that_never_stops_is_cut_off_with_the_limit_named(
    endless_ftp: Callable[[str], EndlessFTP], mode: str, said: str
) -> None:
    server = endless_ftp(mode)
    started = time.monotonic()
    done = entrepot_capped("ls", server.url(), "--timeout", "5")
    assert done.returncode == 5, done.stderr
    assert said in done.stderr
    assert "MemoryError" not in done.stderr and "Error: got more" not in done.stderr
    # Cut by the limit, not by a deadline that data keeps renewing.
    assert time.monotonic() - started < 60


def test_a_listing_over_its_bytes_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bytes limit, made small here: whole lines, each under the entries limit."""
    monkeypatch.setattr(ftp_lines, "MAX_LISTING_BYTES", 2 * 1024 * 1024)
    blocks = iter([b"type=file;size=5; a.csv\r\n" * 4000] * 100)  # 10 MiB in all
    with pytest.raises(OverLimit, match="a listing over 2 MiB"):
        read_listing(lambda n: next(blocks, b""), lambda n: None, 65536)
