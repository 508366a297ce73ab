"""One column of a chunk, as the fast path's tests ask about it.

:func:`entrepot.datacenter.imports.fast_path.sqlite_form` decides whether a column can
go to the database as its text by asking a few questions of its cells: is
one empty, how long is the longest, are all in a set, do all match a fixed
pattern, does a Python test pass on all.  :class:`CellList` answers them for
cells read by the ``csv`` module; :class:`entrepot.datacenter.imports.arrow_reader.ArrowCells`
answers them with Arrow's column-wise kernels.  The decision itself is
written once, above this interface, so both readers take the fast path for
exactly the same columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Set
from datetime import date
from typing import Protocol


class Cells(Protocol):
    """The cells of one column, every one a string (an empty cell is ``""``)."""

    def __len__(self) -> int: ...

    def has_empty(self) -> bool:
        """Whether some cell is the empty string."""
        ...

    def present(self) -> Cells:
        """The same column without its empty cells."""
        ...

    def take(self, positions: list[int]) -> Cells:
        """The cells at ``positions``, in that order."""
        ...

    def longest(self) -> int:
        """The length of the longest cell in characters (0 when there is none)."""
        ...

    def lengths(self) -> set[int]:
        """The distinct lengths of the cells, in characters."""
        ...

    def outside(self, low: str, high: str) -> bool:
        """Whether a non-empty cell sorts before ``low``, or at or after ``high``."""
        ...

    def all_in(self, allowed: Set[str]) -> bool:
        """Whether every cell is one of ``allowed``."""
        ...

    def all_match_fixed(self, pattern: re.Pattern[str]) -> bool:
        """Whether every cell matches ``pattern`` whole.

        Only for the fast path's own patterns: ASCII classes, counted
        repeats and alternatives, which Python's engine and RE2 read alike.
        A user's pattern goes through :meth:`all_pass`.
        """
        ...

    def all_pass(self, test: Callable[[str], object]) -> bool:
        """Whether ``test`` returns something true for every cell (its errors propagate)."""
        ...

    def all_dates(self) -> bool:
        """Whether every cell is a date ``date.fromisoformat`` takes.

        Only for cells that all match ``[0-9]{4}-[0-9]{2}-[0-9]{2}``.
        """
        ...

    def integers(self) -> list[int]:
        """The cells as integers; only for cells that all match ``[+-]?[0-9]{1,18}``."""
        ...

    def to_list(self) -> list[str]:
        """The cells as a Python list."""
        ...


class CellList:
    """:class:`Cells` over a Python list, as the ``csv`` module reads it."""

    __slots__ = ("cells",)

    def __init__(self, cells: list[str]) -> None:
        self.cells = cells

    def __len__(self) -> int:
        return len(self.cells)

    def has_empty(self) -> bool:
        return "" in self.cells

    def present(self) -> CellList:
        return CellList([text for text in self.cells if text])

    def take(self, positions: list[int]) -> CellList:
        cells = self.cells
        return CellList([cells[pos] for pos in positions])

    def longest(self) -> int:
        return max(map(len, self.cells), default=0)

    def lengths(self) -> set[int]:
        return set(map(len, self.cells))

    def outside(self, low: str, high: str) -> bool:
        least = min(filter(None, self.cells), default=low)
        return least < low or max(self.cells, default="") >= high

    def all_in(self, allowed: Set[str]) -> bool:
        return set(self.cells) <= allowed

    def all_match_fixed(self, pattern: re.Pattern[str]) -> bool:
        return all(map(pattern.fullmatch, self.cells))

    def all_pass(self, test: Callable[[str], object]) -> bool:
        return all(map(test, self.cells))

    def all_dates(self) -> bool:
        try:
            return all(map(date.fromisoformat, self.cells))
        except ValueError:
            return False

    def integers(self) -> list[int]:
        return list(map(int, self.cells))

    def to_list(self) -> list[str]:
        return self.cells
