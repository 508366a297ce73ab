"""Damaged and hostile archive files (issue 10, items 4, 5, 13 and 14).

* Item 4: a truncated compressed archive is damage (exit 7, a message
  saying so), never a short success; ``verify`` names the truncation.
* Item 5: one damaged compressed archive beside an intact one is reported
  on its own; the intact one is read in full, by ``archive cat`` and by
  ``ArchiveSet`` (whose constructor must not raise).
* Item 13: a file of record headers that each claim to run to the end of the
  file is scanned in linear time, with one damage report.
* Item 14: a small zstd archive whose records claim 1 GiB each is refused
  with exit 7 and a clear message without using gigabytes of memory.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import uuid
import zlib
from pathlib import Path

import pytest
import zstandard

from entrepot.archive import ArchiveReader, ArchiveSet, RollingWriter, verify
from entrepot.archive import format as fmt
from tests.hostile._peak import MEASURED, peak_bytes

ENTREPOT = str(Path(sys.executable).with_name("entrepot"))


def entrepot(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ENTREPOT, *map(str, args)], capture_output=True, text=True, timeout=120)


def sealed_archive(folder: Path, records: int, compression: str) -> Path:
    with RollingWriter(folder, "ev-{seq}.events", compression=compression) as writer:
        for number in range(records):
            writer.write({"n": str(number)}, {"n": number, "pad": "x" * 40})
    (path,) = writer.finished
    return path


def printed(text: str) -> list[int]:
    return [json.loads(line)["payload"]["n"] for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
@pytest.mark.parametrize("cut", ["last 10 bytes", "half"])
def test_a_truncated_compressed_archive_is_damage(tmp_path: Path, compression: str, cut: str):
    path = sealed_archive(tmp_path / "a", 20_000, compression)
    data = path.read_bytes()
    path.write_bytes(data[:-10] if cut == "last 10 bytes" else data[: len(data) // 2])

    cat = entrepot("archive", "cat", path)
    assert cat.returncode == 7, cat.stderr
    got = printed(cat.stdout)
    assert got == list(range(len(got)))  # the records before the cut, in order
    if cut == "half":
        assert len(got) < 20_000
    assert "truncated" in cat.stderr or "damaged" in cat.stderr

    verify = entrepot("archive", "verify", path)
    assert verify.returncode == 7
    assert "empty file" not in verify.stdout
    assert "truncated" in verify.stdout or "damaged" in verify.stdout


@pytest.mark.parametrize("keep", [0.25, 0.5, 0.9, -1])
def test_a_cut_gzip_archive_gives_back_every_record_decoded_before_the_cut(
    tmp_path: Path, keep: float
) -> None:
    """gzip's own reader drops what it decoded in a read that meets the cut (up to a
    MiB of records): every record whose bytes can be decoded comes back."""
    path = sealed_archive(tmp_path / "a", 60_000, "gzip")
    data = path.read_bytes()
    cut = data[: int(len(data) * keep)] if keep > 0 else data[:-1]
    path.write_bytes(cut)
    decoded = zlib.decompressobj(wbits=31).decompress(cut)  # all the cut bytes can give
    plain = tmp_path / "decoded.events"
    plain.write_bytes(decoded)
    with ArchiveReader(plain) as reader:
        decodable = len(list(reader))  # the records whole in it (a torn tail ends it)
    assert decodable > 0

    with ArchiveReader(path) as reader:
        records = list(reader)
        assert [d.reason for d in reader.damage] == [
            "compressed data is damaged: EOFError: the gzip data ends inside a member"
        ]
    assert [int(r.metadata["n"]) for r in records] == list(range(decodable))


def test_gzip_garbage_after_the_data_is_damage_after_every_record(tmp_path: Path) -> None:
    path = sealed_archive(tmp_path / "a", 1_000, "gzip")
    path.write_bytes(path.read_bytes() + b"\0\0\0" + b"not gzip")  # zero padding is allowed
    with ArchiveReader(path) as reader:
        assert len(list(reader)) == 1_000
        [damage] = reader.damage
    assert damage.reason.startswith("compressed data is damaged: BadGzipFile")
    padded = sealed_archive(tmp_path / "b", 10, "gzip")
    padded.write_bytes(padded.read_bytes() + b"\0" * 512)
    assert verify(padded).ok


def test_a_zstd_archive_cut_before_its_first_block_ends_is_truncated_not_empty(tmp_path: Path):
    path = sealed_archive(tmp_path / "a", 20_000, "zstd")
    path.write_bytes(path.read_bytes()[:200])
    with ArchiveReader(path) as reader:
        assert list(reader) == []
        assert [d.reason for d in reader.damage] == [
            "compressed data is truncated: the file ends inside a zstd frame"
        ]
    verify = entrepot("archive", "verify", path)
    assert verify.returncode == 7 and "truncated" in verify.stdout, verify.stdout


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
@pytest.mark.parametrize("where", [0.05, 0.5])
def test_one_damaged_compressed_archive_does_not_hide_the_others(
    tmp_path: Path, compression: str, where: float
):
    folder = tmp_path / "events"
    good = sealed_archive(tmp_path / "good", 3_000, compression)
    bad = sealed_archive(tmp_path / "bad", 3_000, compression)
    folder.mkdir()
    data = bytearray(bad.read_bytes())
    for offset in range(int(len(data) * where), int(len(data) * where) + 8):
        data[offset] ^= 0x5A
    (folder / f"a-bad.events{bad.suffix}").write_bytes(data)
    (folder / f"b-good.events{good.suffix}").write_bytes(good.read_bytes())

    archives = ArchiveSet(str(folder / "*"))
    numbers = [int(record.metadata["n"]) for record in archives]
    assert numbers[-3_000:] == list(range(3_000))  # the intact file, whole
    assert {path.name for path, _ in archives.damage} == {f"a-bad.events{bad.suffix}"}

    cat = entrepot("archive", "cat", folder)
    assert cat.returncode == 7
    assert printed(cat.stdout)[-3_000:] == list(range(3_000))
    assert "a-bad.events" in cat.stderr and "b-good" not in cat.stderr
    assert "Traceback" not in cat.stderr


def crafted(size: int) -> bytes:
    """A header, then 16-byte record headers that each claim a payload to the end of the file."""
    head = fmt.encode_header(0, 0, uuid.UUID(int=13), "crafted")
    count = (size - len(head)) // fmt.REC_HEADER_SIZE
    end = len(head) + count * fmt.REC_HEADER_SIZE
    records = []
    for index in range(count):
        at = len(head) + index * fmt.REC_HEADER_SIZE
        claim = max(0, end - at - fmt.REC_OVERHEAD)
        records.append(fmt.REC_STRUCT.pack(fmt.SYNC, 0, claim, fmt.PAYLOAD_BYTES, 0, 0))
    return head + b"".join(records)


def scan_seconds(path: Path) -> float:
    """CPU seconds to read ``path`` (best of three), which must hold no record and one damage."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        with ArchiveReader(path) as reader:
            assert list(reader) == []
            assert len(reader.damage) == 1
        best = min(best, time.process_time() - started)
    return best


