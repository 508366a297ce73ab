"""Checking the rows of each chunk, column by column, without the database.

Every problem found in a row is kept, as ``field: message``, so that one
look at the pending file shows all of them.  The checks that need the
database (existing keys, references) follow in :mod:`.chunk_writer`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from entrepot.datacenter.formulas import (
    candidates,
    escaped_positions,
    might_be_formula,
    risky_positions,
)
from entrepot.datacenter.imports import fast_path
from entrepot.datacenter.imports.arrow_reader import ArrowChunk
from entrepot.datacenter.imports.cells import CellList, Cells
from entrepot.datacenter.imports.csv_rows import UNCLOSED
from entrepot.datacenter.imports.header import HeaderPlan
from entrepot.datacenter.imports.options import ImportOptions
from entrepot.datacenter.table_rows import Key
from entrepot.datacenter.table_schema import ColumnSpec, TableSpec
from entrepot.datacenter.values import TEXT_TYPES, ColumnConverter, shown

#: Field name used for problems with a whole row (wrong number of cells).
ROW_FIELD = "row"


def spreadsheet_row(index: int) -> int:
    """Data row ``index`` (from 0) as a spreadsheet shows it: the header is row 1."""
    return index + 2


@dataclass
class CheckedChunk:
    """The rows of one chunk after the checks that need no database."""

    first_index: int
    size: int
    #: Converted values per used column name (None for rows with errors there).
    values: dict[str, list[Any]]
    #: Row position in the chunk → problems (``field: message``).
    errors: dict[int, list[str]] = field(default_factory=dict)
    keys: list[Key | None] = field(default_factory=list)
    #: The key columns, when ``keys`` is still to be made from them (see :meth:`key_list`).
    key_columns: list[list[Any]] | None = None
    #: The rows as read, when every cell can be stored as its text
    #: (:mod:`.fast_path`); ``values`` then holds only key and reference columns.
    raw_rows: list[list[str]] | None = None
    #: The same, when Arrow read the chunk (:mod:`.arrow_reader`).
    raw_arrow: ArrowChunk | None = None
    #: With ``raw_rows`` or ``raw_arrow``: the SQL storing each used column's cells.
    raw_forms: list[str] = field(default_factory=list)
    #: Row positions holding a cell that a spreadsheet would run as a formula.
    formula_rows: set[int] = field(default_factory=set)
    #: Every row as the database takes it, made ahead (see ChunkWriter.prepare).
    prepared: fast_path.RawRows | None = None

    def fail(self, position: int, column: str, message: str) -> None:
        self.errors.setdefault(position, []).append(f"{column}: {message}")

    def key_list(self) -> list[Key | None]:
        """Each row's key (``None`` for a row without a valid one)."""
        if self.key_columns is not None:
            # Made on demand: a first load into an empty table never needs them.
            self.keys = list(zip(*self.key_columns, strict=True))
            self.key_columns = None
        return self.keys

    def good_positions(self) -> list[int]:
        if not self.errors:
            return list(range(self.size))
        return [pos for pos in range(self.size) if pos not in self.errors]

    def formula_indexes(self) -> list[int]:
        """Global indexes of the rows holding a cell that a spreadsheet would run."""
        return sorted(self.first_index + pos for pos in self.formula_rows)

    def error_texts(self) -> dict[int, str]:
        """Global row index → ``"field: message; field: message"``."""
        return {self.first_index + pos: "; ".join(msgs) for pos, msgs in self.errors.items()}


