"""Reading and checking chunks column-wise with Apache Arrow.

The ``csv`` module and per-cell Python tests cost most of a large import.
Arrow's CSV reader parses blocks of the file in C++ on every processor, and
its compute kernels test a whole column at once (a regular expression, a set,
a length), so that a clean chunk reaches :mod:`.fast_path` without a Python
object per cell — on PostgreSQL none at all but the keys.

Arrow reads a file only where it reads it exactly as ``csv.reader`` would
(:func:`readable`, and :class:`Unreadable` raised mid-file): every cell a
string, quoting as Excel writes it.  Where it cannot — a row with a missing or
extra cell, a blank line, an unterminated quote, a carriage return inside a
cell (which Arrow misreads where it ends a parsing block), another encoding —
the import goes on from that chunk with the ``csv`` module, whose general path
words every problem.  Property tests compare the two readers
(``tests/unit/test_dc_arrow_reader.py``).

Arrow comes with the ``arrow`` extra (``pip install 'entrepot[arrow]'``);
without it the ``csv`` module reads every file, with the same outcome.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Callable, Iterator, Sequence, Set
from typing import IO, Any

try:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.csv as pcsv  # type: ignore[import-untyped]
except ImportError:  # without the "arrow" extra, the csv module reads every file
    AVAILABLE = False
else:
    AVAILABLE = True

#: Bytes Arrow parses at a time (one block per processor at once).
BLOCK_SIZE = 1 << 20


class Unreadable(Exception):
    """Arrow cannot read the rest of the file as ``csv.reader`` would."""


#: The first cell of the row put after a file's text (NUL keeps it out of real text).
END_MARK = "\x00entrepot:end-of-file\x00"


def end_row(width: int) -> bytes:
    """The row of ``width`` cells read after the file's text (see :func:`read_chunks`).

    Arrow takes a quote never closed as a cell running to the end of the
    file, and says nothing; the row shows it: read as a row of its own, the
    file ended normally; found inside the last cell, that cell was open.
    """
    return (END_MARK + "," * (width - 1) + "\n").encode()


def readable(encoding: str, header: Sequence[str]) -> bool:
    """Whether Arrow may read a file in ``encoding`` with ``header`` (checked further per block)."""
    if not AVAILABLE or codecs.lookup(encoding).name not in ("utf-8", "utf-8-sig"):
        return False
    # The header is skipped as one line: it must be one.
    return not any("\n" in name or "\r" in name for name in header)


def read_chunks(
    handle: IO[bytes] | io.RawIOBase,
    width: int,
    chunk_size: int,
    *,
    on_batch: Callable[[], None] | None = None,
    end_marked: bool = False,
    max_field: int | None = None,
) -> Iterator[ArrowChunk]:
    """The data rows after the header line, ``chunk_size`` rows at a time.

    Raises :class:`Unreadable` before a chunk that Arrow cannot read exactly
    as ``csv.reader`` would; every chunk yielded before it is right.
    ``on_batch`` is called each time Arrow gives a batch of rows.
    ``end_marked`` says that ``handle`` ends with :func:`end_row`: a quote
    never closed is then found, and left to the ``csv`` module.  A chunk
    with a cell of more than ``max_field`` bytes is left to it too (it
    counts characters, and refuses the cell if it holds too many).
    """
    names = [f"c{position}" for position in range(width)]
    reader = _open(handle, names)
    pending: list[Any] = []
    count = 0
    # Keep the last row back until the end: it may be the end row.
    held = 1 if end_marked else 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid as exc:
            raise Unreadable(str(exc)) from exc
        if on_batch is not None:
            on_batch()
        pending.append(batch)
        count += batch.num_rows
        while count >= chunk_size + held:
            table = pa.Table.from_batches(pending)
            yield _checked(table.slice(0, chunk_size), max_field)
            rest = table.slice(chunk_size)
            pending = rest.to_batches()
            count = rest.num_rows
    if end_marked:
        last = pa.Table.from_batches(pending) if count else None
        if last is None or last.column(0)[-1].as_py() != END_MARK:
            raise Unreadable("a quote is never closed, or the end row was not read as written")
        pending, count = last.slice(0, count - 1).to_batches(), count - 1
    if count:
        yield _checked(pa.Table.from_batches(pending), max_field)


def _open(handle: IO[bytes] | io.RawIOBase, names: list[str]) -> Any:
    try:
        return pcsv.open_csv(
            handle,
            read_options=pcsv.ReadOptions(column_names=names, skip_rows=1, block_size=BLOCK_SIZE),
            # A blank line is a row of empty cells here, caught by _checked.
            parse_options=pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise Unreadable(str(exc)) from exc


def _checked(table: Any, max_field: int | None = None) -> ArrowChunk:
    """``table`` as a chunk, unless Arrow may have read it otherwise than csv.reader."""
    if max_field is not None:
        for column in table.columns:
            longest = pc.max(pc.binary_length(column)).as_py()
            if longest is not None and longest > max_field:
                raise Unreadable(f"a cell of {longest} bytes: the csv module measures it")
    # A carriage return inside a quoted cell can be misread by Arrow when it
    # ends a block (the line feed after it is lost): leave such cells to csv.
    for column in table.columns:
        if _all_or_any(pc.any, pc.match_substring(column, "\r")):
            raise Unreadable("a cell holds a carriage return")
    # csv.reader gives a blank line as a row without cells, which Arrow
    # cannot tell from a row of empty cells: leave such chunks to csv.
    empty = None
    for column in table.columns:
        blank = pc.equal(column, "")
        empty = blank if empty is None else pc.and_(empty, blank)
        if not _all_or_any(pc.any, empty):
            # Usually decided by the first column, a key seldom empty.
            return ArrowChunk(table)
    if empty is not None:
        raise Unreadable("a row without any cell (a blank line?)")
    return ArrowChunk(table)


class ArrowChunk:
    """One chunk of rows as Arrow string columns, one per cell position."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self._cells: dict[int, ArrowCells] = {}

    def __len__(self) -> int:
        return int(self.table.num_rows)

    def cells(self, position: int) -> ArrowCells:
        """The column at ``position`` (its Python list is made once, when asked)."""
        found = self._cells.get(position)
        if found is None:
            found = self._cells[position] = ArrowCells(self.table.column(position))
        return found

    def rows(self) -> list[list[str]]:
        """The rows as ``csv.reader`` gives them."""
        columns = [self.cells(position).to_list() for position in range(self.table.num_columns)]
        return [list(row) for row in zip(*columns, strict=True)]

    def rows_at(self, positions: list[int]) -> list[list[str]]:
        """The rows at ``positions`` as ``csv.reader`` gives them."""
        table = self.table.take(pa.array(positions, pa.int64()))
        columns = [column.to_pylist() for column in table.columns]
        return [list(row) for row in zip(*columns, strict=True)]

    def tab_separated(self, positions: Sequence[int], rows: Sequence[int] | None) -> bytes | None:
        """The cells as PostgreSQL's ``COPY`` text format takes them as they are, or ``None``.

        ``None`` when a cell holds a tab, a line break, a quote or a
        backslash, which that format would need escaped: see :meth:`csv_bytes`.
        """
        table = self._select(positions, rows)
        for column in table.columns:
            if _all_or_any(pc.any, pc.match_substring(column, "\\")):
                return None
        sink = io.BytesIO()
        options = pcsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
        try:
            pcsv.write_csv(table, sink, write_options=options)
        except pa.ArrowInvalid:
            return None
        return sink.getvalue()

    def csv_bytes(self, positions: Sequence[int], rows: Sequence[int] | None) -> bytes:
        """The cells at ``positions`` of ``rows`` (all if ``None``) as CSV, each cell quoted."""
        table = self._select(positions, rows)
        sink = io.BytesIO()
        options = pcsv.WriteOptions(include_header=False, quoting_style="all_valid")
        pcsv.write_csv(table, sink, write_options=options)
        return sink.getvalue()

    def _select(self, positions: Sequence[int], rows: Sequence[int] | None) -> Any:
        table = self.table.select(list(positions))
        if rows is not None:
            table = table.take(pa.array(rows, pa.int64()))
        return table


