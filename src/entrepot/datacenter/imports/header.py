"""Checking an import file's header: which cells of each row feed which column.

The header decides whether an import can run at all: unknown or repeated
column names, missing key columns, and (in ``create`` mode) missing
required columns are refused before any row is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from entrepot.datacenter.csvfiles import ERRORS_COLUMN, IGNORE_COLUMN
from entrepot.datacenter.imports.options import Mode
from entrepot.datacenter.table_schema import TableSpec
from entrepot.errors import ImportFailed


@dataclass(frozen=True)
class HeaderPlan:
    """Which cells of each row feed which table column."""

    width: int
    #: (position in the row, column name) for every imported column.
    used: tuple[tuple[int, str], ...]
    #: Table columns not in the file (filled from defaults in create mode).
    absent: tuple[str, ...]
    #: Position of a pending file's ``--ERRORS--`` column, if any.
    errors_position: int | None

    @property
    def used_names(self) -> list[str]:
        return [name for _, name in self.used]


#: Names a message lists at most, and the characters shown of each.
LISTED_NAMES = 10
LISTED_CHARACTERS = 64


def listed(names: Sequence[str]) -> str:
    """The first :data:`LISTED_NAMES` of ``names``, each shortened, and how many more.

    A header is the file's to write: one of 200,000 titles, or of one title
    a megabyte long, must not become a message of megabytes.
    """
    shown = [
        name if len(name) <= LISTED_CHARACTERS else name[:LISTED_CHARACTERS] + "…"
        for name in names[:LISTED_NAMES]
    ]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" … and {more:,} more" if more else "")


def plan_header(header: Sequence[str], table: TableSpec, mode: Mode, *, source: str) -> HeaderPlan:
    """Check ``header`` against ``table`` for ``mode``; raise ImportFailed if it cannot run."""
    used: list[tuple[int, str]] = []
    unknown: list[str] = []
    seen: set[str] = set()
    repeated: list[str] = []
    errors_position = None
    for position, title in enumerate(header):
        if title == IGNORE_COLUMN:
            continue
        if title == ERRORS_COLUMN:
            errors_position = position
            continue
        if title == "":
            unknown.append(f"(empty title in column {position + 1})")
            continue
        if title in seen:
            repeated.append(title)
            continue
        seen.add(title)
        if title not in table.columns:
            unknown.append(title)
            continue
        used.append((position, title))
    if not header or header == [""]:
        raise ImportFailed(f"{source}: the header line is empty")
    if unknown:
        raise ImportFailed(
            f"{source}: unknown columns in the header: {listed(unknown)} "
            f"(table {table.name} has {', '.join(table.columns)}; "
            f"head a column {IGNORE_COLUMN} to skip it)"
        )
    if repeated:
        raise ImportFailed(f"{source}: columns given twice in the header: {listed(repeated)}")
    missing_keys = [name for name in table.key if name not in seen]
    if missing_keys:
        raise ImportFailed(
            f"{source}: key columns missing from the header: {', '.join(missing_keys)}"
        )
    absent = tuple(name for name in table.columns if name not in seen)
    if mode == "create":
        needed = [
            name
            for name in absent
            if table.is_required(name) and table.columns[name].default is None
        ]
        if needed:
            raise ImportFailed(
                f"{source}: required columns missing from the header: {', '.join(needed)}"
            )
    if mode == "remove":
        used = [(position, name) for position, name in used if name in table.key]
    return HeaderPlan(
        width=len(header), used=tuple(used), absent=absent, errors_position=errors_position
    )
