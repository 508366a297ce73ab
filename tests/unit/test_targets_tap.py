"""The checksum an upload's own reads give (:mod:`entrepot.targets.tap`)."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import socket
import threading
from pathlib import Path

import pytest

from entrepot.targets import open_target
from entrepot.targets import tap as tap_module
from entrepot.targets.tap import WHOLE, Tap, read_hashed, sent_past
from entrepot.targets.transfer import copy_stream, send_stream

DATA = os.urandom(3 * WHOLE + 123)  # read through the tap, past the size hashed in pieces
SUM = "sha256:" + hashlib.sha256(DATA).hexdigest()


def _file(tmp_path: Path, data: bytes = DATA) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    return path


def test_reads_in_order_give_the_checksum_of_the_whole_file(tmp_path: Path) -> None:
    for block in (1, 1000, 2047, 2048, 4096, 65536, 1 << 20):
        tap = Tap(len(DATA))
        with open(_file(tmp_path), "rb") as src:
            copied = copy_stream(tap.wrap(src).read, lambda _: None, blocksize=block)
        assert copied == len(DATA)
        assert tap.checksum() == SUM, block


class _Untold(io.BytesIO):
    """A stream that may not be asked where it is (a system call on a file)."""

    def tell(self) -> int:
        raise AssertionError("asked for its position")


def test_a_position_given_spares_asking_the_stream_for_it() -> None:
    tap = Tap(len(DATA))
    assert copy_stream(tap.wrap(_Untold(DATA), 0).read, lambda _: None) == len(DATA)
    assert tap.checksum() == SUM


def test_readinto_and_read_to_the_end_are_hashed_too(tmp_path: Path) -> None:
    tap = Tap(len(DATA))
    with open(_file(tmp_path), "rb") as src:
        stream = tap.wrap(src)
        buffer = bytearray(5000)
        assert stream.readinto(buffer) == 5000
        assert stream.read() == DATA[5000:]
    assert tap.checksum() == SUM


def test_a_file_read_again_from_its_start_is_hashed_once(tmp_path: Path) -> None:
    tap = Tap(len(DATA))
    with open(_file(tmp_path), "rb") as src:
        stream = tap.wrap(src)
        stream.read(70000)  # a backend's own checksum, or a first try cut short
        stream.seek(0)
        assert stream.read() == DATA
    assert tap.checksum() == SUM


def test_a_read_of_a_whole_pass_comes_with_the_tap_s_hash_of_it(tmp_path: Path) -> None:
    """What S3 signs a request with: the tap's hash of the body, not a second pass."""
    tap = Tap(len(DATA))
    with open(_file(tmp_path), "rb") as src:
        stream = tap.wrap(src, 0)
        stream.seek(0)  # an upload seeks to its start first: nothing is hashed again
        body, sha256 = read_hashed(stream, len(DATA))
        assert body == DATA and sha256 == hashlib.sha256(DATA).hexdigest()
        stream.seek(0)  # a retry: a new pass
        assert read_hashed(stream, 1000) == (DATA[:1000], hashlib.sha256(DATA[:1000]).hexdigest())
        # Not from the start of a pass: the tap's hash covers more than the body.
        assert read_hashed(stream, 1000) == (DATA[1000:2000], None)
        assert read_hashed(src, 10) == (DATA[2000:2010], None)  # no tap
    assert read_hashed(io.BytesIO(b"plain"), 5) == (b"plain", None)


def test_a_partial_read_gives_no_checksum(tmp_path: Path) -> None:
    tap = Tap(len(DATA))
    with open(_file(tmp_path), "rb") as src:
        tap.wrap(src).read(len(DATA) - 1)
    assert tap.checksum() is None


def test_a_read_that_skipped_bytes_gives_no_checksum_until_read_again_from_the_start(
    tmp_path: Path,
) -> None:
    tap = Tap(len(DATA))
    with open(_file(tmp_path), "rb") as src:
        stream = tap.wrap(src)
        stream.read(100)
        stream.seek(200)
        stream.read()
        assert tap.checksum() is None
        stream.seek(0, io.SEEK_SET)
        stream.read()
    assert tap.checksum() == SUM


