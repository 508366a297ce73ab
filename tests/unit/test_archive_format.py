"""Format 2: round trips (property-based), headers, versions, payload types, strictness."""

from __future__ import annotations

import io
import struct
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from entrepot.archive import ArchiveReader, ArchiveWriter, read_archive, verify
from entrepot.archive import format as fmt
from entrepot.archive.compress import compress_bytes
from entrepot.errors import ArchiveClosed, CorruptRecord, UnknownFormat

metadata_st = st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=6)
json_st = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
payload_st = st.binary(max_size=300) | st.text(max_size=300) | json_st


def build(events: list[tuple[dict[str, str], object]], *, seal: bool = True) -> bytes:
    """An archive's bytes, assembled in memory."""
    parts = [fmt.encode_header(1_700_000_000_000_000_000, 3, uuid.UUID(int=7), "test:1")]
    parts += [fmt.encode_record(metadata, payload) for metadata, payload in events]
    if seal:
        parts.append(fmt.encode_seal(len(events), 1_700_000_000_000_000_001))
    return b"".join(parts)


def same(record_payload: object, written: object) -> bool:
    # JSON turns tuples into lists and is otherwise exact for these values.
    return type(record_payload) is type(written) and record_payload == written


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(metadata_st, payload_st), max_size=12),
    st.sampled_from([None, "zstd", "gzip"]),
)
def test_any_events_survive_a_round_trip(events, compression):
    data = build(events)
    if compression:
        data = compress_bytes(data, compression)
    with ArchiveReader(io.BytesIO(data)) as reader:
        records = list(reader)
        assert reader.compression == compression
        assert reader.sealed and not reader.damage and reader.torn_at is None
    assert [r.metadata for r in records] == [m for m, _ in events]
    assert all(same(r.payload, p) for r, (_, p) in zip(records, events, strict=True))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(metadata_st, payload_st), min_size=1, max_size=8))
def test_the_writer_round_trips_through_a_real_file(tmp_path_factory, events):
    path = tmp_path_factory.mktemp("rt") / "a.events"
    writer = ArchiveWriter(path)
    offsets = [writer.write(metadata, payload) for metadata, payload in events]
    writer.seal()
    records = read_archive(path)
    assert [r.offset for r in records] == offsets
    assert [(r.metadata, r.payload) for r in records] == [(m, p) for m, p in events]
    assert verify(path).ok


def test_metadata_with_nul_uses_the_length_table_form():
    flags, block = fmt.encode_metadata({"a\0b": "c", "d": "\0"})
    assert flags == 0
    assert fmt.decode_metadata(flags, block) == {"a\0b": "c", "d": "\0"}
    flags, block = fmt.encode_metadata({"a": "b"})
    assert flags == fmt.FLAG_NUL_METADATA and block == b"a\0b"


