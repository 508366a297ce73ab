"""Compressing sealed archives and recognising compressed ones by their content.

zstd is the default (fast, with a frame checksum); gzip is there for tools
that only know it.  Readers never trust a file name: :func:`detect` looks at
the first bytes.  A compressed archive exists only once it is sealed, so a
compressed stream that stops short is damage: the gzip reader says so itself
(after what it decoded before the cut: :class:`GzipMembers`), and
:func:`zstd_incomplete` walks the zstd frames to find out (the zstd stream
reader ends quietly at a cut).
"""

from __future__ import annotations

import gzip
import os
import shutil
import zlib
from pathlib import Path
from typing import IO, Any, Literal

import zstandard

from entrepot.errors import ConfigError, CorruptRecord

Compression = Literal["zstd", "gzip"]

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
#: File name suffix of each compression.
SUFFIXES: dict[str, str] = {"zstd": ".zst", "gzip": ".gz"}
#: zstd level 1: on event archives it seals about 2.5 times faster than the
#: library default (level 3) for output about 5 % larger (bench/bench_archive.py).
ZSTD_LEVEL = 1
GZIP_LEVEL = 6


def check_compression(value: str | None) -> Compression | None:
    """Normalise a compression name (``none``, ``zstd``/``zst``, ``gzip``/``gz``)."""
    if value is None or value.lower() in {"", "none", "off", "no"}:
        return None
    aliases: dict[str, Compression] = {"zstd": "zstd", "zst": "zstd", "gzip": "gzip", "gz": "gzip"}
    try:
        return aliases[value.lower()]
    except KeyError:
        raise ConfigError(f"unknown compression {value!r} (use zstd, gzip or none)") from None


def plain_name(name: str) -> str:
    """``name`` without the suffix a compression added to it (``x.events.zst`` → ``x.events``)."""
    for suffix in SUFFIXES.values():
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def detect(prefix: bytes) -> Compression | None:
    """The compression of a file whose first bytes are ``prefix``, or None if plain."""
    if prefix.startswith(ZSTD_MAGIC):
        return "zstd"
    if prefix.startswith(GZIP_MAGIC):
        return "gzip"
    return None


def open_decompressed(raw: IO[bytes], kind: Compression | None) -> IO[bytes]:
    """A readable stream of the uncompressed content of ``raw``."""
    if kind == "zstd":
        reader: IO[bytes] = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return reader
    if kind == "gzip":
        return GzipMembers(raw)  # type: ignore[return-value]
    return raw


#: Compressed bytes read at a time by :class:`GzipMembers`.
_GZIP_INPUT = 1 << 16


class GzipMembers:
    """The uncompressed content of a gzip file of one or more members, read as a stream.

    Unlike :class:`gzip.GzipFile`, whose ``read`` drops what it decoded in a
    call that then meets the damage or the cut, every byte decoded before the
    damage is returned; the next read raises (:class:`EOFError` for a file
    that stops inside a member, :class:`gzip.BadGzipFile` for damaged data).  Zero
    bytes after a member are padding, as gzip itself allows.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._inflate: Any = None  # the member being decoded (None: between members)
        self._input = b""
        self._failure: Exception | None = None

    def read(self, size: int = -1) -> bytes:
        if self._failure is not None:
            raise self._failure
        out: list[bytes] = []
        got = 0
        while size < 0 or got < size:
            if not self._input:
                self._input = self._raw.read(_GZIP_INPUT)
                if not self._input:
                    if self._inflate is not None:
                        self._failure = EOFError("the gzip data ends inside a member")
                    break
            if self._inflate is None:
                self._input = self._input.lstrip(b"\0")
                if not self._input:
                    continue
                self._inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            inflate = self._inflate
            try:
                chunk = inflate.decompress(self._input, 0 if size < 0 else size - got)
            except zlib.error as exc:
                self._failure = gzip.BadGzipFile(f"damaged gzip data ({exc})")
                break
            out.append(chunk)
            got += len(chunk)
            if inflate.eof:
                self._input, self._inflate = inflate.unused_data, None
            else:
                self._input = inflate.unconsumed_tail
        if not out and self._failure is not None:
            raise self._failure
        return b"".join(out)

    def close(self) -> None:
        """Nothing to release: the file is its opener's."""


