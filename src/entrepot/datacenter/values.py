"""Turning CSV cells into typed values, a whole column at a time.

Each column type has a strict parser for one cell, which says what is wrong
in words an operator can act on.  Imports are column-oriented: a chunk's
column is first converted with C-level ``map`` calls (fast when all cells
are good, which is the common case) and only when that fails is the column
walked cell by cell to find which cells are wrong and why.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from entrepot.datacenter.formulas import unescape_cells
from entrepot.datacenter.table_schema import ColumnSpec

#: Types whose cells are stored as their text (after the checks of the type).
TEXT_TYPES = frozenset({"text", "choice", "regex"})

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# Python's fromisoformat also takes week dates (2020-W01-1) and 20200101.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TRUE = ("true", "yes", "y", "t", "1", "on")
_FALSE = ("false", "no", "n", "f", "0", "off")
_BOOLEANS = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}
# Also accept the usual capitalisations without lower-casing every cell.
_BOOLEANS.update({key.upper(): value for key, value in list(_BOOLEANS.items())})
_BOOLEANS.update({key.capitalize(): value for key, value in list(_BOOLEANS.items())})
#: Every spelling a boolean cell may have as it is, with its value.
BOOLEAN_WORDS: dict[str, bool] = _BOOLEANS


def shown(text: str, limit: int = 40) -> str:
    """A cell value quoted for a message, shortened when long."""
    if len(text) > limit:
        text = text[:limit] + "…"
    return repr(text)


#: Stored integers are 64-bit (BIGINT).
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def _integer(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise ValueError(f"not an integer: {shown(text)}")
    value = int(text)
    if not _INT_MIN <= value <= _INT_MAX:
        raise ValueError(f"integer out of range (64 bits): {shown(text)}")
    return value


def decimal_text(value: Decimal) -> str:
    """The one text of a decimal's value: ``1``, ``1.0``, ``+1.00`` and ``1E0`` are all ``1``.

    Positional (no exponent), no trailing zeros after the point, no sign
    on zero: what SQLite stores, so that a key has one form however a file
    writes it.
    """
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def canonical_decimal(value: Decimal) -> Decimal:
    """``value`` in the form of :func:`decimal_text` (``Decimal('1.50')`` → ``Decimal('1.5')``)."""
    return Decimal(decimal_text(value))


def _decimal(text: str) -> Decimal:
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"not a decimal number: {shown(text)}")
    try:
        return canonical_decimal(Decimal(text))
    except InvalidOperation:  # pragma: no cover - the pattern already excludes these
        raise ValueError(f"not a decimal number: {shown(text)}") from None


def _boolean(text: str) -> bool:
    try:
        return _BOOLEANS[text.strip().lower()]
    except KeyError:
        raise ValueError(f"not a boolean (true/false, yes/no, 1/0): {shown(text)}") from None


def _date(text: str) -> date:
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {shown(text)}") from None


def _datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date and time (YYYY-MM-DD HH:MM:SS): {shown(text)}") from None
    # Stored without a zone: aware times are converted to UTC first.
    if value.tzinfo is not None:
        try:
            value = value.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            raise ValueError(
                f"date and time out of range (0001-01-01 to 9999-12-31 in UTC): {shown(text)}"
            ) from None
    return value


class ColumnConverter:
    """Converts the cells of one column according to its :class:`ColumnSpec`."""

    def __init__(self, name: str, spec: ColumnSpec) -> None:
        self.name = name
        self.spec = spec
        self.one: Callable[[str], Any] = self._cell_parser()

    def _cell_parser(self) -> Callable[[str], Any]:
        spec = self.spec
        if spec.type == "integer":
            return _integer
        if spec.type == "decimal":
            return _decimal
        if spec.type == "boolean":
            return _boolean
        if spec.type == "date":
            return _date
        if spec.type == "datetime":
            return _datetime
        if spec.type == "choice":
            allowed = frozenset(spec.choices or ())
            listing = ", ".join(spec.choices or ())

            def choice(text: str) -> str:
                if text not in allowed:
                    raise ValueError(f"not one of {listing}: {shown(text)}")
                return text

            return choice
        if spec.type == "regex":
            pattern = re.compile(spec.pattern or "")

            def regex(text: str) -> str:
                if not pattern.fullmatch(text):
                    raise ValueError(f"does not match {spec.pattern}: {shown(text)}")
                return text

            return regex
        return str

    def _check_length(self, text: str) -> None:
        limit = self.spec.max_length
        if limit is not None and len(text) > limit:
            raise ValueError(f"longer than {limit} characters ({len(text)})")

    def convert(self, cells: Sequence[str], *, required: bool) -> tuple[list[Any], dict[int, str]]:
        """Convert ``cells``; return the values and ``{index: message}`` for bad cells.

        Empty cells become the column default, or ``None``; an empty cell in
        a required column without default is an error.  A text written with
        the apostrophe that marks a would-be formula loses it (see
        :mod:`~entrepot.datacenter.formulas`).
        """
        if self.spec.type in TEXT_TYPES:
            cells = unescape_cells(cells)
        fast = self._convert_fast(cells, required=required)
        if fast is not None:
            return fast, {}
        values: list[Any] = []
        errors: dict[int, str] = {}
        default = self.spec.default_text
        for index, text in enumerate(cells):
            try:
                if text == "":
                    if default is None:
                        if required:
                            raise ValueError("missing, but required")
                        values.append(None)
                        continue
                    text = default
                self._check_length(text)
                values.append(self.one(text))
            except ValueError as exc:
                errors[index] = str(exc)
                values.append(None)
        return values, errors

    def convert_present(self, cells: Sequence[str]) -> tuple[list[Any], dict[int, str]]:
        """Convert only the non-empty cells; empty ones stay ``None`` (no default)."""
        if "" not in cells:
            return self.convert(cells, required=False)
        present = [index for index, text in enumerate(cells) if text != ""]
        converted, bad = self.convert([cells[index] for index in present], required=False)
        values: list[Any] = [None] * len(cells)
        for index, value in zip(present, converted, strict=True):
            values[index] = value
        return values, {present[index]: message for index, message in bad.items()}

    def _convert_fast(self, cells: Sequence[str], *, required: bool) -> list[Any] | None:
        """The whole column at C speed, or ``None`` when some cell needs a closer look."""
        if "" in cells:
            return None
        kind = self.spec.type
        if not isinstance(cells, list):
            cells = list(cells)
        try:
            if kind == "text":
                limit = self.spec.max_length
                if limit is not None and max(map(len, cells), default=0) > limit:
                    return None
                return list(cells)
            if kind == "integer":
                if not all(map(_INTEGER.fullmatch, cells)):
                    return None
                numbers = list(map(int, cells))
                if min(numbers) < _INT_MIN or max(numbers) > _INT_MAX:
                    return None
                return numbers
            if kind == "decimal":
                if not all(map(_DECIMAL.fullmatch, cells)):
                    return None
                return list(map(canonical_decimal, map(Decimal, cells)))
            if kind == "boolean":
                return list(map(_BOOLEANS.__getitem__, cells))
            if kind == "date":
                if not all(map(_DATE.fullmatch, cells)):
                    return None
                return list(map(date.fromisoformat, cells))
            if kind == "choice":
                if not set(cells) <= frozenset(self.spec.choices or ()):
                    return None
                return list(cells)
            if kind == "regex":
                pattern = re.compile(self.spec.pattern or "")
                if not all(map(pattern.fullmatch, cells)):
                    return None
                return list(cells)
            # What is left is datetime; zones need the per-cell conversion.
            values = list(map(datetime.fromisoformat, cells))
            if any(value.tzinfo is not None for value in values):
                return None
            return values
        except (ValueError, KeyError):
            return None
