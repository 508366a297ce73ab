"""Reading archives in shoebox format 1, so that existing event files stay readable.

Format 1 has no file header: a file is a run of records, each introduced by
a preamble (the marker ``0x69867884`` and the record version ``1``) followed
by three native ints (metadata block length, raw block length, a zero
end-of-header marker), the metadata block and the raw block (a length, then
the payload bytes).  This module reads the bytes exactly as shoebox's own
``disk_storage.Version1`` lays them out; ``docs/archive-format.md`` gives
the layout, including the odd count field of the metadata block.

Format 1 has no checksums.  The reader checks all the framing it can (marker,
version, zero marker, lengths that add up, UTF-8 metadata) and skips what
does not fit, but damage inside a payload cannot be detected.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from entrepot.archive.format import Record, decode_length_table
from entrepot.archive.scan import DamageHook, ScanState
from entrepot.archive.stream import Buffer

#: Record marker of format 1 (the bytes spell "EVNT" in decimal ASCII codes).
V1_MARKER = 0x69867884
V1_VERSION = 1
PREAMBLE = struct.Struct("<ih")
HEADER = struct.Struct("<iii")
MARKER_BYTES = struct.pack("<i", V1_MARKER)
_INT = struct.Struct("<i")
_FIXED = PREAMBLE.size + HEADER.size


def looks_like_v1(prefix: bytes) -> bool:
    """True when ``prefix`` starts with a format-1 record marker."""
    return prefix.startswith(MARKER_BYTES)


def record_version(prefix: bytes) -> int:
    """The version of the first record in ``prefix``."""
    return int(PREAMBLE.unpack_from(prefix)[1])


def decode_v1_metadata(block: bytes) -> dict[str, str]:
    """The metadata block: a count field, the string lengths, then the keys and values.

    shoebox's writer stores four times the number of key/value pairs in the
    count field and its reader takes half of that as the number of lengths
    (two per pair), so half the count is what is read here too.
    """
    if len(block) < 4:
        raise ValueError("metadata block is shorter than its count")
    (count,) = _INT.unpack_from(block)
    if count < 0:
        raise ValueError("negative metadata count")
    return decode_length_table(block, count // 2, "i")


def scan_v1(buffer: Buffer, state: ScanState, damage: DamageHook) -> Iterator[Record]:
    """Yield every well-framed format-1 record; payloads are returned as bytes."""
    while True:
        if not buffer.fill(_FIXED):
            if buffer.pos < len(buffer.buf):
                state.torn_at = buffer.offset
            return
        buf = buffer.buf
        pos = buffer.pos
        marker, version = PREAMBLE.unpack_from(buf, pos)
        mlen, rlen, eor = HEADER.unpack_from(buf, pos + PREAMBLE.size)
        if marker != V1_MARKER or version != V1_VERSION or eor != 0 or mlen < 4 or rlen < 4:
            reason = "bad record marker" if marker != V1_MARKER else "bad record header"
            if marker == V1_MARKER and version != V1_VERSION:
                reason = f"unknown record version {version}"
            _skip(buffer, damage, reason)
            continue
        if mlen + rlen > state.max_record + 8:
            _skip(buffer, damage, f"a record claims {mlen + rlen} bytes, over the limit of "
                  f"{state.max_record} (max_record)")  # fmt: skip
            continue
        total = _FIXED + mlen + rlen
        if not buffer.fill(total):
            # Without checksums a later marker proves little: treat the rest as torn.
            state.torn_at = buffer.offset
            buffer.pos = len(buffer.buf)
            return
        buf = buffer.buf
        pos = buffer.pos
        mstart = pos + _FIXED
        rstart = mstart + mlen
        (plen,) = _INT.unpack_from(buf, rstart)
        if plen != rlen - 4:
            _skip(buffer, damage, "payload length does not match its block")
            continue
        try:
            metadata = decode_v1_metadata(buf[mstart:rstart])
        except (ValueError, struct.error) as exc:
            _skip(buffer, damage, f"bad metadata block: {exc}")
            continue
        buffer.pos = pos + total
        yield Record(metadata, buf[rstart + 4 : rstart + rlen], buffer.base + pos)


def _skip(buffer: Buffer, damage: DamageHook, reason: str) -> None:
    """Report the record at ``buffer.pos`` as damage, up to the next record marker."""
    offset = buffer.offset
    buffer.resync(MARKER_BYTES, buffer.pos + 1)
    damage(offset, reason, buffer.offset - offset)
