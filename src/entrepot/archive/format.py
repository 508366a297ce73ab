"""The on-disk archive format, version 2: file header and checksummed records.

The byte layout is specified in ``docs/archive-format.md``; this module is
its only implementation.  A file is a header followed by framed records::

    header  magic · version · header length · flags · created · seq · id · writer · CRC
    record  sync · metadata length · payload length · type · flags · reserved
            metadata · payload · CRC

Every record ends with a CRC-32C over all of it, header included, started
from :data:`RESIDUE`; a reader acts on a record's lengths only once that
checksum matches.  A sealed archive ends with a *seal* record that counts
the records before it.

Version 1 is the older shoebox framing (see :mod:`entrepot.archive.shoebox_v1`).
"""

from __future__ import annotations

import json
import struct
import uuid
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, NamedTuple

from crc32c import crc32c

from entrepot.errors import ArchiveError, CorruptRecord, RecordTooLarge, UnknownFormat

#: First bytes of every version-2 archive.  The high first byte and the
#: line ending catch files mangled by text-mode transfers.
MAGIC = b"\x89EPARCH\n"
#: The format version this module writes.
FORMAT_VERSION = 2
#: Versions a reader of this release understands (1 is shoebox's).
KNOWN_VERSIONS = (1, 2)

#: Marks the start of each record; a reader resynchronises on it after damage.
SYNC = b"\xe5EVR"

# magic, version, header length, flags, created (ns), seq, archive id, writer-id length
_HEAD = struct.Struct("<8sHHIQQ16sH")
_HEAD_PREFIX = struct.Struct("<8sHH")
# sync, metadata length, payload length, payload type, record flags, reserved
_REC = struct.Struct("<4sIIBBH")
_U32 = struct.Struct("<I")
_SEAL = struct.Struct("<QQ")
REC_HEADER_SIZE = _REC.size
REC_OVERHEAD = REC_HEADER_SIZE + 4  # plus the CRC that ends the record

#: The CRC-32C residue: the CRC of any data followed by its own CRC (little-endian).
#: Record CRCs start from it, so the CRC of a run of intact records — their CRCs
#: included — is this value again, and a reader checks a whole run in one call.
RESIDUE = 0x48674BC7

#: Largest record (metadata block + payload) a writer writes and a reader accepts
#: by default; both take a ``max_record`` setting.  A reader never holds more than
#: this for one record, so a length in a damaged or hostile file costs no memory.
MAX_RECORD = 64 << 20

#: Record flag: the metadata block is the keys and values joined by NUL characters
#: (used whenever no key or value contains NUL; otherwise the length-table form).
FLAG_NUL_METADATA = 0x01

# Payload types.  A reader hands each back as the type it was written as.
PAYLOAD_BYTES = 0
PAYLOAD_TEXT = 1
PAYLOAD_JSON = 2
#: The last record of a sealed archive: payload is (record count, sealed at ns).
RECORD_SEAL = 0x7F
PAYLOAD_TYPES = {PAYLOAD_BYTES: "bytes", PAYLOAD_TEXT: "text", PAYLOAD_JSON: "json"}

# NaN and Infinity are no JSON (RFC 8259): a payload holding one is refused, never stored
# as text that strict readers cannot read back.
_json_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_json_decode = json.JSONDecoder().decode


class Record(NamedTuple):
    """One event read back from an archive."""

    metadata: dict[str, str]
    payload: Any
    #: Byte offset of the record in the (uncompressed) archive.
    offset: int = 0


@dataclass(frozen=True)
class ArchiveHeader:
    """What the file header says about an archive."""

    created_ns: int
    seq: int
    archive_id: uuid.UUID
    writer_id: str
    version: int = FORMAT_VERSION
    flags: int = 0
    size: int = field(default=0, compare=False)

    @property
    def created(self) -> float:
        """Creation time in seconds since the epoch."""
        return self.created_ns / 1e9