def test_metadata_must_map_strings_to_strings():
    with pytest.raises(TypeError):
        fmt.encode_metadata({"a": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        fmt.encode_record({}, object())


def test_the_header_carries_creation_sequence_id_and_writer(tmp_path: Path):
    writer = ArchiveWriter(tmp_path / "h.events", writer_id="web1:42", seq=9)
    writer.write({"k": "v"}, b"x")
    path = writer.seal()
    with ArchiveReader(path) as reader:
        header = reader.header
        assert header is not None
        assert header.writer_id == "web1:42" and header.seq == 9
        assert header.archive_id == writer.archive_id
        assert header.created_ns == writer.created_ns
        assert reader.version == fmt.FORMAT_VERSION


def test_an_unknown_version_is_a_clear_error_naming_it():
    data = bytearray(build([({}, b"x")]))
    struct.pack_into("<H", data, 8, 7)
    with pytest.raises(UnknownFormat, match="version 7"):
        ArchiveReader(io.BytesIO(bytes(data)))


def test_a_file_of_another_kind_is_refused():
    with pytest.raises(UnknownFormat, match="not an archive"):
        ArchiveReader(io.BytesIO(b"hello, this is text\n"))


def test_an_empty_file_has_no_records():
    assert read_archive(b"") == []


def test_a_damaged_record_is_skipped_and_counted_or_raises_when_strict():
    events = [({"i": str(i)}, f"payload {i}") for i in range(5)]
    data = bytearray(build(events))
    second = data.index(b"payload 1")
    data[second] ^= 0x01
    with ArchiveReader(io.BytesIO(bytes(data))) as reader:
        records = list(reader)
        assert [r.metadata["i"] for r in records] == ["0", "2", "3", "4"]
        assert len(reader.damage) == 1 and "checksum" in reader.damage[0].reason
        damaged_at = reader.damage[0].offset
    with ArchiveReader(io.BytesIO(bytes(data)), strict=True) as reader:
        first = reader.read()
        assert first is not None and first.metadata == {"i": "0"}
        with pytest.raises(CorruptRecord) as caught:
            reader.read()
        assert caught.value.offset == damaged_at
    report = verify(io.BytesIO(bytes(data)))
    assert not report.ok and report.damage[0].offset == damaged_at


class FailingStream(io.BytesIO):
    """A file whose disk stops answering after ``limit`` bytes."""

    limit = 20_000

    def read(self, size: int | None = -1, /) -> bytes:
        left = self.limit - self.tell()
        if left <= 0:
            raise OSError(5, "Input/output error")
        return super().read(left if size is None or size < 0 else min(size, left))


def test_a_read_error_ends_the_file_as_reported_damage():
    data = build([({"i": str(i)}, "y" * 100) for i in range(500)])
    with ArchiveReader(FailingStream(data)) as reader:
        records = list(reader)
        assert 0 < len(records) < 500
        assert [d.reason for d in reader.damage] == [
            "the file cannot be read: OSError: [Errno 5] Input/output error"
        ]
    with pytest.raises(CorruptRecord, match="cannot be read"):
        list(ArchiveReader(FailingStream(data), strict=True))


def test_a_torn_tail_ends_the_file_cleanly():
    events = [({"i": str(i)}, "x" * 50) for i in range(4)]
    data = build(events, seal=False)
    torn = data[:-30]
    with ArchiveReader(io.BytesIO(torn)) as reader:
        assert [r.metadata["i"] for r in reader] == ["0", "1", "2"]
        assert reader.torn_at is not None and not reader.damage
    report = verify(io.BytesIO(torn))
    assert not report.ok and "truncated" in report.damage[0].reason


def test_a_missing_seal_and_a_wrong_count_are_reported_by_verify():
    events = [({}, b"a"), ({}, b"b")]
    assert "no seal" in verify(io.BytesIO(build(events, seal=False))).damage[0].reason
    lying = build(events, seal=False) + fmt.encode_seal(5, 0)
    assert "seal counts 5" in verify(io.BytesIO(lying)).damage[0].reason


def test_a_sealed_archive_refuses_more_records(tmp_path: Path):
    writer = ArchiveWriter(tmp_path / "s.events")
    writer.seal()
    with pytest.raises(ArchiveClosed):
        writer.write({}, b"late")


def test_the_writer_never_truncates_an_existing_file(tmp_path: Path):
    (tmp_path / "a.events.open").write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        ArchiveWriter(tmp_path / "a.events")
    assert (tmp_path / "a.events.open").read_bytes() == b"precious"
    writer = ArchiveWriter(tmp_path / "b.events")
    (tmp_path / "b.events").write_bytes(b"taken")
    with pytest.raises(FileExistsError):
        writer.seal()
    assert (tmp_path / "b.events").read_bytes() == b"taken"


def test_sync_every_record_makes_each_record_durable_at_once(tmp_path: Path):
    writer = ArchiveWriter(tmp_path / "r.events", sync="record")
    writer.write({"a": "b"}, b"payload")
    # Without any flush call, a second reader already sees the record.
    with ArchiveReader(writer.open_path) as reader:
        assert [r.payload for r in reader] == [b"payload"]
    writer.seal()


def test_flush_makes_everything_written_so_far_visible(tmp_path: Path):
    writer = ArchiveWriter(tmp_path / "f.events", sync="roll")
    for i in range(3):
        writer.write({}, str(i))
    writer.flush()
    with ArchiveReader(writer.open_path) as reader:
        assert [r.payload for r in reader] == ["0", "1", "2"]
    writer.seal()


def test_interval_sync_setting_is_parsed():
    from entrepot.archive.writer import check_sync
    from entrepot.errors import ConfigError

    assert check_sync("250ms") == 250 and check_sync("record") == "record"
    with pytest.raises(ConfigError):
        check_sync("sometimes")
