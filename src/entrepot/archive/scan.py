"""Walking the records of a version-2 archive stream, surviving any damage.

The scanner reads the stream in large chunks and parses records out of an
in-memory buffer.  Damage never stops it from making progress: a record
whose header fails its checksum is skipped by searching for the next sync
marker after it, one whose body fails is skipped by its (checked) length,
and a stream that ends inside a record is a *torn tail*.  Every step either
consumes bytes or ends the scan, so no input can make it loop forever.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Generator, Iterator
from typing import Protocol

from crc32c import crc32c

from entrepot.archive.format import (
    FLAG_NUL_METADATA,
    MAX_BLOCK,
    PAYLOAD_BYTES,
    PAYLOAD_JSON,
    PAYLOAD_TEXT,
    PAYLOAD_TYPES,
    REC_HEADER_SIZE,
    REC_OVERHEAD,
    REC_STRUCT,
    RECORD_SEAL,
    RESIDUE,
    SYNC,
    U32,
    Record,
    decode_metadata,
    decode_payload,
    decode_seal,
)
from entrepot.errors import CorruptRecord

#: Longest run of records checked with one CRC call (small, so that damage
#: costs little re-reading).
RUN = 1 << 16

# The fixed record header without the sync marker and the reserved bytes.
_LENGTHS = struct.Struct("<4xIIBB2x")

#: How much is read from the stream at a time: small enough that the records
#: are still in the processor's cache when they are parsed.
CHUNK = 1 << 20


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class StreamDamaged(CorruptRecord):
    """The underlying (compressed) stream could not be read any further."""


class Buffer:
    """A read-ahead window over a stream; ``base`` is the offset of ``buf[0]``."""

    def __init__(self, stream: Readable, *, chunk: int = CHUNK) -> None:
        self.stream = stream
        self.buf = b""
        self.pos = 0
        self.base = 0
        self.eof = False
        self.chunk = chunk

    def fill(self, need: int) -> bool:
        """Make ``need`` bytes available from ``pos``; False if the stream ends first."""
        while len(self.buf) - self.pos < need and not self.eof:
            try:
                chunk = self.stream.read(max(self.chunk, need - (len(self.buf) - self.pos)))
            except Exception as exc:
                self.eof = True
                raise StreamDamaged(f"{type(exc).__name__}: {exc}") from exc
            if not chunk:
                self.eof = True
                break
            self.base += self.pos
            self.buf = self.buf[self.pos :] + chunk
            self.pos = 0
        return len(self.buf) - self.pos >= need

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def resync(self, marker: bytes, start: int) -> bool:
        """Move to the next ``marker`` at or after buffer index ``start``; False at the end."""
        while True:
            found = self.buf.find(marker, start)
            if found >= 0:
                self.pos = found
                return True
            # Keep a possible partial marker at the end of the window.
            self.pos = max(start, len(self.buf) - len(marker) + 1)
            if self.eof or not self.fill(len(self.buf) - self.pos + 1):
                self.pos = len(self.buf)
                return False
            start = self.pos


class ScanState:
    """What a scan found besides records: damage, a torn tail, the seal."""

    def __init__(self) -> None:
        self.sealed_count: int | None = None
        self.torn_at: int | None = None
        self.after_seal = False
        #: Offset just past the last intact record (or the header): where to cut a torn file.
        self.good_end = 0


DamageHook = Callable[[int, str], None]


def scan_v2(
    buffer: Buffer,
    state: ScanState,
    damage: DamageHook,
    on_end: Callable[[], None] | None = None,
) -> Iterator[Record]:
    """Yield every intact record; report damage through ``damage(offset, reason)``.

    ``on_end`` is called once the scan is over (exhausted, failed or closed).
    """
    unpack = REC_STRUCT.unpack_from
    lengths = _LENGTHS.unpack_from
    u32 = U32.unpack_from
    new_record = tuple.__new__
    nul_form = FLAG_NUL_METADATA
    text, raw = PAYLOAD_TEXT, PAYLOAD_BYTES
    try:
        while True:
            # The hot path works on whole records in the buffer, positions in locals.
            buf = buffer.buf
            base = buffer.base
            pos = start = buffer.pos
            view = memoryview(buf)
            last = len(buf) - 4
            suspect = pos  # records before this offset must be checked one by one
            while True:
                end = pos
                if pos >= suspect:
                    # A run of records checked with one CRC call: each record's CRC
                    # starts from the residue, so an intact run has the residue as CRC.
                    stop = min(len(buf), pos + RUN)
                    while True:
                        try:
                            mlen, plen, kind, flags = lengths(buf, end)
                        except struct.error:
                            break  # fewer than 16 bytes left
                        after = end + REC_OVERHEAD + mlen + plen
                        if after > stop or kind > PAYLOAD_JSON:
                            break
                        end = after
                    if end > pos and crc32c(view[pos:end], RESIDUE) != RESIDUE:
                        suspect, end = end, pos
                if end == pos:
                    # One record on its own (after a failed run, or an unusual one).
                    try:
                        mlen, plen, kind, flags = lengths(buf, pos)
                    except struct.error:
                        break
                    pend = pos + REC_HEADER_SIZE + mlen + plen
                    if pend > last or crc32c(view[pos:pend], RESIDUE) != u32(buf, pend)[0]:
                        break  # the slow path names the damage
                    end = pend + 4
                while pos < end:
                    mlen, plen, kind, flags = lengths(buf, pos)
                    mstart = pos + REC_HEADER_SIZE
                    pstart = mstart + mlen
                    pend = pstart + plen
                    try:
                        if flags == nul_form:
                            strings = buf[mstart:pstart].decode().split("\0")
                            if len(strings) & 1:
                                break
                            pairs = iter(strings)
                            metadata = dict(zip(pairs, pairs, strict=False))
                        elif mlen:
                            metadata = decode_metadata(flags, buf[mstart:pstart])
                        else:
                            metadata = {}
                        if kind == text:
                            payload: object = buf[pstart:pend].decode()
                        elif kind == raw:
                            payload = buf[pstart:pend]
                        elif kind <= PAYLOAD_JSON:
                            payload = decode_payload(kind, buf[pstart:pend])
                        else:
                            break  # the seal, or a type the slow path reports
                    except (ValueError, struct.error):
                        break  # the slow path reports it
                    offset = base + pos
                    pos = pend + 4
                    yield new_record(Record, (metadata, payload, offset))
                if pos != end:
                    break
            buffer.pos = pos
            if pos != start:
                state.good_end = base + pos
            # The slow path: refill, damage, the seal, the end.
            if not buffer.fill(REC_OVERHEAD):
                if buffer.pos < len(buffer.buf):
                    _torn(buffer, state, damage, "record header")
                    continue
                return
            pos = buffer.pos
            buf = buffer.buf
            sync, mlen, plen, _kind, _flags, _res = unpack(buf, pos)
            if sync != SYNC or mlen > MAX_BLOCK or plen > MAX_BLOCK:
                damage(buffer.base + pos, "damaged record header")
                buffer.resync(SYNC, pos + 1)
                continue
            end = pos + REC_HEADER_SIZE + mlen + plen + 4
            if end > len(buf):
                if not buffer.fill(end - pos):
                    _torn(buffer, state, damage, "record")
                    continue
                # Whole now: let the hot path take it.
                continue
            if (yield from _special(buffer, state, damage)) is False:
                return
    finally:
        if on_end is not None:
            on_end()


def _special(buffer: Buffer, state: ScanState, damage: DamageHook) -> Generator[Record, None, bool]:
    """Handle one buffered record the fast path declined; return False to end the scan."""
    buf = buffer.buf
    pos = buffer.pos
    offset = buffer.base + pos
    _sync, mlen, plen, kind, flags, _res = REC_STRUCT.unpack_from(buf, pos)
    mstart = pos + REC_HEADER_SIZE
    pstart = mstart + mlen
    pend = pstart + plen
    if crc32c(buf[pos:pend], RESIDUE) != U32.unpack_from(buf, pend)[0]:
        # The lengths are not trusted either: look for the next record after this one.
        damage(offset, "record checksum mismatch")
        buffer.resync(SYNC, pos + 1)
        return True
    buffer.pos = pend + 4
    try:
        if kind == RECORD_SEAL:
            state.sealed_count = decode_seal(buf[pstart:pend])[0]
            state.good_end = offset + pend + 4 - pos
            if buffer.fill(1):
                state.after_seal = True
                damage(buffer.offset, "data after the seal record")
            return False
        if kind not in PAYLOAD_TYPES:
            damage(offset, f"unknown record type {kind}")
            return True
        metadata = decode_metadata(flags, buf[mstart:pstart])
        payload = decode_payload(kind, buf[pstart:pend])
    except (ValueError, struct.error) as exc:
        # The checksum matched, so the writer itself produced this: still never return it.
        damage(offset, f"undecodable record: {exc}")
        return True
    state.good_end = offset + pend + 4 - pos
    yield tuple.__new__(Record, (metadata, payload, offset))
    return True


def _torn(buffer: Buffer, state: ScanState, damage: DamageHook, what: str) -> None:
    """The stream ends inside a record: a torn tail, unless intact records follow.

    Only called once the stream is exhausted, so the buffer holds all the rest.
    """
    offset = buffer.offset
    buf = buffer.buf
    candidate = buf.find(SYNC, buffer.pos + 1)
    while candidate >= 0:
        if _intact_at(buf, candidate):
            # An intact record follows, so this was damage, not a tail.
            damage(offset, f"truncated {what}")
            buffer.pos = candidate
            return
        candidate = buf.find(SYNC, candidate + 1)
    state.torn_at = offset
    buffer.pos = len(buf)


def _intact_at(buf: bytes, pos: int) -> bool:
    if pos + REC_OVERHEAD > len(buf):
        return False
    _, mlen, plen, *_ = REC_STRUCT.unpack_from(buf, pos)
    end = pos + REC_HEADER_SIZE + mlen + plen
    return end + 4 <= len(buf) and bool(
        crc32c(buf[pos:end], RESIDUE) == U32.unpack_from(buf, end)[0]
    )
