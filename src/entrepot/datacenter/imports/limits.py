"""What one source file may make an import read and hold: its bytes, watched as they come.

Every read of a source goes through a :class:`GuardedStream`, below the
``csv`` module and Arrow alike, which refuses a file

* whose decompressed text (``.csv.gz``) grows past ``max_expanded`` bytes, or
* with a line longer than ``max_record`` bytes (a line ends at LF or CR),

with :class:`~entrepot.errors.ImportFailed` — before a single row is
imported, since the import's first pass (its digest) reads the whole file.
Cells are bounded by ``max_field`` characters in the ``csv`` module.  Arrow
would read a quoted cell spanning many short lines whole, however long: for
Arrow the guard also counts the bytes read since Arrow last gave a batch of
rows, and past ``max_field`` plus its read-ahead asks the ``csv`` module to
take over (:class:`~entrepot.datacenter.imports.arrow_reader.Unreadable`),
which then decides, cell by cell.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, Any

from entrepot.datacenter.csvfiles import open_bytes
from entrepot.datacenter.imports.arrow_reader import Unreadable
from entrepot.datacenter.imports.options import ImportOptions
from entrepot.errors import ImportFailed

#: Bytes read from the file at a time under the text layer.
READ_SIZE = 1 << 20

_LF, _CR = b"\n", b"\r"


def is_compressed(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def human(size: int) -> str:
    """``1048576`` → ``1 MiB``: limits as the options are usually written."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} bytes"


class GuardedStream(io.RawIOBase):
    """The bytes of ``raw``, refused past the limits of ``options`` (see the module).

    ``span`` (Arrow only) is how many bytes may be read without Arrow giving
    a batch of rows before :class:`Unreadable` is raised; ``end_row`` (Arrow
    only) is given after the file's text, on a line of its own.
    """

    def __init__(
        self,
        raw: Any,
        name: str,
        options: ImportOptions,
        *,
        compressed: bool,
        span: int | None = None,
        end_row: bytes | None = None,
    ) -> None:
        super().__init__()
        self.raw = raw
        self.name = name
        self.max_record = options.max_record
        self.max_expanded = options.max_expanded if compressed else None
        self.span = span
        #: Given once after the file's last byte (see ``arrow_reader.end_row``).
        self._end_row = end_row
        self._last = b"\n"
        #: Bytes read so far.
        self.total = 0
        #: Bytes read since Arrow last gave a batch of rows (it resets this).
        self.since_batch = 0
        self._line = 0
        # Read and watched a block at a time, whatever size the reader asks for
        # (a text layer asks for 8 KiB): what it has not taken yet.
        self._block = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if not self._block:
            self._block = memoryview(self._next_block())
        count = min(len(buffer), len(self._block))
        buffer[:count] = self._block[:count]
        self._block = self._block[count:]
        return count

    def _next_block(self) -> bytes:
        data: bytes = self.raw.read(READ_SIZE)
        if data:
            self._watch(data)
            self._last = data[-1:]
        elif self._end_row is not None:
            data, self._end_row = self._end_row, None
            if self._last not in (_LF, _CR):
                data = _LF + data
        return data

    def batch_given(self) -> None:
        """Arrow gave a batch of rows: its reading is on track."""
        self.since_batch = 0

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            super().close()

    def _watch(self, data: bytes) -> None:
        self.total += len(data)
        self.since_batch += len(data)
        if self.max_expanded is not None and self.total > self.max_expanded:
            raise ImportFailed(
                f"{self.name}: the decompressed text is larger than the limit of "
                f"{human(self.max_expanded)} (max_expanded)"
            )
        first = _first_line_end(data)
        if first < 0:
            self._line += len(data)
            longest = self._line
        else:
            longest = self._line + first
            if len(data) > self.max_record:
                longest = max(longest, _longest_inner(data))
            self._line = len(data) - max(data.rfind(_LF), data.rfind(_CR)) - 1
            longest = max(longest, self._line)
        if longest > self.max_record:
            raise ImportFailed(
                f"{self.name}: a line is longer than the limit of {human(self.max_record)} "
                "(max_record)"
            )
        if self.span is not None and self.since_batch > self.span:
            raise Unreadable(f"no complete row in the last {human(self.since_batch)} read")


def _first_line_end(data: bytes) -> int:
    ends = [p for p in (data.find(_LF), data.find(_CR)) if p >= 0]
    return min(ends) if ends else -1


def _longest_inner(data: bytes) -> int:
    """The longest run between two line ends inside ``data`` (only for tiny limits)."""
    runs = data.replace(_CR, _LF).split(_LF)
    return max(map(len, runs[1:-1]), default=0)


def open_guarded(path: Path, name: str, options: ImportOptions, **arrow: Any) -> GuardedStream:
    """The source's bytes (decompressed for ``.gz``), watched by a :class:`GuardedStream`.

    ``arrow`` passes ``span`` and ``end_row`` on, for Arrow.
    """
    compressed = is_compressed(path)
    # Unbuffered: the guard and the layers above it buffer already.
    raw: Any = open_bytes(path, buffering=0)
    return GuardedStream(raw, name, options, compressed=compressed, **arrow)


def open_guarded_text(path: Path, name: str, options: ImportOptions) -> IO[str]:
    """The source's text, in its encoding, with line ends as the ``csv`` module wants them."""
    buffered = io.BufferedReader(open_guarded(path, name, options), READ_SIZE)
    return io.TextIOWrapper(buffered, encoding=options.encoding, newline="")
