"""Damaged archives: flipped, truncated and spliced bytes never yield damaged records.

More than ten thousand mutated archives are generated here from real ones
(plain, zstd and gzip).  For each, reading must return only records that
were written — never altered ones — or raise a clear archive error, and
must finish (a pytest timeout guards against loops).  ``verify`` must
report every change to a plain archive.
"""

from __future__ import annotations

import io
import random
import uuid

import pytest

from entrepot.archive import ArchiveReader, verify
from entrepot.archive import format as fmt
from entrepot.archive.compress import compress_bytes
from entrepot.errors import ArchiveError, CorruptRecord
from tests.unit.test_archive_shoebox_v1 import shoebox_archive

MUTATIONS_PER_KIND = 3_000


def make_events(rng: random.Random, count: int) -> list[tuple[dict[str, str], object]]:
    events: list[tuple[dict[str, str], object]] = []
    for index in range(count):
        metadata = {"i": str(index), "kind": rng.choice(["a", "bb", "ccc"])}
        if index % 5 == 4:
            metadata["nul"] = "x\0y"  # the length-table metadata form
        payload: object = rng.choice(
            [
                rng.randbytes(rng.randrange(0, 60)),
                "text " * rng.randrange(0, 12),
                {"n": index, "list": list(range(rng.randrange(5)))},
            ]
        )
        events.append((metadata, payload))
    return events


def build(events: list[tuple[dict[str, str], object]], seed: int) -> bytes:
    parts = [fmt.encode_header(seed, seed, uuid.UUID(int=seed), f"w{seed}")]
    parts += [fmt.encode_record(m, p) for m, p in events]
    parts.append(fmt.encode_seal(len(events), seed))
    return b"".join(parts)


def mutate(rng: random.Random, data: bytes, donors: list[bytes]) -> bytes:
    kind = rng.randrange(3)
    buf = bytearray(data)
    if kind == 0:  # flip bits in one to three bytes
        for _ in range(rng.randint(1, 3)):
            buf[rng.randrange(len(buf))] ^= rng.randint(1, 255)
        return bytes(buf)
    if kind == 1:  # truncate
        return bytes(buf[: rng.randrange(len(buf))])
    # splice: delete, duplicate or insert a slice of this or another archive
    start = rng.randrange(len(buf))
    end = min(len(buf), start + rng.randint(1, 80))
    how = rng.randrange(3)
    if how == 0:
        del buf[start:end]
    else:
        donor = data if how == 1 else rng.choice(donors)
        a = rng.randrange(len(donor))
        piece = donor[a : a + rng.randint(1, 120)]
        buf[start:start] = piece
    return bytes(buf)


def identity(payload: object) -> tuple[str, object]:
    # Records compare by type and value: an altered payload never matches.
    return (type(payload).__name__, repr(payload))


def read_all(data: bytes, *, strict: bool) -> list[fmt.Record]:
    records: list[fmt.Record] = []
    try:
        with ArchiveReader(io.BytesIO(data), strict=strict) as reader:
            while (record := reader.read()) is not None:
                records.append(record)
    except ArchiveError:
        pass  # a clear error is an allowed outcome; what was returned is still checked
    return records


@pytest.fixture(scope="module")
def corpus() -> tuple[list[bytes], set[tuple[object, ...]]]:
    rng = random.Random(20240601)
    archives = []
    known: set[tuple[object, ...]] = set()
    for seed in range(8):
        events = make_events(rng, rng.randint(3, 12))
        archives.append(build(events, seed))
        known.update((tuple(sorted(m.items())), identity(p)) for m, p in events)
    return archives, known


def check_only_intact(records: list[fmt.Record], known: set[tuple[object, ...]]) -> None:
    for record in records:
        key = (tuple(sorted(record.metadata.items())), identity(record.payload))
        assert key in known, f"a damaged record was returned: {record!r}"


@pytest.mark.timeout(240)
@pytest.mark.parametrize("compression", [None, "zstd", "gzip"])
def test_mutated_archives_yield_only_intact_records(corpus, compression):
    archives, known = corpus
    rng = random.Random(hash(compression) & 0xFFFF)
    sources = [compress_bytes(a, compression) if compression else a for a in archives]
    changed = detected = 0
    for round_ in range(MUTATIONS_PER_KIND + (1_000 if compression is None else 0)):
        original = sources[round_ % len(sources)]
        data = mutate(rng, original, sources)
        check_only_intact(read_all(data, strict=False), known)
        check_only_intact(read_all(data, strict=True), known)
        if compression is None and data != original:
            changed += 1
            try:
                report = verify(io.BytesIO(data))
            except ArchiveError:
                detected += 1  # unreadable header: reported as an error
                continue
            assert not report.ok, "verify missed a change"
            assert all(0 <= d.offset <= len(data) for d in report.damage)
            detected += 1
    if compression is None:
        assert detected == changed > 3_000


@pytest.mark.timeout(120)
def test_a_damaged_record_in_strict_mode_raises_with_its_offset(corpus):
    archives, _ = corpus
    data = bytearray(archives[0])
    header_size = fmt.decode_header(bytes(data)).size
    data[header_size + fmt.REC_HEADER_SIZE] ^= 0xFF
    with pytest.raises(CorruptRecord) as caught:
        list(ArchiveReader(io.BytesIO(bytes(data)), strict=True))
    assert caught.value.offset == header_size


@pytest.mark.timeout(120)
def test_mutated_format1_archives_never_hang_or_crash():
    rng = random.Random(99)
    data = shoebox_archive([({"i": str(i)}, b"p" * (i * 7)) for i in range(10)])
    for _ in range(1_500):
        mutated = mutate(rng, data, [data])
        try:
            with ArchiveReader(io.BytesIO(mutated)) as reader:
                for record in reader:
                    assert isinstance(record.payload, bytes)
                    assert set(record.metadata) <= {"i"} or record.metadata
        except ArchiveError:
            pass
