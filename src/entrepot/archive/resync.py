"""Finding the next intact record after damage, in time linear in the bytes skipped.

After damage a reader looks for the next sync marker whose record passes its
checksum.  Checking each candidate by computing the CRC of the whole record
it claims costs the claimed length, so a file of record headers that each
claim to run to the end of the file would cost the square of its size.
Instead, the CRC of any byte range is derived from running CRCs of the
buffer (kept every :data:`STEP` bytes) and a *shift*: feeding ``n`` bytes
through the CRC register is a linear map, so
``crc(data, a) ^ crc(data, b) == shift(a ^ b, len(data))``, and
``shift`` is applied with one precomputed table per power of two of ``n``.
Each candidate then costs a few table look-ups plus at most two CRCs of
:data:`STEP` bytes, whatever length it claims.
"""

from __future__ import annotations

from functools import cache

from crc32c import crc32c

from entrepot.archive.format import REC_OVERHEAD, REC_STRUCT, RESIDUE, SYNC
from entrepot.archive.stream import Buffer

#: CRC-32C's polynomial, bit-reversed (the register shifts right).
POLY = 0x82F63B78
#: Distance between two running CRCs kept for a buffer.
STEP = 1024
#: Candidates up to this length are checked directly; longer ones through the shift.
DIRECT = 512

_Tables = tuple[list[int], list[int], list[int], list[int]]


def _zero_byte(value: int) -> int:
    """The register after one zero byte."""
    for _ in range(8):
        value = (value >> 1) ^ (POLY if value & 1 else 0)
    return value


def _apply(images: list[int], value: int) -> int:
    """The linear map whose image of bit ``i`` is ``images[i]``, applied to ``value``."""
    result = 0
    bit = 0
    while value:
        if value & 1:
            result ^= images[bit]
        value >>= 1
        bit += 1
    return result


def _byte_tables(images: list[int]) -> _Tables:
    """The map as four tables, one per byte of the register."""
    tables = []
    for byte in range(4):
        table = [0] * 256
        for value in range(1, 256):
            low = value & -value
            table[value] = table[value ^ low] ^ images[8 * byte + low.bit_length() - 1]
        tables.append(table)
    return tables[0], tables[1], tables[2], tables[3]


@cache
def _levels() -> tuple[tuple[_Tables, ...], ...]:
    """``_levels()[k][d]``: tables of "feed ``d * 16**k`` zero bytes" (built on first damage)."""
    images = [_zero_byte(1 << bit) for bit in range(32)]  # one zero byte
    levels = []
    for _ in range(8):
        power = images
        digits = [_byte_tables(images)]
        for _ in range(14):
            images = [_apply(power, image) for image in images]
            digits.append(_byte_tables(images))
        levels.append(((), *digits))
        images = [_apply(power, image) for image in images]  # 16 times the level's unit
    return tuple(levels)  # type: ignore[arg-type]


def shift(value: int, length: int) -> int:
    """What ``value`` in the CRC register becomes after ``length`` zero bytes."""
    for tables in _levels():
        digit = length & 15
        if digit:
            t0, t1, t2, t3 = tables[digit]
            value = t0[value & 255] ^ t1[value >> 8 & 255] ^ t2[value >> 16 & 255] ^ t3[value >> 24]
        length >>= 4
        if not length:
            break
    return value


class RangeCrc:
    """CRCs of ranges of one buffer, from running CRCs computed once and lazily."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.view = memoryview(buf)
        self.marks = [0]  # marks[i] == crc32c(buf[: i * STEP])

    def prefix(self, end: int) -> int:
        """``crc32c(buf[:end])``."""
        index = end // STEP
        marks = self.marks
        view = self.view
        while len(marks) <= index:
            start = (len(marks) - 1) * STEP
            marks.append(crc32c(view[start : start + STEP], marks[-1]))
        return int(crc32c(view[index * STEP : end], marks[index]))

    def intact(self, start: int, end: int) -> bool:
        """True when ``buf[start:end]`` is records whose CRCs all match (see RESIDUE)."""
        if end - start <= DIRECT:
            return bool(crc32c(self.view[start:end], RESIDUE) == RESIDUE)
        value = self.prefix(end) ^ shift(RESIDUE ^ self.prefix(start), end - start)
        return value == RESIDUE


def next_intact(buffer: Buffer, start: int, limit: int) -> tuple[bool, int | None]:
    """Move ``buffer.pos`` to the first intact record at buffer index ``start`` or later.

    Candidates claiming more than ``limit`` bytes of metadata and payload are
    passed over.  Return whether one was found (else ``buffer.pos`` is at the
    end of the stream) and the stream offset of the first candidate that
    runs past the end of the stream (None if none did).
    """
    checker: RangeCrc | None = None
    runs_past_end: int | None = None
    offset = buffer.base + start
    while True:
        buf = buffer.buf
        found = buf.find(SYNC, offset - buffer.base)
        if found < 0:
            # Keep a possible marker cut by the window's end, and read on.
            buffer.pos = max(offset - buffer.base, len(buf) - len(SYNC) + 1)
            offset = buffer.base + buffer.pos
            if not buffer.fill(len(buf) - buffer.pos + 1):
                buffer.pos = len(buffer.buf)
                return False, runs_past_end
            continue
        buffer.pos = found
        if not buffer.fill(REC_OVERHEAD):
            # Too short for any record: nothing intact can follow.
            buffer.pos = len(buffer.buf)
            return False, runs_past_end if runs_past_end is not None else buffer.base + found
        _, mlen, plen, *_ = REC_STRUCT.unpack_from(buffer.buf, buffer.pos)
        offset = buffer.offset + 1
        if mlen + plen > limit:
            continue
        length = REC_OVERHEAD + mlen + plen
        if not buffer.fill(length):
            if runs_past_end is None:
                runs_past_end = offset - 1
            continue
        if checker is None or checker.buf is not buffer.buf:
            checker = RangeCrc(buffer.buf)
        if checker.intact(buffer.pos, buffer.pos + length):
            return True, runs_past_end
