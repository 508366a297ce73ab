"""What an import does and how: one frozen value, checked once.

:class:`ImportOptions` travels unchanged from the caller (``DataCenter``,
``ImportJob``, the command line) to every stage of the import, and back
into the ledger as JSON parameters when the import runs as a job.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from entrepot.datacenter.encodings import check_encoding
from entrepot.errors import ConfigError

Mode = Literal["create", "update", "remove"]
MODES: tuple[Mode, ...] = ("create", "update", "remove")

#: Who parses an import file's rows: Arrow where it can (the default), or
#: always the ``csv`` module.
Reader = Literal["arrow", "csv"]
READERS: tuple[Reader, ...] = ("arrow", "csv")

#: What an empty cell means in ``update`` mode: leave the stored value, or clear it.
EmptyCells = Literal["keep", "clear"]
EMPTY_CELLS: tuple[EmptyCells, ...] = ("keep", "clear")

#: Rows checked, written and recorded at a time: small enough that the next
#: chunk is read and checked while this one is written.
DEFAULT_CHUNK_SIZE = 5000
#: Rows per transaction (whole chunks): few commits, each of which waits for
#: the disk on PostgreSQL, while an interrupted run redoes little work.
DEFAULT_COMMIT_ROWS = 50_000
#: UTF-8 with or without a byte order mark.
DEFAULT_ENCODING = "utf-8-sig"

#: Characters of one cell.  Spreadsheets stop at 32,767; far more is
#: allowed, but not so much that one cell can fill the memory.
MAX_FIELD = 1 << 20
#: Bytes of one line of a source file.
MAX_RECORD = 16 << 20
#: Bytes a compressed (``.csv.gz``) source may expand to.
MAX_EXPANDED = 4 << 30


def check_mode(mode: str) -> Mode:
    if mode not in MODES:
        raise ConfigError(f"unknown import mode {mode!r}: use create, update or remove")
    return mode


def check_reader(name: str) -> Reader:
    if name not in READERS:
        raise ConfigError(f"unknown CSV reader {name!r}: use arrow or csv")
    return name


@dataclass(frozen=True)
class ImportOptions:
    """How to import a file; every field has the usual default.

    ``empty`` matters in ``update`` mode only: ``"keep"`` leaves the stored
    value of an empty cell as it is, ``"clear"`` sets it as a ``create``
    would (the column's default, else nothing).  ``parallel`` checks the
    chunks in a second process (``None``: when the file is large and a
    processor is free; see :mod:`.check_ahead`).  The three limits bound
    what one file may make the importer hold in memory (see :mod:`.source`).

    Rows are read, checked and written ``chunk_size`` at a time, and
    committed together with their chunks' bookkeeping rows once a
    transaction holds ``commit_rows`` (whole chunks; at least one): an
    interrupted import keeps every committed chunk and redoes the others.
    """

    mode: Mode = "create"
    user: str = ""
    chunk_size: int = DEFAULT_CHUNK_SIZE
    commit_rows: int = DEFAULT_COMMIT_ROWS
    encoding: str = DEFAULT_ENCODING
    reader: Reader = "arrow"
    parallel: bool | None = None
    empty: EmptyCells = "keep"
    max_field: int = MAX_FIELD
    max_record: int = MAX_RECORD
    max_expanded: int = MAX_EXPANDED

    def __post_init__(self) -> None:
        check_mode(self.mode)
        check_reader(self.reader)
        if self.empty not in EMPTY_CELLS:
            raise ConfigError(f"unknown rule for empty cells {self.empty!r}: use keep or clear")
        for name in ("chunk_size", "commit_rows", "max_field", "max_record", "max_expanded"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a whole number of at least 1, not {value!r}")
            if value > sys.maxsize:  # beyond what a read, a buffer or a C long can hold
                raise ConfigError(f"{name} must be at most {sys.maxsize:,}, not {value:,}")
        check_encoding(self.encoding)

    def replace(self, **changes: Any) -> ImportOptions:
        """A copy with ``changes``; an unknown name is a :class:`ConfigError`."""
        unknown = set(changes) - _NAMES
        if unknown:
            raise ConfigError(f"unknown import options: {', '.join(sorted(unknown))}")
        return replace(self, **changes) if changes else self

    def params(self) -> dict[str, Any]:
        """The options as JSON-ready values (see :meth:`from_params`)."""
        return asdict(self)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ImportOptions:
        """Options from :meth:`params`; names missing take their defaults."""
        return cls().replace(**{key: value for key, value in params.items() if key in _NAMES})


_NAMES = frozenset(field.name for field in fields(ImportOptions))