def test_a_file_longer_than_told_gives_no_checksum(tmp_path: Path) -> None:
    tap = Tap(len(DATA) - 10)  # grew after its size was taken
    with open(_file(tmp_path), "rb") as src:
        tap.wrap(src).read()
    assert tap.checksum() is None


def _send_file(path: Path, tap: Tap) -> int:
    """``sendfile`` (plain FTP) of ``path`` read through ``tap`` down a socket pair."""
    left, right = socket.socketpair()
    received = bytearray()

    def drain() -> None:
        while chunk := right.recv(65536):
            received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        with open(path, "rb") as src:
            sent = send_stream(left, tap.wrap(src), size=len(DATA), blocksize=65536,
                               progress=lambda _: None)  # fmt: skip
    finally:
        left.close()
        reader.join()
        right.close()
    assert sent == len(DATA) and bytes(received) == DATA
    return sent


def test_bytes_the_kernel_sends_are_hashed_by_reading_them_beside(tmp_path: Path) -> None:
    """``sendfile``: nothing passes through the tap; the file is read beside the transfer."""
    tap = Tap(len(DATA))
    _send_file(_file(tmp_path), tap)
    assert tap.checksum() == SUM


def test_a_stream_without_a_tap_is_told_nothing(tmp_path: Path) -> None:
    with open(_file(tmp_path), "rb") as src:
        sent_past(src, 0, len(DATA))(len(DATA))  # no tap: nothing read beside
        assert src.tell() == 0


def test_bytes_the_kernel_sends_with_every_hasher_taken_give_no_checksum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tap_module, "hasher_for", lambda digest: None)
    tap = Tap(len(DATA))
    _send_file(_file(tmp_path), tap)
    assert tap.checksum() is None  # the caller reads the file for it


def test_a_sendfile_that_falls_back_on_reads_hashes_each_byte_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the kernel refuses ``sendfile``, Python's socket reads the file and sends
    it: through the tap's stream, which must not hash again what is read beside."""

    def refused(*args: object) -> int:
        raise OSError(errno.EINVAL, "sendfile refused")

    monkeypatch.setattr(os, "sendfile", refused)
    tap = Tap(len(DATA))
    _send_file(_file(tmp_path), tap)
    assert tap.checksum() == SUM


def test_a_file_shorter_than_what_was_read_beside_gives_no_checksum(tmp_path: Path) -> None:
    path = _file(tmp_path)
    tap = Tap(len(DATA))
    with open(path, "rb") as src:
        stream = tap.wrap(src)
        sent_past(stream, 0, len(DATA) + 100)(len(DATA))  # told more than the file holds
    assert tap.checksum() is None