def read_prefix(raw: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes of the content of ``raw``, uncompressed (CorruptRecord if damaged)."""
    start = raw.tell()
    kind = detect(raw.read(4))
    raw.seek(start)
    try:
        return open_decompressed(raw, kind).read(size)
    except Exception as exc:
        raise CorruptRecord(f"compressed data is damaged: {type(exc).__name__}: {exc}") from exc


_ZSTD_FRAME = 0xFD2FB528
_SKIPPABLE_MASK = 0xFFFFFFF0
_SKIPPABLE = 0x184D2A50


def zstd_incomplete(raw: IO[bytes]) -> str | None:
    """What is missing at the end of the zstd file ``raw``, or None if its frames are whole.

    Reads only the frame and block headers (RFC 8878, section 3.1): each frame
    must end with its last block (and its checksum, when the frame has one)
    and the file must end where the last frame does.
    """
    raw.seek(0, os.SEEK_END)
    size = raw.tell()
    pos = 0
    while pos < size:
        raw.seek(pos)
        head = raw.read(14)
        if len(head) < 8:
            return "compressed data is truncated: the file ends inside a zstd frame header"
        magic = int.from_bytes(head[:4], "little")
        if magic & _SKIPPABLE_MASK == _SKIPPABLE:
            pos += 8 + int.from_bytes(head[4:8], "little")
            continue
        if magic != _ZSTD_FRAME:
            return f"damaged compressed data: no zstd frame at byte {pos}"
        descriptor = head[4]
        single_segment = descriptor >> 5 & 1
        content_size = (single_segment, 2, 4, 8)[descriptor >> 6]
        pos += 5 + (1 - single_segment) + (0, 1, 2, 4)[descriptor & 3] + content_size
        last = 0
        while not last:
            raw.seek(pos)
            block = int.from_bytes(raw.read(3), "little")
            last, kind, length = block & 1, block >> 1 & 3, block >> 3
            pos += 3 + (1 if kind == 1 else length)
            if pos > size:
                break
        pos += 4 * (descriptor >> 2 & 1)  # the content checksum
    if pos > size:
        return "compressed data is truncated: the file ends inside a zstd frame"
    return None


def compress_file(
    src: Path, dst: Path, kind: Compression, *, durable: bool = True, digest: Any = None
) -> int:
    """Write the compressed form of ``src`` to the new file ``dst``; return its size.

    ``dst`` is created exclusively, so an existing file is never overwritten.
    ``digest`` (a :mod:`hashlib` object) is fed the compressed bytes as they
    are written: the archive's checksum without reading it again.
    """
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    with open(fd, "wb") as file, open(src, "rb") as source:
        out: Any = file if digest is None else _Hashing(file, digest)
        if kind == "zstd":
            compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True)
            compressor.copy_stream(source, out, size=os.fstat(source.fileno()).st_size)
        else:
            with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as gz:
                shutil.copyfileobj(source, gz, 1 << 20)
        file.flush()
        if durable:
            os.fsync(file.fileno())
        return file.tell()


class _Hashing:
    """A file's ``write`` that also feeds a digest (what the compressors need of a file)."""

    def __init__(self, file: IO[bytes], digest: Any) -> None:
        self.file, self.digest = file, digest

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.file.write(data)

    def flush(self) -> None:
        self.file.flush()


def compress_bytes(data: bytes, kind: Compression) -> bytes:
    """``data`` compressed as a whole (for small archives and tests)."""
    if kind == "zstd":
        compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True)
        compressed: bytes = compressor.compress(data)
        return compressed
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
