"""Old shoebox archives (format 1), built byte for byte as shoebox itself wrote them.

The fixtures come from :func:`shoebox_pack`, a Python 3 transcription of the
layout that ``Version1.pack`` in ``shoebox/disk_storage.py`` of
openstack-archive/stacktach-shoebox produces: native ``struct`` formats, a
metadata count field holding ``len(metadata) * 4``, UTF-8 keys and values.
:func:`shoebox_unpack` transcribes that module's ``unpack_notification``, so
each test can check that the original reader agrees with the fixture and
that Entrepôt reads what the original reads.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
from pathlib import Path
from typing import IO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from entrepot.archive import ArchiveReader, ArchiveSet, read_archive
from entrepot.errors import UnknownFormat

#: shoebox's record marker ("EVNT" as decimal ASCII codes).
BOR_MAGIC_NUMBER = 0x69867884

Metadata = dict[str, str]


def shoebox_pack(notification: bytes, metadata: Metadata) -> tuple[bytes, bytes, bytes, bytes]:
    """The four blocks ``Version1.pack(notification, metadata)`` returns, in Python 3.

    Same native formats as the original (``"ih"``, ``"iii"``, one ``"i"`` per
    length and ``"%ds"`` per string); keys and values are UTF-8 encoded before
    their lengths are taken, as its ``_encode`` does for unicode strings; the
    notification is the byte string it was given (``len`` counts its bytes).
    """
    raw_schema = f"i{len(notification)}s"
    raw_block = struct.pack(raw_schema, len(notification), notification)
    pairs = [(key.encode("utf-8"), value.encode("utf-8")) for key, value in metadata.items()]
    schema = ["i"]
    values: list[int | bytes] = [len(metadata) * 4]  # what the original stores
    for key, value in pairs:
        schema += ["i", "i"]
        values += [len(key), len(value)]
    for key, value in pairs:
        schema += [f"{len(key)}s", f"{len(value)}s"]
        values += [key, value]
    metadata_schema = "".join(schema)
    metadata_block = struct.pack(metadata_schema, *values)
    header = struct.pack("iii", struct.calcsize(metadata_schema), struct.calcsize(raw_schema), 0)
    preamble = struct.pack("ih", BOR_MAGIC_NUMBER, 1)
    return preamble, header, metadata_block, raw_block


def shoebox_archive(events: list[tuple[Metadata, bytes]]) -> bytes:
    """A file as shoebox's ``ArchiveWriter.write`` appends it: every block of every record."""
    return b"".join(b"".join(shoebox_pack(payload, metadata)) for metadata, payload in events)