def encode_header(created_ns: int, seq: int, archive_id: uuid.UUID, writer_id: str) -> bytes:
    """The bytes of a version-2 file header."""
    writer = writer_id.encode("utf-8")
    if len(writer) > 0xFFFF:
        raise ArchiveError("writer id is longer than 65535 bytes")
    length = _HEAD.size + len(writer) + 4
    head = _HEAD.pack(
        MAGIC, FORMAT_VERSION, length, 0, created_ns, seq, archive_id.bytes, len(writer)
    )
    head += writer
    return head + _U32.pack(crc32c(head))


def probe_version(prefix: bytes) -> int | None:
    """The format version ``prefix`` (the first bytes of a file) announces, or None."""
    if prefix.startswith(MAGIC) and len(prefix) >= _HEAD_PREFIX.size:
        return int(_HEAD_PREFIX.unpack_from(prefix)[1])
    return None


def decode_header(data: bytes) -> ArchiveHeader:
    """Parse a file header from the start of ``data``; it must hold the whole header.

    Raise :class:`UnknownFormat` for another magic or version and
    :class:`CorruptRecord` for a damaged header.
    """
    if not data.startswith(MAGIC):
        raise UnknownFormat("not an Entrepôt archive (bad magic)")
    if len(data) < _HEAD_PREFIX.size:
        raise CorruptRecord("archive header is truncated", offset=0)
    _, version, length = _HEAD_PREFIX.unpack_from(data)
    if version != FORMAT_VERSION:
        raise UnknownFormat(
            f"archive format version {version} is not supported "
            f"(this reader knows versions {', '.join(map(str, KNOWN_VERSIONS))})"
        )
    if length < _HEAD.size + 4 or len(data) < length:
        raise CorruptRecord("archive header is truncated or damaged", offset=0)
    (stored,) = _U32.unpack_from(data, length - 4)
    if crc32c(data[: length - 4]) != stored:
        raise CorruptRecord("archive header checksum mismatch", offset=0)
    _, _, _, flags, created, seq, raw_id, wlen = _HEAD.unpack_from(data)
    if _HEAD.size + wlen + 4 > length:
        raise CorruptRecord("archive header is damaged", offset=0)
    writer = data[_HEAD.size : _HEAD.size + wlen].decode("utf-8", "replace")
    return ArchiveHeader(created, seq, uuid.UUID(bytes=raw_id), writer, version, flags, length)


def header_length(prefix: bytes) -> int:
    """Total header length announced by ``prefix`` (at least 12 bytes)."""
    return int(_HEAD_PREFIX.unpack_from(prefix)[2])


def encode_metadata(metadata: dict[str, str]) -> tuple[int, bytes]:
    """Record flags and the metadata block.

    The compact form joins keys and values with NUL; when a string contains
    NUL itself, the length-table form is used: the pair count, every key and
    value length, then the UTF-8 bytes.
    """
    if not metadata:
        return 0, b""
    try:
        text = "\0".join(chain.from_iterable(metadata.items()))
    except TypeError:
        raise TypeError(f"metadata must map str to str, got {metadata!r}") from None
    if text.count("\0") == 2 * len(metadata) - 1:
        return FLAG_NUL_METADATA, text.encode("utf-8")
    parts = [item.encode("utf-8") for pair in metadata.items() for item in pair]
    count = len(parts)
    return 0, struct.pack(f"<I{count}I", count >> 1, *map(len, parts)) + b"".join(parts)


def decode_metadata(flags: int, block: bytes) -> dict[str, str]:
    """Inverse of :func:`encode_metadata`; ValueError or struct.error on bad input."""
    if not block:
        return {}
    if flags & FLAG_NUL_METADATA:
        strings = iter(block.decode("utf-8").split("\0"))
        return dict(zip(strings, strings, strict=True))
    (pairs,) = _U32.unpack_from(block)
    return decode_length_table(block, pairs * 2, "I")


