"""Reading archives in shoebox format 1, so that existing event files stay readable.

Format 1 has no file header: a file is a run of records, each introduced by
a preamble (the marker ``0x69867884`` and the record version ``1``) followed
by three native little-endian ints (metadata block length, raw block length,
a zero end-of-header marker), the metadata block (a count, a table of string
lengths, then the key and value strings) and the raw block (a length, then
the payload bytes).  ``docs/archive-format.md`` gives the layout and the
assumptions made where the original description is silent.

Format 1 has no checksums.  The reader checks all the framing it can (marker,
version, zero marker, lengths that add up, UTF-8 metadata) and skips what
does not fit, but damage inside a payload cannot be detected.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from entrepot.archive.format import MAX_BLOCK, Record
from entrepot.archive.scan import Buffer, DamageHook, ScanState

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
    """The metadata block: a count, that many int lengths, then the strings.

    The count is the number of strings (two per key/value pair).  Writers that
    stored the number of pairs instead are also accepted: whichever reading
    makes the lengths add up to the block wins.
    """
    if len(block) < 4:
        raise ValueError("metadata block is shorter than its count")
    (count,) = _INT.unpack_from(block)
    for strings in (count, count * 2):
        if strings < 0 or strings % 2 or 4 + 4 * strings > len(block):
            continue
        lengths = struct.unpack_from(f"<{strings}i", block, 4)
        start = 4 + 4 * strings
        if min(lengths, default=0) < 0 or start + sum(lengths) != len(block):
            continue
        values = []
        pos = start
        for length in lengths:
            values.append(block[pos : pos + length].decode("utf-8"))
            pos += length
        return dict(zip(values[::2], values[1::2], strict=True))
    raise ValueError("metadata lengths do not add up")


def scan_v1(buffer: Buffer, state: ScanState, damage: DamageHook) -> Iterator[Record]:
    """Yield every well-framed format-1 record; payloads are returned as bytes."""
    while True:
        if not buffer.fill(_FIXED):
            if buffer.pos < len(buffer.buf):
                state.torn_at = buffer.offset
            return
        buf = buffer.buf
        pos = buffer.pos
        offset = buffer.offset
        marker, version = PREAMBLE.unpack_from(buf, pos)
        mlen, rlen, eor = HEADER.unpack_from(buf, pos + PREAMBLE.size)
        if (
            marker != V1_MARKER
            or version != V1_VERSION
            or eor != 0
            or not 4 <= mlen <= MAX_BLOCK
            or not 4 <= rlen <= MAX_BLOCK
        ):
            reason = "bad record marker" if marker != V1_MARKER else "bad record header"
            if marker == V1_MARKER and version != V1_VERSION:
                reason = f"unknown record version {version}"
            damage(offset, reason)
            if not buffer.resync(MARKER_BYTES, pos + 1):
                return
            continue
        total = _FIXED + mlen + rlen
        if not buffer.fill(total):
            # Without checksums a later marker proves little: treat the rest as torn.
            state.torn_at = offset
            buffer.pos = len(buffer.buf)
            return
        buf = buffer.buf
        pos = buffer.pos
        mstart = pos + _FIXED
        rstart = mstart + mlen
        (plen,) = _INT.unpack_from(buf, rstart)
        if plen != rlen - 4:
            damage(offset, "payload length does not match its block")
            buffer.resync(MARKER_BYTES, pos + 1)
            continue
        try:
            metadata = decode_v1_metadata(buf[mstart:rstart])
        except (ValueError, struct.error) as exc:
            damage(offset, f"bad metadata block: {exc}")
            buffer.resync(MARKER_BYTES, pos + 1)
            continue
        buffer.pos = pos + total
        yield Record(metadata, buf[rstart + 4 : rstart + rlen], offset)