class ArrowCells:
    """:class:`~entrepot.datacenter.imports.cells.Cells` over an Arrow string column."""

    def __init__(self, column: Any) -> None:
        self.column = column
        self._list: list[str] | None = None

    def __len__(self) -> int:
        return len(self.column)

    def has_empty(self) -> bool:
        return _all_or_any(pc.any, pc.equal(self.column, ""))

    def present(self) -> ArrowCells:
        return ArrowCells(pc.filter(self.column, pc.not_equal(self.column, "")))

    def take(self, positions: list[int]) -> ArrowCells:
        return ArrowCells(self.column.take(pa.array(positions, pa.int64())))

    def longest(self) -> int:
        longest = pc.max(pc.utf8_length(self.column)).as_py()
        return int(longest or 0)

    def lengths(self) -> set[int]:
        return set(pc.unique(pc.utf8_length(self.column)).to_pylist())

    def outside(self, low: str, high: str) -> bool:
        column = self.column
        below = pc.and_(pc.not_equal(column, ""), pc.less(column, low))
        return _all_or_any(pc.any, below) or _all_or_any(pc.any, pc.greater_equal(column, high))

    def all_in(self, allowed: Set[str]) -> bool:
        choices = pa.array(sorted(allowed), pa.string())
        return _all_or_any(pc.all, pc.is_in(self.column, value_set=choices))

    def all_match_fixed(self, pattern: re.Pattern[str]) -> bool:
        whole = f"^(?:{pattern.pattern})$"
        return _all_or_any(pc.all, pc.match_substring_regex(self.column, whole))

    def all_pass(self, test: Callable[[str], object]) -> bool:
        return all(map(test, self.to_list()))

    def all_dates(self) -> bool:
        # Arrow's cast checks the calendar as Python does, but takes year 0.
        try:
            pc.cast(self.column, pa.date32())
        except pa.ArrowInvalid:
            return False
        return not _all_or_any(pc.any, pc.starts_with(self.column, "0000"))

    def integers(self) -> list[int]:
        try:
            return list(pc.cast(self.column, pa.int64()).to_pylist())
        except pa.ArrowInvalid:
            # Arrow takes no plus sign.
            return list(map(int, self.to_list()))

    def to_list(self) -> list[str]:
        if self._list is None:
            self._list = self.column.to_pylist()
        return self._list


def _all_or_any(reduce: Any, flags: Any) -> bool:
    # Arrow reduces an empty column to null; Python's all() and any() do not.
    if len(flags) == 0:
        return reduce is pc.all
    return bool(reduce(flags).as_py())