class RowChecker:
    """Checks chunks of raw rows for one import; remembers keys across chunks."""

    def __init__(
        self, table: TableSpec, plan: HeaderPlan, options: ImportOptions, *, raw: bool = True
    ) -> None:
        self.table = table
        self.plan = plan
        mode = self.mode = options.mode
        #: An update whose empty cells clear the stored values.
        self.clears = mode == "update" and options.empty == "clear"
        self.converters = {
            name: ColumnConverter(name, table.columns[name]) for _, name in plan.used
        }
        # Columns absent from the file take their default: only the general
        # path fills those in.
        self.raw = (
            raw
            and mode == "create"
            and all(table.columns[name].default is None for name in plan.absent)
        )
        #: Columns whose converted values the database checks need.
        self._looked_up = set(table.key) | {
            name for name, spec in table.columns.items() if spec.references
        }
        #: Key → index of the first row that carried it, for duplicates within the file.
        self.first_seen: dict[Any, int] = {}
        # A valid cell of a typed column, or of a choice column none of whose
        # choices a spreadsheet would run, is never such a cell: not watched.
        typed = {pos for pos, name in plan.used if not _may_hold_formulas(table.columns[name])}
        #: Positions whose cells reach the row files as they are: texts and
        #: carried columns, where a cell a spreadsheet would run may hide.
        self.carried = [
            pos for pos in range(plan.width) if pos not in typed and pos != plan.errors_position
        ]
        #: Used text columns, whose escaped cells (see :mod:`~entrepot.datacenter.formulas`)
        #: the general path stores without their apostrophe.
        self.texts = [pos for pos, name in plan.used if _may_hold_formulas(table.columns[name])]

    def check(
        self, rows: list[list[str]], first_index: int, *, unclosed: bool = False
    ) -> CheckedChunk:
        """The checks of ``rows``, the first being data row ``first_index``.

        ``unclosed`` says that the last row ends inside a quote that is never
        closed (see :mod:`.csv_rows`): it fails, whatever its cells.
        """
        well_formed = set(map(len, rows)) <= {self.plan.width}
        if self.raw and well_formed and not unclosed:
            fast = self._check_raw(
                lambda position: CellList(list(map(itemgetter(position), rows))),
                len(rows),
                first_index,
                lambda positions: [rows[pos] for pos in positions],
            )
            if fast is not None:
                fast.raw_rows = rows
                return fast
        chunk = self._convert(rows, first_index, unclosed=unclosed)
        self._check_keys(chunk)
        self._find_formulas(chunk, lambda pos: _column(rows, pos), {}, {})
        return chunk

    def check_columns(self, chunk: ArrowChunk, first_index: int) -> CheckedChunk:
        """:meth:`check` for a chunk that Arrow read: column-wise when it is clean."""
        if self.raw:
            fast = self._check_raw(chunk.cells, len(chunk), first_index, chunk.rows_at)
            if fast is not None:
                fast.raw_arrow = chunk
                return fast
        return self.check(chunk.rows(), first_index)

    def _convert(
        self, rows: list[list[str]], first_index: int, *, unclosed: bool = False
    ) -> CheckedChunk:
        """The general path: every cell converted in Python, every problem worded."""
        plan = self.plan
        width = plan.width
        chunk = CheckedChunk(first_index=first_index, size=len(rows), values={})
        # Rows with the wrong number of cells, or swallowed by a quote never
        # closed, are reported and blanked so the column-wise conversion
        # below can treat every row alike.
        shaped = rows
        if unclosed:
            shaped = list(rows)
            chunk.fail(len(rows) - 1, ROW_FIELD, UNCLOSED)
            shaped[-1] = [""] * width
        if not set(map(len, shaped)) <= {width}:
            shaped = list(shaped)
            for pos, row in enumerate(shaped):
                if len(row) == width:
                    continue
                if self._only_errors_cell_missing(row):
                    shaped[pos] = [*row, ""]
                    continue
                chunk.fail(pos, ROW_FIELD, f"has {len(row)} cells, the header has {width}")
                shaped[pos] = [""] * width
        blanked = set(chunk.errors)
        for position, name in plan.used:
            # One C-level pass per column (zip(*rows) is slower for many rows).
            cells = list(map(itemgetter(position), shaped))
            required, keep_empty = self._empty_rule(name)
            converter = self.converters[name]
            if keep_empty:
                values, errors = converter.convert_present(cells)
            else:
                values, errors = converter.convert(cells, required=required)
            for pos, message in errors.items():
                if pos not in blanked:
                    chunk.fail(pos, name, message)
            chunk.values[name] = values
        return chunk

    def _check_raw(
        self,
        column: Callable[[int], Cells],
        size: int,
        first_index: int,
        rows_at: Callable[[list[int]], list[list[str]]],
    ) -> CheckedChunk | None:
        """The chunk for :mod:`.fast_path`, or ``None`` when it must take the general path.

        ``column`` gives the cells at a position of the rows, ``rows_at``
        the rows at some positions.  A chunk with a few invalid rows still
        takes the fast path for the others: only the columns whose test
        failed are converted cell by cell, to find the invalid rows, and
        only those rows go through the general path, which words their
        problems exactly as it would in a chunk of its own.
        """
        used = [(position, name, column(position)) for position, name in self.plan.used]
        fetched = {position: cells for position, _, cells in used}
        found = {pos: candidates(fetched[pos]) for pos in self.texts}
        if any(escaped_positions(fetched[pos], found[pos]) for pos in self.texts):
            return None
        forms: list[str | None] = []
        failing: dict[str, list[Any]] = {}
        bad: set[int] = set()
        for _, name, cells in used:
            required, _ = self._empty_rule(name)
            form = fast_path.sqlite_form(self.table.columns[name], cells, required=required)
            forms.append(form)
            if form is None:
                converted, errors = self.converters[name].convert(
                    cells.to_list(), required=required
                )
                if not errors or len(errors) == size:
                    # Valid cells stored otherwise than as their text, or
                    # nothing valid at all: the general path does it all.
                    return None
                failing[name] = converted
                bad.update(errors)
        # The rows that stay; a failing column is tested again on their cells.
        keep = [pos for pos in range(size) if pos not in bad] if bad else []
        final: list[str] = []
        for (_, name, cells), form in zip(used, forms, strict=True):
            if form is None:
                required, _ = self._empty_rule(name)
                spec = self.table.columns[name]
                form = fast_path.sqlite_form(spec, cells.take(keep), required=required)
                if form is None:
                    return None
            final.append(form)
        values: dict[str, list[Any]] = {}
        for _, name, cells in used:
            if name not in self._looked_up:
                continue
            if name in failing:
                values[name] = failing[name]
            elif self.table.columns[name].type == "integer" and not cells.has_empty():
                # The form's test admitted only integers of up to 18
                # digits: each converts exactly, and at C speed.
                values[name] = cells.integers()
            else:
                required, _ = self._empty_rule(name)
                values[name], _ = self.converters[name].convert(cells.to_list(), required=required)
        chunk = CheckedChunk(first_index=first_index, size=size, values=values, raw_forms=final)
        if bad:
            positions = sorted(bad)
            invalid = self._convert(rows_at(positions), first_index)
            for mini, problems in invalid.errors.items():
                chunk.errors[positions[mini]] = problems
        self._check_keys(chunk)
        self._find_formulas(chunk, column, fetched, found)
        return chunk

    def _find_formulas(
        self,
        chunk: CheckedChunk,
        column: Callable[[int], Cells],
        fetched: dict[int, Cells],
        found: dict[int, list[int]],
    ) -> None:
        """Note the rows holding a cell that a spreadsheet would run (see :mod:`.formulas`)."""
        for pos in self.carried:
            cells = fetched[pos] if pos in fetched else column(pos)
            chunk.formula_rows.update(risky_positions(cells, found.get(pos)))

    def _only_errors_cell_missing(self, row: list[str]) -> bool:
        # Spreadsheets drop a trailing empty cell; a pending file whose
        # --ERRORS-- cell was cleared is still well formed.
        position = self.plan.errors_position
        return position is not None and position == self.plan.width - 1 and len(row) == position

    def _empty_rule(self, name: str) -> tuple[bool, bool]:
        """(required, keep_empty): an empty cell of an update keeps the value, unless it clears."""
        is_key = name in self.table.key
        if self.mode == "create" or (self.clears and not is_key):
            return self.table.is_required(name), False
        if is_key:
            return True, False
        return False, True

    def _check_keys(self, chunk: CheckedChunk) -> None:
        key_values = [chunk.values[name] for name in self.table.key]
        plain = len(key_values) == 1
        # Single-column keys are remembered as plain values: cheaper to hash.
        idents: list[Any] = key_values[0] if plain else list(zip(*key_values, strict=True))
        first = chunk.first_index
        # The common case, checked with set operations: every key present,
        # none repeated within the chunk or seen in an earlier chunk.
        if (
            all(None not in column for column in key_values)
            and len(set(idents)) == len(idents)
            and self.first_seen.keys().isdisjoint(idents)
        ):
            self.first_seen.update(zip(idents, range(first, first + len(idents)), strict=True))
            chunk.key_columns = key_values
            return
        key_title = ", ".join(self.table.key)
        for pos in range(chunk.size):
            key = tuple(column[pos] for column in key_values)
            if any(value is None for value in key):
                chunk.keys.append(None)
                continue
            index = chunk.first_index + pos
            first = self.first_seen.setdefault(key[0] if plain else key, index)
            if first != index:
                chunk.fail(
                    pos,
                    key_title,
                    f"key given twice in this file, first on row {spreadsheet_row(first)}",
                )
                chunk.keys.append(None)
                continue
            chunk.keys.append(key)


def _may_hold_formulas(spec: ColumnSpec) -> bool:
    """Whether a valid cell of the column may be one a spreadsheet would run (or its mark)."""
    if spec.type == "choice":
        return any(map(might_be_formula, spec.choices or ()))
    return spec.type in TEXT_TYPES


def _column(rows: list[list[str]], position: int) -> CellList:
    """The cells at ``position`` (empty for rows too short to have one)."""
    if all(len(row) > position for row in rows):
        return CellList(list(map(itemgetter(position), rows)))
    return CellList([row[position] if len(row) > position else "" for row in rows])


def describe_key(key: Key) -> str:
    return ", ".join(shown(str(value)) for value in key)
