"""Reading a journal back: its lines decoded, each one's events as entries.

A journal (:mod:`.journal`) is read back when its recorder died
(:mod:`.deadjournals`, :mod:`.recovery`): every form of line that a release
wrote is read, and a line torn by a crash — only ever the last — is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from entrepot.provenance.journal import COLUMNS, LATER, WIDTHS, Entry, Then
from entrepot.redact import storable_text

__all__ = ["read_journal", "storable"]

#: How the line encoder writes a lone surrogate (a byte of a file name that is not
#: UTF-8, as Python reads it): a line holding one needs :func:`storable`.
_SURROGATES = (b"\\ud", b"\\uD")


def read_journal(lines: Iterable[bytes]) -> Iterator[Entry]:
    """The entries of a journal's lines, one per event; a line torn by a crash is skipped,
    and so are the zero bytes after the last line.

    Every form of a line is read: ``[seq, [row, …], then]``, whose ``then``
    goes with its last event; a delivery's ``[seq, template, …]`` after its
    template's line (:mod:`.deliveries`), in this release's shape or the one
    before; and the older ``[seq, *row, then]``,
    whose rows, from earlier releases, lack the last columns (left empty).
    """
    from entrepot.provenance.deliveries import LINE_WIDTHS, TEMPLATE, entry_of

    full, old = len(COLUMNS), len(COLUMNS) - LATER
    templates: dict[int, list[Any]] = {}
    for entry in _decoded(lines):
        if not isinstance(entry, list) or not entry or not isinstance(entry[0], int):
            continue
        if len(entry) == 4 and entry[1] == TEMPLATE and isinstance(entry[3], list):
            templates[entry[2]] = entry[3]
            continue
        if len(entry) - 2 in LINE_WIDTHS and isinstance(entry[1], int):
            made = entry_of(templates.get(entry[1], []), entry[2:])
            if made is not None:
                yield Entry(entry[0], *made)
            continue
        if len(entry) == 3 and isinstance(entry[1], list):
            rows = [
                (*r, *(None,) * (full - len(r)))
                for r in entry[1]
                if isinstance(r, list) and len(r) in WIDTHS
            ]
        elif len(entry) == old + 2:
            rows = [(*entry[1:-1], *(None,) * LATER)]
        else:
            continue
        try:
            then = _then(entry[-1])
        except ValueError:
            continue  # not a step as any release announces one: a damaged line
        for number, row in enumerate(rows, 1):
            yield Entry(entry[0], row, then if number == len(rows) else None)


def _then(value: Any) -> Then | None:
    """The step a line announces, None if none; ValueError if ``value`` is not one."""
    if not value:
        return None
    if not isinstance(value, list) or len(value) != len(Then._fields):
        raise ValueError("not a step")
    kind, details, present, absent = value
    texts = (kind, details)
    if not all(isinstance(text, str) for text in texts) or not all(
        isinstance(paths, list) and all(isinstance(path, str) for path in paths)
        for paths in (present, absent)
    ):
        raise ValueError("not a step")
    return Then(kind, details, present, absent)


def _decoded(lines: Iterable[bytes]) -> Iterator[Any]:
    """The JSON value of each line; a line that is not one (torn by a crash) is skipped.

    Decoded as one array when every line is whole — one call for the lot
    instead of one each: a journal of 2,000 receipts is recovered in 31.5 ms
    instead of 34 (``bench/provenance_recovery.py``) — else line by line.
    """
    kept = []
    for line in lines:
        if b"\0" in line:  # the zeros after the last line, or a line cut short by them
            line = line[: line.index(b"\0")]
        if line:
            kept.append(line)
    if all(line[:1] == b"[" and line[-1:] == b"]" for line in kept):
        try:
            values = json.loads(b"[" + b",".join(kept) + b"]")
        except ValueError:
            values = None
        if isinstance(values, list) and len(values) == len(kept):
            yield from storable(values) if _has_surrogates(b"".join(kept)) else values
            return
    for line in kept:
        try:
            value = json.loads(line)
        except ValueError:
            continue  # never acknowledged: the process died while writing it
        yield storable(value) if _has_surrogates(line) else value


def _has_surrogates(data: bytes) -> bool:
    return any(mark in data for mark in _SURROGATES)


def storable(value: Any) -> Any:
    """``value`` (texts, lists and tuples of them, anything else) with every text made
    :func:`storable_text`."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, list | tuple):
        return type(value)(storable(item) for item in value)
    return value