@pytest.mark.timeout(120)
def test_resynchronising_after_damage_takes_linear_time(tmp_path: Path, caplog):
    small, large = tmp_path / "1mb.events", tmp_path / "4mb.events"
    small.write_bytes(crafted(1 << 20))
    large.write_bytes(crafted(4 << 20))
    scan_seconds(small)  # warm-up: the shift tables are built on first damage
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="entrepot.archive"):
        ratio = scan_seconds(large) / scan_seconds(small)
    # Linear: about 4; quadratic: 16.  The margin is for a loaded machine's caches.
    assert ratio <= 7, f"4 MB took {ratio:.1f} times as long as 1 MB"
    assert len(caplog.records) <= 6  # one damage line per read (three each), not one per header


def zstd_bomb(path: Path, claims: int) -> None:
    """A zstd archive: a header, then records claiming 1 GiB each, followed by 1 GiB of zeros."""
    compressor = zstandard.ZstdCompressor(level=1).compressobj()
    zeros = bytes(16 << 20)
    with open(path, "wb") as out:
        out.write(compressor.compress(fmt.encode_header(0, 0, uuid.UUID(int=14), "bomb")))
        for _ in range(claims):
            out.write(compressor.compress(fmt.REC_STRUCT.pack(fmt.SYNC, 0, 1 << 30, 0, 0, 0)))
            for _ in range(64):
                out.write(compressor.compress(zeros))
        out.write(compressor.flush())


@pytest.mark.timeout(180)
def test_records_claiming_a_gigabyte_are_refused_without_using_it(tmp_path: Path):
    bomb = tmp_path / "bomb.events.zst"
    zstd_bomb(bomb, claims=2)
    assert bomb.stat().st_size < 100_000
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        command = [sys.executable, "-c", MEASURED, "archive", "cat", bomb]
        process = subprocess.run(command, stdout=out, stderr=err, check=False)
    error = (tmp_path / "err").read_text()
    assert process.returncode == 7, error
    assert "over the limit" in error and "max_record" in error
    peak_mib = peak_bytes(error) / (1 << 20)
    assert peak_mib < 512, f"reading the bomb peaked at {peak_mib:.0f} MiB"


def test_the_record_limit_is_configurable(tmp_path: Path):
    path = tmp_path / "big.events"
    with RollingWriter(tmp_path, "big.events", max_record=2 << 20) as writer:
        writer.write({}, b"x" * (1 << 20))
    assert [len(r.payload) for r in ArchiveReader(path, max_record=2 << 20)] == [1 << 20]
    with ArchiveReader(path, max_record=1000) as reader:
        assert list(reader) == []
        assert "over the limit of 1000" in reader.damage[0].reason
