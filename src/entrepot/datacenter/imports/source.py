"""Reading an import file: its header, its text and its rows, chunk by chunk.

Arrow reads the chunks while it reads them exactly as the ``csv`` module
would (:mod:`.arrow_reader`); from the first chunk it cannot, the ``csv``
module reads the rest (:mod:`.csv_rows`).  Either way every chunk is
numbered from the start of the file, so an interrupted import finds its
chunks again.  Every read stays within the import's limits (:mod:`.limits`).
"""

from __future__ import annotations

import codecs
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from entrepot.datacenter.csvfiles import open_file
from entrepot.datacenter.encodings import decode_problem
from entrepot.datacenter.imports import arrow_reader
from entrepot.datacenter.imports.csv_rows import RowReader
from entrepot.datacenter.imports.limits import (
    READ_SIZE,
    GuardedStream,
    is_compressed,
    open_guarded,
    open_guarded_text,
)
from entrepot.datacenter.imports.options import ImportOptions
from entrepot.datacenter.imports.row_checks import CheckedChunk, RowChecker
from entrepot.errors import ImportFailed
from entrepot.logs import log_event

if TYPE_CHECKING:
    from entrepot.datacenter.imports.check_ahead import CheckWorker

logger = logging.getLogger(__name__)

#: A chunk's number, its row count and its checks (``None``: committed before).
NumberedChunk = tuple[int, int, CheckedChunk | None]

#: Bytes Arrow may read ahead of the rows it has given (it parses blocks on
#: every processor and queues them): measured at 34 MiB on two processors.
ARROW_READ_AHEAD = 48 * arrow_reader.BLOCK_SIZE


class SourceFile:
    """The file of one import, read as ``options`` say (encoding, chunk size, limits)."""

    def __init__(self, path: Path, name: str, options: ImportOptions) -> None:
        self.path = path
        self.name = name
        self.options = options
        #: The file being read now, for the progress fraction.
        self.reading: GuardedStream | None = None

    def header(self) -> list[str]:
        with self._text() as handle:
            reader = self._rows(handle)
            header = self._read(reader, 1)
        if not header:
            raise ImportFailed(f"{self.name}: the file is empty (no header line)")
        if reader.unclosed:
            raise ImportFailed(f"{self.name}: a quote opened in the header line is never closed")
        return header[0]

    def digest(self) -> str:
        """SHA-256 of the file's bytes, having read its whole text once within the limits.

        So no chunk fails halfway for text that does not decode, a line too
        long or a decompressed size too large.
        """
        decoder = codecs.getincrementaldecoder(self.options.encoding)()
        digest = hashlib.sha256()
        compressed = is_compressed(self.path)
        try:
            with open_guarded(self.path, self.name, self.options) as text:
                while block := text.read(READ_SIZE):
                    decoder.decode(block)
                    if not compressed:
                        digest.update(block)
            decoder.decode(b"", final=True)
        except UnicodeError as exc:
            raise self._undecodable(exc) from exc
        if compressed:  # the bytes as stored, not as decompressed
            with open_file(self.path) as raw:
                while block := raw.read(READ_SIZE):
                    digest.update(block)
        return digest.hexdigest()

    def chunks(
        self,
        checker: RowChecker,
        worker: CheckWorker | None,
        done: set[int],
        *,
        arrow: bool,
    ) -> Iterator[NumberedChunk]:
        """Every chunk, checked by ``checker`` or by ``worker``.

        ``arrow`` lets Arrow read the chunks while it can.  Committed chunks
        (``done``) are checked too, to remember their keys for the
        duplicate test of the chunks that follow.
        """
        size = self.options.chunk_size
        start = 0
        if arrow:
            span = 4 * self.options.max_field + ARROW_READ_AHEAD
            width = checker.plan.width
            end_row = arrow_reader.end_row(width)
            opened = open_guarded(self.path, self.name, self.options, span=span, end_row=end_row)
            with opened as handle:
                self.reading = handle
                try:
                    for chunk in arrow_reader.read_chunks(
                        handle,
                        width,
                        size,
                        on_batch=handle.batch_given,
                        end_marked=True,
                        max_field=self.options.max_field,
                    ):
                        checked = checker.check_columns(chunk, start * size)
                        yield start, len(chunk), None if start in done else checked
                        start += 1
                    return
                except arrow_reader.Unreadable as exc:
                    log_event(
                        logger,
                        "datacenter.csv_reader_takes_over",
                        logging.DEBUG,
                        file=self.name,
                        chunk=start,
                        reason=exc,
                    )
        for number, rows, unclosed in self.row_chunks(start):
            if worker is None:
                result = checker.check(rows, number * size, unclosed=unclosed)
            elif number not in done:
                result = worker.checked(number, rows)
            yield number, len(rows), None if number in done else result

    def row_chunks(self, start: int = 0) -> Iterator[tuple[int, list[list[str]], bool]]:
        """The chunks from number ``start`` on as the ``csv`` module reads them.

        Each comes with its number and whether its last row ended inside a
        quote never closed.
        """
        size = self.options.chunk_size
        with self._text() as handle:
            reader = self._rows(handle)
            self._read(reader, 1)
            try:
                reader.skip(start * size, size)
                number = start
                while rows := self._read(reader, size):
                    yield number, rows, reader.unclosed
                    number += 1
            except UnicodeError as exc:
                raise self._undecodable(exc) from exc

    def fraction(self) -> float | None:
        """How much of the file has been read (``None`` when that cannot be told)."""
        reading = self.reading
        if reading is None or is_compressed(self.path):
            return None
        try:
            total = self.path.stat().st_size
        except OSError:
            return None
        return min(1.0, reading.total / total) if total else None

    def _text(self) -> IO[str]:
        handle = open_guarded_text(self.path, self.name, self.options)
        self.reading = handle.buffer.raw  # type: ignore[attr-defined]
        return handle

    def _rows(self, handle: IO[str]) -> RowReader:
        return RowReader(handle, self.name, max_field=self.options.max_field)

    def _read(self, reader: RowReader, count: int) -> list[list[str]]:
        try:
            return reader.read(count)
        except UnicodeError as exc:
            raise self._undecodable(exc) from exc

    def _undecodable(self, exc: UnicodeError) -> ImportFailed:
        reason = exc.reason if isinstance(exc, UnicodeDecodeError) else decode_problem(exc)
        return ImportFailed(
            f"{self.name}: not valid {self.options.encoding} text ({reason}); "
            "import it with its encoding named"
        )