def shoebox_unpack(handle: IO[bytes]) -> tuple[dict[bytes, bytes], bytes]:
    """``unpack_notification(handle)`` of the original: one record, EOFError at the end."""
    preamble = handle.read(struct.calcsize("ih"))
    if len(preamble) < struct.calcsize("ih"):
        raise EOFError
    marker, version = struct.unpack("ih", preamble)
    assert marker == BOR_MAGIC_NUMBER and version == 1
    header = struct.unpack("iii", handle.read(struct.calcsize("iii")))
    assert header[2] == 0
    metadata_bytes = handle.read(header[0])
    (num_strings,) = struct.unpack_from("i", metadata_bytes)
    lengths_schema = "i" * (num_strings // 2)  # Python 2's int / int
    sizes = struct.unpack_from(lengths_schema, metadata_bytes, offset=4)
    offset = 4 + struct.calcsize(lengths_schema)
    strings = struct.unpack_from("".join(f"{size}s" for size in sizes), metadata_bytes, offset)
    metadata = {strings[n]: strings[n + 1] for n in range(0, len(strings), 2)}
    raw = handle.read(header[1])
    (raw_len,) = struct.unpack_from("i", raw)
    (payload,) = struct.unpack_from(f"{raw_len}s", raw, offset=4)
    return metadata, payload


def original_reading(data: bytes) -> list[tuple[Metadata, bytes]]:
    """Every record of ``data`` as the original reader returns it (keys and values decoded)."""
    handle = io.BytesIO(data)
    events = []
    while True:
        try:
            metadata, payload = shoebox_unpack(handle)
        except EOFError:
            return events
        events.append(({k.decode(): v.decode() for k, v in metadata.items()}, payload))


#: Non-ASCII metadata and payloads, an empty value, no metadata, an empty and a 20 KB payload.
EVENTS: list[tuple[Metadata, bytes]] = [
    ({"event_type": "compute.instance.create", "région": "Genève", "note": "☕ ünïcode"},
     json.dumps({"ville": "Zürich", "emoji": "🚀"}, ensure_ascii=False).encode()),
    ({"empty": "", "request_id": "req-1"}, b'{"n": 1}'),
    ({}, b"no metadata at all"),
    ({"kind": "empty payload"}, b""),
    ({"kind": "large"}, json.dumps({"blob": "é" * 10_000}, ensure_ascii=False).encode()),
]  # fmt: skip


def test_the_fixture_is_laid_out_as_shoebox_packs_it():
    preamble, header, metadata, raw = shoebox_pack(b"xyz", {"a": "bc"})
    assert preamble == bytes.fromhex("84788669") + b"\x01\x00"
    assert header == struct.pack("<iii", 4 + 8 + 3, 4 + 3, 0)
    # The count field holds 4 for one pair: len(metadata) * 4, not the two strings.
    assert metadata == struct.pack("<iii", 4, 1, 2) + b"abc"
    assert raw == struct.pack("<i", 3) + b"xyz"
    # The original's own tests pin the same sizes.
    assert shoebox_pack(b"shoebox", {})[2] == b"\x00\x00\x00\x00"
    assert len(shoebox_pack(b"", {"key": "value", "some": "stuff"})[2]) == 37
    assert len(EVENTS[4][1]) > 20_000


def test_archives_written_by_shoebox_are_read_record_for_record(tmp_path: Path):
    data = shoebox_archive(EVENTS)
    assert original_reading(data) == EVENTS
    path = tmp_path / "shoebox_2014.events"
    path.write_bytes(data)
    with ArchiveReader(path) as reader:
        records = list(reader)
        assert reader.version == 1 and reader.header is None
        assert not reader.damage and reader.torn_at is None
    assert [(r.metadata, r.payload) for r in records] == EVENTS
    assert records[1].offset == len(b"".join(shoebox_pack(EVENTS[0][1], EVENTS[0][0])))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=4),
            st.binary(max_size=200),
        ),
        max_size=10,
    )
)
def test_entrepot_reads_what_the_original_reader_reads(events):
    data = shoebox_archive(events)
    expected = original_reading(data)
    assert [(r.metadata, r.payload) for r in read_archive(data)] == expected == events


def test_a_compressed_shoebox_archive_is_read(tmp_path: Path):
    path = tmp_path / "old.events.gz"
    path.write_bytes(gzip.compress(shoebox_archive(EVENTS)))
    assert [(r.metadata, r.payload) for r in read_archive(path)] == EVENTS


def test_a_torn_format1_tail_ends_cleanly():
    data = shoebox_archive([({"i": "0"}, b"first"), ({"i": "1"}, b"second")])
    with ArchiveReader(io.BytesIO(data[:-3])) as reader:
        assert [r.payload for r in reader] == [b"first"]
        assert reader.torn_at is not None and not reader.damage


def test_garbage_between_format1_records_is_skipped_and_reported():
    first, second = (shoebox_archive([({"i": str(n)}, p)]) for n, p in enumerate((b"a", b"b")))
    with ArchiveReader(io.BytesIO(first + b"junk!" + second)) as reader:
        assert [r.payload for r in reader] == [b"a", b"b"]
        assert len(reader.damage) == 1


def test_a_count_field_that_does_not_match_the_lengths_is_damage():
    preamble, header, metadata, raw = shoebox_pack(b"x", {"k": "v"})
    wrong = struct.pack("<i", 2) + metadata[4:]  # the number of strings, not shoebox's count
    with ArchiveReader(io.BytesIO(preamble + header + wrong + raw)) as reader:
        assert list(reader) == []
        assert [d.reason.split(":")[0] for d in reader.damage] == ["bad metadata block"]


def test_an_unknown_record_version_is_a_clear_error():
    preamble, *rest = shoebox_pack(b"x", {})
    with pytest.raises(UnknownFormat, match="version 3"):
        ArchiveReader(io.BytesIO(preamble[:4] + b"\x03\x00" + b"".join(rest)))


def test_format1_files_are_read_in_modification_order(tmp_path: Path):
    for name, stamp in (("b.events", 100), ("a.events", 200)):
        path = tmp_path / name
        path.write_bytes(shoebox_archive([({"file": name}, b"")]))
        os.utime(path, (stamp, stamp))
    files = [r.metadata["file"] for r in ArchiveSet(str(tmp_path / "*.events"))]
    assert files == ["b.events", "a.events"]
