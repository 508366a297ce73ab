"""Old shoebox archives (format 1), written here from the format description, read back."""

from __future__ import annotations

import gzip
import io
import os
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from entrepot.archive import ArchiveReader, ArchiveSet, read_archive
from entrepot.errors import UnknownFormat

MARKER = 0x69867884


def v1_record(
    metadata: dict[str, str], payload: bytes, *, count_pairs: bool = False, version: int = 1
) -> bytes:
    """One format-1 record: preamble, header, metadata block, raw block (native LE ints)."""
    strings = [s.encode("utf-8") for pair in metadata.items() for s in pair]
    count = len(metadata) if count_pairs else len(strings)
    meta_schema = "i" + "i" * len(strings) + "".join(f"{len(s)}s" for s in strings)
    meta_block = struct.pack(meta_schema, count, *map(len, strings), *strings)
    raw_schema = f"i{len(payload)}s"
    raw_block = struct.pack(raw_schema, len(payload), payload)
    preamble = struct.pack("<ih", MARKER, version)
    header = struct.pack("<iii", len(meta_block), len(raw_block), 0)
    return preamble + header + meta_block + raw_block


def v1_archive(events: list[tuple[dict[str, str], bytes]], **options: bool) -> bytes:
    return b"".join(v1_record(m, p, **options) for m, p in events)


def test_the_record_layout_matches_the_description():
    record = v1_record({"a": "bc"}, b"xyz")
    assert record[:6] == bytes.fromhex("84788669") + b"\x01\x00"
    meta_len, raw_len, eor = struct.unpack_from("<iii", record, 6)
    assert (meta_len, raw_len, eor) == (4 + 8 + 3, 4 + 3, 0)
    assert record[18:22] == (2).to_bytes(4, "little")  # two strings


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=4),
            st.binary(max_size=200),
        ),
        max_size=10,
    ),
    st.booleans(),
)
def test_format1_archives_are_read_correctly(events, count_pairs):
    records = read_archive(v1_archive(events, count_pairs=count_pairs))
    assert [(r.metadata, r.payload) for r in records] == events


def test_json_payloads_and_offsets(tmp_path: Path):
    events = [({"index": str(i)}, f'{{"n": {i}}}'.encode()) for i in range(5)]
    path = tmp_path / "old.events"
    path.write_bytes(v1_archive(events))
    with ArchiveReader(path) as reader:
        records = list(reader)
        assert reader.version == 1 and reader.header is None
    assert [r.payload for r in records] == [p for _, p in events]
    assert records[0].offset == 0
    assert records[1].offset == len(v1_record(*events[0]))


def test_a_compressed_format1_archive_is_read(tmp_path: Path):
    path = tmp_path / "old.events.gz"
    path.write_bytes(gzip.compress(v1_archive([({"k": "v"}, b"payload")])))
    assert [(r.metadata, r.payload) for r in read_archive(path)] == [({"k": "v"}, b"payload")]


def test_a_torn_format1_tail_ends_cleanly():
    data = v1_archive([({"i": "0"}, b"first"), ({"i": "1"}, b"second")])
    with ArchiveReader(io.BytesIO(data[:-3])) as reader:
        assert [r.payload for r in reader] == [b"first"]
        assert reader.torn_at is not None and not reader.damage


def test_garbage_between_format1_records_is_skipped_and_reported():
    data = v1_record({"i": "0"}, b"a") + b"junk!" + v1_record({"i": "1"}, b"b")
    with ArchiveReader(io.BytesIO(data)) as reader:
        assert [r.payload for r in reader] == [b"a", b"b"]
        assert len(reader.damage) == 1


def test_an_unknown_record_version_is_a_clear_error():
    with pytest.raises(UnknownFormat, match="version 3"):
        ArchiveReader(io.BytesIO(v1_record({}, b"x", version=3)))


def test_format1_files_are_read_in_modification_order(tmp_path: Path):
    for name, stamp in (("b.events", 100), ("a.events", 200)):
        path = tmp_path / name
        path.write_bytes(v1_archive([({"file": name}, b"")]))
        os.utime(path, (stamp, stamp))
    files = [r.metadata["file"] for r in ArchiveSet(str(tmp_path / "*.events"))]
    assert files == ["b.events", "a.events"]
