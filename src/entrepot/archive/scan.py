"""Walking the records of a version-2 archive stream, surviving any damage.

The scanner reads the stream in large chunks and parses records out of an
in-memory buffer (:mod:`entrepot.archive.stream`).  Damage never stops it
from making progress: after a record that fails its checksum, or a header
that cannot be a record's, it moves to the next intact record
(:mod:`entrepot.archive.resync`, linear in the bytes skipped) and reports
the skipped span once; a stream that ends inside a record is a *torn
tail*.  Every step either consumes bytes or ends the scan, so no input can
make it loop forever.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Generator, Iterator
from typing import Protocol

from crc32c import crc32c

from entrepot.archive.format import (
    FLAG_NUL_METADATA,
    MAX_RECORD,
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
from entrepot.archive.resync import next_intact
from entrepot.archive.stream import Buffer

#: Longest run of records checked with one CRC call (small, so that damage
#: costs little re-reading).
RUN = 1 << 16

# The fixed record header without the sync marker and the reserved bytes.
_LENGTHS = struct.Struct("<4xIIBB2x")


class ScanState:
    """What a scan found besides records: a torn tail, the seal, where to cut."""

    def __init__(self, max_record: int = MAX_RECORD) -> None:
        #: Largest metadata + payload accepted; a longer record is damage, never buffered.
        self.max_record = max_record
        #: The record count the seal record states (None if not sealed).
        self.sealed_count: int | None = None
        #: Offset where the stream ended inside a record, if it did.
        self.torn_at: int | None = None
        self.after_seal = False
        #: Offset just past the last intact record (or the header): where to cut a torn file.
        self.good_end = 0


class DamageHook(Protocol):
    """Told about each damaged span: where it starts, why, and how many bytes were skipped."""

    def __call__(self, offset: int, reason: str, skipped: int = 0, /) -> None: ...


def scan_v2(
    buffer: Buffer,
    state: ScanState,
    damage: DamageHook,
    on_end: Callable[[], None] | None = None,
) -> Iterator[Record]:
    """Yield every intact record; report damage through ``damage(offset, reason, skipped)``.

    ``on_end`` is called once the scan is over (exhausted, failed or closed).
    """
    unpack = REC_STRUCT.unpack_from
    lengths = _LENGTHS.unpack_from
    u32 = U32.unpack_from
    new_record = tuple.__new__
    nul_form = FLAG_NUL_METADATA
    text, raw = PAYLOAD_TEXT, PAYLOAD_BYTES
    limit = state.max_record
    # A run is never longer than one record may be, so no record in it can be too long.
    run = min(RUN, limit + REC_OVERHEAD)
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
                    stop = min(len(buf), pos + run)
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
                    if (
                        pend > last
                        or mlen + plen > limit
                        or crc32c(view[pos:pend], RESIDUE) != u32(buf, pend)[0]
                    ):
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
                    _skip(buffer, state, damage, None)
                    continue
                return
            pos = buffer.pos
            sync, mlen, plen, _kind, _flags, _res = unpack(buffer.buf, pos)
            if sync != SYNC:
                _skip(buffer, state, damage, "damaged record header")
                continue
            if mlen + plen > limit:
                _skip(buffer, state, damage, f"a record claims {mlen + plen} bytes, over the "
                      f"limit of {limit} (max_record)")  # fmt: skip
                continue
            if not buffer.fill(REC_OVERHEAD + mlen + plen):
                _skip(buffer, state, damage, None)
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
    if crc32c(memoryview(buf)[pos:pend], RESIDUE) != U32.unpack_from(buf, pend)[0]:
        # The lengths are not trusted either: look for the next record after this one.
        _skip(buffer, state, damage, "record checksum mismatch")
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
            damage(offset, f"unknown record type {kind}", pend + 4 - pos)
            return True
        metadata = decode_metadata(flags, buf[mstart:pstart])
        payload = decode_payload(kind, buf[pstart:pend])
    except (ValueError, struct.error) as exc:
        # The checksum matched, so the writer itself produced this: still never return it.
        damage(offset, f"undecodable record: {exc}", pend + 4 - pos)
        return True
    state.good_end = offset + pend + 4 - pos
    yield tuple.__new__(Record, (metadata, payload, offset))
    return True


def _skip(buffer: Buffer, state: ScanState, damage: DamageHook, reason: str | None) -> None:
    """Move past the record at ``buffer.pos`` to the next intact one; report the span once.

    ``reason`` None means the record runs past the end of the stream: a torn
    tail if nothing intact follows, damage otherwise.
    """
    offset = buffer.offset
    found, runs_past_end = next_intact(buffer, buffer.pos + 1, state.max_record)
    if reason is None:
        if found:
            damage(offset, "truncated record", buffer.offset - offset)
        else:
            state.torn_at = offset
        return
    if found or runs_past_end is None:
        damage(offset, reason, buffer.offset - offset)
    else:
        # What follows the damage is a record cut short by the end: a torn tail.
        damage(offset, reason, runs_past_end - offset)
        state.torn_at = runs_past_end