def decode_length_table(block: bytes, strings: int, kind: str) -> dict[str, str]:
    """Keys and values from a block holding a 4-byte count, ``strings`` lengths, the strings.

    ``kind`` is the struct code of a length (``I`` in format 2, the signed
    ``i`` of shoebox's format 1).  The lengths must add up to the block
    exactly; ValueError otherwise.
    """
    start = 4 + 4 * strings
    if strings < 0 or strings % 2 or start > len(block):
        raise ValueError("metadata length table does not fit its block")
    lengths = struct.unpack_from(f"<{strings}{kind}", block, 4)
    if min(lengths, default=0) < 0 or start + sum(lengths) != len(block):
        raise ValueError("metadata lengths do not add up")
    values = []
    pos = start
    for length in lengths:
        values.append(block[pos : pos + length].decode("utf-8"))
        pos += length
    return dict(zip(values[::2], values[1::2], strict=True))


def encode_payload(payload: Any) -> tuple[int, bytes]:
    """Payload type and bytes: bytes stay bytes, str is UTF-8 text, the rest is JSON."""
    kind = type(payload)
    if kind is str:
        return PAYLOAD_TEXT, payload.encode("utf-8")
    if kind is bytes or kind is bytearray or kind is memoryview:
        return PAYLOAD_BYTES, bytes(payload)
    try:
        return PAYLOAD_JSON, _json_encode(payload).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"payload is neither bytes, str nor JSON-serialisable: {exc}") from exc


def decode_payload(kind: int, data: bytes) -> Any:
    """Inverse of :func:`encode_payload`; ValueError for what does not decode (JSON nested
    too deeply among it)."""
    if kind == PAYLOAD_TEXT:
        return data.decode("utf-8")
    if kind == PAYLOAD_BYTES:
        return data
    try:
        return _json_decode(data.decode("utf-8"))
    except RecursionError:  # arrays or objects nested past what the parser can hold
        raise ValueError("JSON nested too deeply to decode") from None


def encode_record(metadata: dict[str, str], payload: Any, max_record: int = MAX_RECORD) -> bytes:
    """The complete bytes of one framed record; ArchiveError if it is over ``max_record``."""
    # The writer calls this for every event, so the common cases are inlined.
    kind = type(payload)
    if kind is str:
        ptype, body = PAYLOAD_TEXT, payload.encode("utf-8")
    elif kind is bytes:
        ptype, body = PAYLOAD_BYTES, payload
    else:
        ptype, body = encode_payload(payload)
    flags, meta = encode_metadata(metadata) if metadata else (0, b"")
    if len(body) + len(meta) > max_record:
        raise _too_large(len(body) + len(meta), max_record)
    record = b"".join((_pack_head(SYNC, len(meta), len(body), ptype, flags, 0), meta, body))
    return record + _pack_u32(crc32c(record, RESIDUE))


def _too_large(size: int, limit: int) -> RecordTooLarge:
    return RecordTooLarge(
        f"the record holds {size} bytes of metadata and payload, over the limit of "
        f"{limit} (max_record)"
    )


def frame(kind: int, flags: int, meta: bytes, body: bytes) -> bytes:
    """Frame an encoded metadata block and payload as one record."""
    if len(body) + len(meta) > MAX_RECORD:
        raise _too_large(len(body) + len(meta), MAX_RECORD)
    record = b"".join((_REC.pack(SYNC, len(meta), len(body), kind, flags, 0), meta, body))
    return record + _U32.pack(crc32c(record, RESIDUE))


def encode_seal(records: int, sealed_ns: int) -> bytes:
    """The seal record that ends a complete archive."""
    return frame(RECORD_SEAL, 0, b"", _SEAL.pack(records, sealed_ns))


def decode_seal(data: bytes) -> tuple[int, int]:
    """(record count, sealed at ns) from a seal record's payload."""
    records, sealed = _SEAL.unpack(data)
    return int(records), int(sealed)


REC_STRUCT = _REC
U32 = _U32
_pack_head = _REC.pack
_pack_u32 = _U32.pack