def test_an_upload_to_a_folder_hashes_what_it_writes(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    tap = Tap(len(DATA))
    with open_target(drop.as_uri()) as target:
        info = target.upload(_file(tmp_path), "out.bin", tap=tap)
    assert info.size == len(DATA) and (drop / "out.bin").read_bytes() == DATA
    assert tap.checksum() == SUM


def test_an_empty_file_has_the_checksum_of_nothing(tmp_path: Path) -> None:
    tap = Tap(0)
    drop = tmp_path / "drop"
    drop.mkdir()
    with open_target(drop.as_uri()) as target:
        target.upload(_file(tmp_path, b""), "empty.bin", tap=tap)
    assert tap.checksum() == "sha256:" + hashlib.sha256(b"").hexdigest()


def test_a_whole_pass_counts_even_if_a_later_one_stops_short(tmp_path: Path) -> None:
    """An upload, then its verification: back to the start, read again (or not at all)."""
    tap = Tap(len(DATA))
    with open(_file(tmp_path), "rb") as src:
        stream = tap.wrap(src)
        stream.read()
        stream.seek(0)
        stream.read(10)
        stream.seek(0)
    assert tap.checksum() == SUM


def test_a_claim_s_checksum_is_the_tap_s_else_read_except_when_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy as sa

    from entrepot.provenance import Recorder
    from entrepot.ship import trail as trails

    reads: list[object] = []
    real = trails.sha256_of
    monkeypatch.setattr(
        trails, "sha256_of", lambda src, size=None: reads.append(src) or real(src, size)
    )
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    path = _file(tmp_path)
    with Recorder(engine) as recorder, open(path, "rb") as src:
        trail = trails.Trail("/srv/out", "file:///drop", recorder)
        whole = trail.claimed("data.bin", len(DATA))
        assert whole is not None and whole.tap is not None and whole.checksum is None
        with open(path, "rb") as upload:
            whole.tap.wrap(upload).read()
        assert trail.summed(whole, src) == (len(DATA), SUM, whole.at, whole.attempt, None)
        assert reads == []  # taken from the upload's reads
        cut = trail.claimed("data.bin", len(DATA))
        assert cut is not None and cut.tap is not None
        with open(path, "rb") as upload:
            cut.tap.wrap(upload).read(1000)  # a transfer cut short
        summed = trail.summed(cut, src, read=False)  # stopped: not read
        assert summed is not None and summed.checksum is None and reads == []
        summed = trail.summed(cut, src)  # failed: read for it
        assert summed is not None and summed.checksum == SUM and len(reads) == 1
    engine.dispose()


SMALL = os.urandom(4096)  # at most WHOLE: read whole by the tap
SMALL_SUM = "sha256:" + hashlib.sha256(SMALL).hexdigest()


def test_a_small_file_is_read_whole_once_and_sent_from_memory(tmp_path: Path) -> None:
    tap = Tap(len(SMALL))
    with open(_file(tmp_path, SMALL), "rb") as src:
        stream = tap.wrap(src, 0)
        assert src.tell() == len(SMALL)  # read whole at once
    # The file is closed: every read of the upload comes from the bytes held.
    assert tap.checksum() == SMALL_SUM
    assert stream.read(1000) == SMALL[:1000]
    stream.seek(0)  # a retry sends the same bytes; the checksum stands
    assert stream.read() == SMALL
    assert tap.checksum() == SMALL_SUM
    with pytest.raises(io.UnsupportedOperation):
        stream.fileno()  # so sendfile never reads past the tap


def test_a_small_file_s_whole_body_comes_with_the_tap_s_hash(tmp_path: Path) -> None:
    tap = Tap(len(SMALL))
    with open(_file(tmp_path, SMALL), "rb") as src:
        stream = tap.wrap(src, 0)
    assert read_hashed(stream, len(SMALL)) == (SMALL, hashlib.sha256(SMALL).hexdigest())
    stream.seek(0)
    assert read_hashed(stream, 100) == (SMALL[:100], None)  # not the bytes hashed
    assert read_hashed(stream, 100) == (SMALL[100:200], None)


def test_a_small_file_longer_than_told_sends_and_hashes_what_was_told(tmp_path: Path) -> None:
    tap = Tap(len(SMALL) - 10)  # grew after its size was taken
    with open(_file(tmp_path, SMALL), "rb") as src:
        stream = tap.wrap(src, 0)
    assert stream.read() == SMALL[:-10]
    assert tap.checksum() == "sha256:" + hashlib.sha256(SMALL[:-10]).hexdigest()


def test_a_small_file_shorter_than_told_gives_no_checksum(tmp_path: Path) -> None:
    tap = Tap(len(SMALL) + 10)  # shrank after its size was taken
    with open(_file(tmp_path, SMALL), "rb") as src:
        assert tap.wrap(src, 0).read() == SMALL
    assert tap.checksum() is None


def test_a_small_file_sent_down_a_socket_is_hashed(tmp_path: Path) -> None:
    """Plain FTP: the bytes held go out through Python, past no tap."""
    left, right = socket.socketpair()
    tap = Tap(len(SMALL))
    with open(_file(tmp_path, SMALL), "rb") as src:
        sent = send_stream(left, tap.wrap(src, 0), size=len(SMALL), blocksize=65536,
                           progress=lambda _: None)  # fmt: skip
    left.close()
    received = right.recv(2 * len(SMALL), socket.MSG_WAITALL)
    right.close()
    assert sent == len(SMALL) and received == SMALL
    assert tap.checksum() == SMALL_SUM


def test_an_upload_of_a_small_file_to_a_folder_hashes_what_it_writes(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    tap = Tap(len(SMALL))
    with open_target(drop.as_uri()) as target:
        info = target.upload(_file(tmp_path, SMALL), "out.bin", tap=tap, verify="content")
    assert info.size == len(SMALL) and (drop / "out.bin").read_bytes() == SMALL
    assert tap.checksum() == SMALL_SUM
