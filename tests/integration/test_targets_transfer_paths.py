"""How the data itself travels: ``sendfile`` over plain FTP, block by block over TLS.

A regular file uploaded over plain FTP goes out with ``sendfile`` (the
kernel copies it); FTPS encrypts in this process, so it must fall back to
writing block by block, and so must a source without a file behind it
(``upload_bytes``).  Either way the content arrives intact and every block
is reported to the progress callback.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest

from entrepot.targets.transfer import send_stream

pytestmark = pytest.mark.server

SIZE = 3 * 1024 * 1024 + 123


@pytest.fixture
def sendfile_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The byte counts of every ``socket.sendfile`` call (they still run)."""
    calls: list[int] = []
    real = socket.socket.sendfile

    def sendfile(self: socket.socket, file: Any, offset: int = 0, count: int | None = None) -> int:
        sent = real(self, file, offset, count)
        calls.append(sent)
        return sent

    monkeypatch.setattr(socket.socket, "sendfile", sendfile)
    return calls


@pytest.fixture
def big_file(tmp_path: Path) -> tuple[Path, bytes]:
    data = os.urandom(SIZE)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    return path, data


@pytest.mark.parametrize(
    ("server", "kernel_copies"),
    [
        pytest.param("ftp_server", True, marks=pytest.mark.xdist_group("targets-ftp")),
        # TLS encrypts in this process: sendfile would send the file unencrypted.
        pytest.param("ftps_server", False, marks=pytest.mark.xdist_group("targets-ftps")),
    ],
)
def test_a_file_goes_out_with_sendfile_over_plain_ftp_only(
    server: str,
    kernel_copies: bool,
    request: pytest.FixtureRequest,
    big_file: tuple[Path, bytes],
    sendfile_calls: list[int],
) -> None:
    folder = request.getfixturevalue(server)
    path, data = big_file
    reported: list[int] = []
    with folder.open() as target:
        info = target.upload(path, "big.bin", progress=reported.append)
    assert info.size == SIZE
    assert (folder.root / "big.bin").read_bytes() == data
    assert sum(reported) == SIZE
    if kernel_copies:
        assert sum(sendfile_calls) == SIZE and len(sendfile_calls) > 1  # block by block
    else:
        assert sendfile_calls == []


@pytest.mark.xdist_group("targets-ftp")
def test_plain_ftp_sends_bytes_without_a_file_block_by_block(
    ftp_server: Any, sendfile_calls: list[int]
) -> None:
    with ftp_server.open() as target:
        target.upload_bytes(b"not a file" * 1000, "bytes.bin")
    assert (ftp_server.root / "bytes.bin").read_bytes() == b"not a file" * 1000
    assert sendfile_calls == []


def test_send_stream_sends_from_the_file_position_and_stops_at_its_end(tmp_path: Path) -> None:
    path = tmp_path / "short.bin"
    path.write_bytes(b"0123456789")
    left, right = socket.socketpair()
    with left, right, open(path, "rb") as src:
        left.settimeout(5)
        src.seek(3)
        reported: list[int] = []
        # Asked for more than the file holds past its position: sends what there is.
        sent = send_stream(left, src, size=20, blocksize=4, progress=reported.append)
        left.shutdown(socket.SHUT_WR)
        received = b"".join(iter(lambda: right.recv(100), b""))
    assert sent == 7 and received == b"3456789" and reported == [4, 3]
