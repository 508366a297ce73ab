"""Hashing behind the reads (:mod:`entrepot.targets.behind`) and the tap that uses it."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from entrepot.targets import behind as behind_module
from entrepot.targets.behind import WAITING, Behind
from entrepot.targets.tap import BEHIND, Tap, read_hashed
from entrepot.targets.transfer import copy_stream

LARGE = os.urandom(5 * BEHIND + 321)
LARGE_SUM = "sha256:" + hashlib.sha256(LARGE).hexdigest()


class _Recorded:
    """A digest that notes each chunk and the thread that hashed it; ``gate`` holds it."""

    def __init__(self, gate: threading.Event | None = None, fail_at: int | None = None) -> None:
        self.chunks: list[bytes] = []
        self.threads: set[str] = set()
        self.gate = gate
        self.fail_at = fail_at

    def update(self, chunk: bytes) -> None:
        if self.gate is not None:
            assert self.gate.wait(10)
        if self.fail_at is not None and len(self.chunks) == self.fail_at:
            raise MemoryError("no room to hash")
        self.chunks.append(chunk)
        self.threads.add(threading.current_thread().name)


def test_chunks_are_hashed_in_order_by_a_pool_thread() -> None:
    digest = _Recorded()
    behind = Behind(digest)
    chunks = [bytes([n]) * 1000 for n in range(50)]
    for chunk in chunks:
        behind.add(chunk)
    behind.settle()
    assert digest.chunks == chunks and not behind.failed
    assert digest.threads and all(name.startswith("entrepot-hash") for name in digest.threads)


def test_a_reader_ahead_of_the_hash_waits_holding_few_chunks() -> None:
    gate = threading.Event()
    digest = _Recorded(gate)
    behind = Behind(digest)
    added: list[int] = []

    def read_on() -> None:
        for n in range(WAITING + 3):
            behind.add(b"x" * 10)
            added.append(n)

    reader = threading.Thread(target=read_on)
    reader.start()
    deadline = time.monotonic() + 10
    while len(added) < WAITING and time.monotonic() < deadline:
        time.sleep(0.01)
    reader.join(0.3)
    # The hash is held: the reader gave what may wait and no more.
    assert reader.is_alive() and len(added) == WAITING
    gate.set()
    reader.join(10)
    behind.settle()
    assert len(added) == WAITING + 3 and len(digest.chunks) == WAITING + 3


def test_a_hash_that_fails_is_told_and_holds_nobody_up() -> None:
    digest = _Recorded(fail_at=2)
    behind = Behind(digest)
    for _ in range(WAITING + 5):  # more than may wait: none blocks once the hash failed
        behind.add(b"y" * 10)
    behind.settle()
    assert behind.failed and len(digest.chunks) == 2


def test_without_a_pool_the_caller_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    class _Ended:
        def submit(self, *args: Any) -> None:
            raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    monkeypatch.setattr(behind_module, "_hashers", lambda: _Ended())
    digest = _Recorded()
    behind = Behind(digest)
    behind.add(b"z" * 10)
    behind.settle()
    assert digest.chunks == [b"z" * 10]
    assert digest.threads == {threading.current_thread().name}


def _large(tmp_path: Path) -> Path:
    path = tmp_path / "large.bin"
    path.write_bytes(LARGE)
    return path


def test_a_large_file_is_hashed_beside_its_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: set[str] = set()
    real = Behind.__init__

    def noted(self: Behind, digest: Any) -> None:
        class _Seen:
            def update(self, chunk: bytes) -> None:
                threads.add(threading.current_thread().name)
                digest.update(chunk)

        real(self, _Seen())

    monkeypatch.setattr(Behind, "__init__", noted)
    tap = Tap(len(LARGE))
    with open(_large(tmp_path), "rb") as src:
        assert copy_stream(tap.wrap(src).read, lambda _: None, blocksize=BEHIND) == len(LARGE)
    assert tap.checksum() == LARGE_SUM
    assert threads and all(name.startswith("entrepot-hash") for name in threads)


def test_a_caller_s_buffer_between_large_reads_keeps_the_order(tmp_path: Path) -> None:
    tap = Tap(len(LARGE))
    with open(_large(tmp_path), "rb") as src:
        stream = tap.wrap(src)
        first = stream.read(2 * BEHIND)  # hashed behind
        buffer = bytearray(1000)
        assert stream.readinto(buffer) == 1000  # a buffer the caller reuses: hashed now
        rest = stream.read()
    assert first + bytes(buffer) + rest == LARGE
    assert tap.checksum() == LARGE_SUM


def test_a_retry_from_the_start_after_a_large_pass_keeps_the_whole_pass(tmp_path: Path) -> None:
    tap = Tap(len(LARGE))
    with open(_large(tmp_path), "rb") as src:
        stream = tap.wrap(src)
        assert stream.read() == LARGE
        stream.seek(0)  # a verification, or a retry cut short
        stream.read(3 * BEHIND)
    assert tap.checksum() == LARGE_SUM


def test_a_body_that_signs_its_request_is_hashed_as_it_is_read(tmp_path: Path) -> None:
    tap = Tap(len(LARGE))
    with open(_large(tmp_path), "rb") as src:
        stream = tap.wrap(src, 0)
        body, sha256 = read_hashed(stream, len(LARGE))
    assert body == LARGE and sha256 == hashlib.sha256(LARGE).hexdigest()
    assert tap._behind is None  # nothing behind: the signature needed the digest at once
    assert tap.checksum() == LARGE_SUM


def test_passes_beyond_the_limit_are_hashed_as_they_are_read(tmp_path: Path) -> None:
    path = _large(tmp_path)
    taps = [Tap(len(LARGE)) for _ in range(behind_module.PASSES + 1)]
    sources = [open(path, "rb") for _ in taps]  # noqa: SIM115  (closed below)
    try:
        streams = [tap.wrap(src) for tap, src in zip(taps, sources, strict=True)]
        for stream in streams:
            stream.read(BEHIND)  # each pass's first large chunk, all passes at once
        behind = [tap._behind is not None for tap in taps]
        assert behind == [True] * behind_module.PASSES + [False]
        for stream in streams:
            stream.read()
        assert [tap.checksum() for tap in taps] == [LARGE_SUM] * len(taps)
    finally:
        for src in sources:
            src.close()
    del taps, streams
    # The passes ended with their taps: the next one is hashed behind again.
    again = Tap(len(LARGE))
    with open(path, "rb") as src:
        again.wrap(src).read(BEHIND)
        assert again._behind is not None


def test_a_pass_gives_its_place_back_when_its_checksum_is_taken(tmp_path: Path) -> None:
    path = _large(tmp_path)
    taps = []
    for _ in range(behind_module.PASSES + 2):  # one after the other, each still referenced
        tap = Tap(len(LARGE))
        with open(path, "rb") as src:
            tap.wrap(src).read()
        assert tap._behind is not None  # every pass hashed behind: the last gave its place
        assert tap.checksum() == LARGE_SUM
        taps.append(tap)
