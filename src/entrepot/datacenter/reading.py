"""Reading an import file: its header, its text and its rows, chunk by chunk.

Arrow reads the chunks while it reads them exactly as the ``csv`` module
would (:mod:`.columnar`); from the first chunk it cannot, the ``csv``
module reads the rest.  Either way every chunk is numbered from the start
of the file, so an interrupted import finds its chunks again.
"""

from __future__ import annotations

import csv
import itertools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from entrepot.datacenter import columnar
from entrepot.datacenter.csvfiles import decoded_digest, open_bytes, open_text
from entrepot.datacenter.pipeline import CheckWorker
from entrepot.datacenter.validate import CheckedChunk, RowChecker
from entrepot.errors import ImportFailed
from entrepot.logs import log_event

logger = logging.getLogger(__name__)

#: A chunk's number, its row count and its checks (``None``: committed before).
NumberedChunk = tuple[int, int, CheckedChunk | None]


class SourceFile:
    """The file of one import, read with one encoding in chunks of one size."""

    def __init__(self, path: Path, name: str, encoding: str, chunk_size: int) -> None:
        self.path = path
        self.name = name
        self.encoding = encoding
        self.chunk_size = chunk_size
        #: The file being read now, for the progress fraction.
        self.reading: IO[Any] | None = None

    def header(self) -> list[str]:
        with open_text(self.path, self.encoding) as handle:
            header = self._read(csv.reader(handle), 1)
        if not header:
            raise ImportFailed(f"{self.name}: the file is empty (no header line)")
        return header[0]

    def digest(self) -> str:
        """The file's digest; its text decoded once, so that no chunk fails halfway for that."""
        try:
            return decoded_digest(self.path, self.encoding)
        except UnicodeDecodeError as exc:
            raise self._undecodable(exc) from exc

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
        start = 0
        if arrow:
            with open_bytes(self.path) as handle:
                self.reading = handle
                width = checker.plan.width
                try:
                    for chunk in columnar.read_chunks(handle, width, self.chunk_size):
                        checked = checker.check_columns(chunk, start * self.chunk_size)
                        yield start, len(chunk), None if start in done else checked
                        start += 1
                    return
                except columnar.Unreadable as exc:
                    log_event(
                        logger,
                        "datacenter.csv_reader_takes_over",
                        logging.DEBUG,
                        file=self.name,
                        chunk=start,
                        reason=exc,
                    )
        with open_text(self.path, self.encoding) as handle:
            self.reading = handle
            reader = csv.reader(handle)
            self._skip(reader, 1 + start * self.chunk_size)
            for number in itertools.count(start):
                rows = self._read(reader, self.chunk_size)
                if not rows:
                    return
                if worker is None:
                    result = checker.check(rows, number * self.chunk_size)
                elif number not in done:
                    result = worker.checked(number, rows)
                yield number, len(rows), None if number in done else result

    def fraction(self) -> float | None:
        """How much of the file has been read (``None`` when that cannot be told)."""
        buffer = getattr(self.reading, "buffer", self.reading)
        raw = getattr(buffer, "raw", None)
        if raw is None or not hasattr(raw, "tell"):
            return None
        try:
            total = self.path.stat().st_size
            return min(1.0, raw.tell() / total) if total else None
        except (OSError, ValueError):
            return None

    def _skip(self, reader: Any, count: int) -> None:
        while count > 0 and (skipped := len(self._read(reader, min(count, self.chunk_size)))):
            count -= skipped

    def _read(self, reader: Any, count: int) -> list[list[str]]:
        try:
            return list(itertools.islice(reader, count))
        except UnicodeDecodeError as exc:
            raise self._undecodable(exc) from exc
        except csv.Error as exc:
            raise ImportFailed(f"{self.name}: not readable as CSV: {exc}") from exc

    def _undecodable(self, exc: UnicodeDecodeError) -> ImportFailed:
        return ImportFailed(
            f"{self.name}: not valid {self.encoding} text ({exc.reason}); "
            "import it with its encoding named"
        )
