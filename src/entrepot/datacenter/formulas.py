"""Cells a spreadsheet would run as a formula, and the apostrophe that makes them text.

A cell is *risky* when it starts with a tab, a line break or NUL, or when
its first character after any blanks (spaces of every kind, NUL) is ``=``,
``+``, ``-``, ``@`` or one of their full-width forms ``＝ ＋ － ＠``.
Plain numbers such as ``-5`` or ``+1.5`` are not risky.

The rule is :mod:`entrepot.redact`'s, which delivery receipts follow too.
Every CSV file the data center writes — exports, the pending and finished
rows of imports, the ``deleted/`` and ``graduated/`` backups — writes a
risky text with an apostrophe in front, as a spreadsheet shows text typed
that way.  An import reads one apostrophe in front of a risky text as that
mark and drops it: ``'=SUM(A1)`` is stored as ``=SUM(A1)``.  So a file the
data center wrote, imported again, stores what was stored, and a pending
file fixed in a spreadsheet converges.

>>> escape("=1+1"), escape("-5"), escape("'=1+1"), unescape("'=1+1"), unescape("'tis")
("'=1+1", '-5', "''=1+1", '=1+1', "'tis")
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence

from entrepot.datacenter.imports.cells import CellList, Cells
from entrepot.redact import FORMULA_MARK, FORMULA_TRIGGERS, defuse_formula, runs_as_formula

#: Cells that may be risky (or escaped): a first look, done at C speed.
_CANDIDATE = re.compile(r"[\s\0'=+\-@\uff1d\uff0b\uff0d\uff20]")
MARK = FORMULA_MARK
TRIGGERS = FORMULA_TRIGGERS
#: Whether a spreadsheet could run a text as a formula (see the module).
is_risky = runs_as_formula
#: A value as the data center writes it: an apostrophe before a risky text.
escape = defuse_formula


def unescape(cell: str) -> str:
    """A cell as read for an import: the apostrophe of :func:`escape` dropped."""
    return cell[1:] if cell.startswith(MARK) and is_risky(cell.lstrip(MARK)) else cell


def row_form(cell: str) -> str:
    """A source cell as the row files write it: :func:`escape` of what it stores."""
    return MARK + cell if is_risky(cell) else cell


def row_forms(cells: Iterable[str]) -> list[str]:
    return [MARK + cell if is_risky(cell) else cell for cell in cells]


def might_be_formula(text: str) -> bool:
    """Whether ``text`` is risky, or escaped (see :func:`candidates`): its first look."""
    return _CANDIDATE.match(text) is not None


def candidates(cells: Cells) -> list[int]:
    """Positions of the cells that may be risky or escaped (a superset, found fast).

    Every such cell begins with a character below ``A`` or from U+0085 on:
    a column whose cells all begin between the two — letters, most often —
    is cleared by two comparisons done at C speed.
    """
    if not len(cells) or not cells.outside("A", "\x85"):
        return []
    texts = cells.to_list()
    return list(itertools.compress(range(len(texts)), map(_CANDIDATE.match, texts)))


def risky_positions(cells: Cells, found: list[int] | None = None) -> list[int]:
    """Positions of the risky cells (among ``found``, the :func:`candidates`, if given)."""
    found = candidates(cells) if found is None else found
    if not found:
        return []
    texts = cells.to_list()
    return [pos for pos in found if is_risky(texts[pos])]


def unescape_cells(cells: Sequence[str]) -> Sequence[str]:
    """``cells`` with :func:`unescape` applied (the same object when nothing changes)."""
    found = escaped_positions(CellList(cells if isinstance(cells, list) else list(cells)))
    if not found:
        return cells
    changed = list(cells)
    for pos in found:
        changed[pos] = changed[pos][1:]
    return changed


def escaped_positions(cells: Cells, found: list[int] | None = None) -> list[int]:
    """Positions of the cells :func:`unescape` would change (among ``found``, if given)."""
    found = candidates(cells) if found is None else found
    if not found:
        return []
    texts = cells.to_list()
    return [pos for pos in found if unescape(texts[pos]) != texts[pos]]
