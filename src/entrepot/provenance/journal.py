"""Journals: events appended to a file first, added to the database later.

A journal is a file in the state folder's ``provenance/`` folder, one line
per step written (a JSON array: see :meth:`Journal.append`) — one or several
events of one file, with the line's sequence number.  Lines are copied into
the file through a shared memory map, not written with a system call each:
the kernel keeps the mapped pages when the process dies, as it keeps what
``write`` gave it.  Each stretch of the file is written with zeros before
it is mapped (a full disk fails there, with an error, not later as a fault
in a mapped page), so it ends in zero bytes after its last line, which
readers ignore.  Zeros, not ``posix_fallocate``, whose blocks ext4 keeps
*unwritten* until each page is written back: shipping 2,000 small files to
a local folder, each synced, took about 5 % longer with reserved blocks
than with zeros written (as long as with the journal on a tmpfs).  Its writer holds
an exclusive ``flock`` on it while it lives: a journal whose lock can be
taken belongs to a process that ended (normally or not), and
:func:`entrepot.provenance.recorder.recover_journals` adds its events to the
database.  Writing one needs no database and no SQLAlchemy, so a short
command (``entrepot spool put``) records what it received here and the next
command that opens the ledger files it.
"""

from __future__ import annotations

import fcntl
import functools
import json
import mmap
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from entrepot.provenance.events import Kind, Outcome, place_of
from entrepot.redact import mask_secrets

if TYPE_CHECKING:
    from entrepot.provenance.deliveries import Delivery, Template

__all__ = [
    "COLUMNS",
    "JOURNAL_DIR",
    "KIND_TEXT",
    "OUTCOME_TEXT",
    "WIDTHS",
    "Arrivals",
    "Entry",
    "Journal",
    "Row",
    "Then",
    "event_row",
    "line_of",
]

#: The journals' folder inside the state folder, and their names' ending.
JOURNAL_DIR = "provenance"
SUFFIX = ".journal"
#: Bytes of a journal's first mapping; each growth doubles it, by at most :data:`_STEP`.
_FIRST, _STEP = 64 * 1024, 16 * 1024 * 1024
#: The zeros a stretch is written with, at most this many bytes to a call.
_ZEROS = bytes(_FIRST)
HOST = socket.gethostname()
#: JSON's quoting of a text, without the encoder around it (and as the line encoder
#: quotes it: ASCII only).
_quoted = json.encoder.encode_basestring
_ascii = json.encoder.encode_basestring_ascii


def _line_encoder() -> Callable[[Any], str]:
    """The standard library's C encoder, made once (``json.dumps`` makes one per call,
    which costs more than encoding a line): ASCII only, compact, no circular check."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator
        return json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
    chunks = make(
        None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None,
        ":", ",", False, False, True,
    )  # fmt: skip
    return lambda value: "".join(chunks(value, 0))


_encoded = _line_encoder()


#: The columns of an event row, in the order of :func:`event_row`'s tuples.
COLUMNS = (
    "at", "kind", "place", "name", "size", "checksum", "job_id", "host", "outcome",
    "target", "attempt", "details", "claimed_at", "then_step", "received_step",
)  # fmt: skip
#: The columns that rows written by earlier releases (journal lines) lack: a
#: delivery's claim, the step taken after it and the file's receipt, kept in
#: the delivery's row (see :mod:`.steps`) — the first two since one release,
#: the receipt since the next.
LATER = 3
#: How many values the rows of each release's journal lines hold.
WIDTHS = frozenset({len(COLUMNS) - LATER, len(COLUMNS) - 1, len(COLUMNS)})
_FULL = len(COLUMNS)
#: A row: a tuple of the :data:`COLUMNS` values.
Row = tuple[Any, ...]


#: The texts stored for kinds and outcomes: an enum member's ``value`` costs a
#: descriptor call, several times per file shipped.
KIND_TEXT: dict[Kind | str, str] = {kind: kind.value for kind in Kind}
OUTCOME_TEXT: dict[Outcome | str, str] = {outcome: outcome.value for outcome in Outcome}


@functools.lru_cache(maxsize=256)
def _masked(text: str) -> str:
    # Targets repeat with every event of a run: masked once each.
    return mask_secrets(text)


def event_row(
    kind: Kind | str,
    place: str,
    name: str,
    *,
    size: int | None = None,
    checksum: str | None = None,
    job_id: str | None = None,
    outcome: Outcome = Outcome.OK,
    target: str | None = None,
    attempt: int | None = None,
    details: Mapping[str, Any] | str | None = None,
    at: float | None = None,
    claimed_at: float | None = None,
) -> Row:
    """One event as a row of the events table (see :data:`COLUMNS`), every secret masked.

    ``details`` given as text is taken as it is: a caller's constant, without secrets.
    ``kind`` may be given as its text already (:data:`KIND_TEXT`).  ``claimed_at``:
    a delivery's claim, kept in its row (:mod:`.steps`).
    """
    text = details if isinstance(details, str) else details_text(details)
    return (
        time.time() if at is None else at, KIND_TEXT.get(kind, kind), place, name, size,
        checksum, job_id, HOST, OUTCOME_TEXT[outcome], _masked(target) if target else None,
        attempt, text, claimed_at, None, None,
    )  # fmt: skip


def details_text(details: Mapping[str, Any] | None) -> str:
    """``details`` as compact JSON with sorted keys, every text masked.

    Plain values (text, whole numbers, None) are written here directly: the
    general encoder costs several times more, once or twice per file shipped.
    """
    if not details:
        return "{}"
    parts = []
    for key in sorted(details):
        value = details[key]
        if isinstance(value, str):
            shown = _quoted(mask_secrets(value))
        elif value is None:
            shown = "null"
        elif isinstance(value, int) and not isinstance(value, bool):
            shown = str(value)
        else:
            shown = json.dumps(value, separators=(",", ":"), default=str)
        parts.append(f"{_quoted(key)}:{shown}")
    return "{" + ",".join(parts) + "}"


def line_of(seq: int, rows: Sequence[Row], then: Then | None = None) -> bytes:
    """The journal line numbered ``seq`` of the events ``rows`` (of one file), ending in a
    newline: ``[seq, [row, …], then]`` as the line encoder writes it (:meth:`Journal.append`)."""
    if not rows or not isinstance(rows[0], tuple | list):
        raise TypeError("a journal line holds a sequence of event rows")
    # Without an empty last column (a receipt is kept in a row only by a commit, never
    # in a journal): the lines the release before writes, which it reads back.
    rows = [row[:-1] if len(row) == _FULL and row[-1] is None else row for row in rows]
    return (_encoded([seq, rows, then]) + "\n").encode()


def delivery_line(seq: int, template: int, delivery: Delivery) -> bytes:
    """The journal line of one delivery: ``[seq, template, *delivery]`` as the line encoder
    writes it, written directly (once per file shipped: the encoder costs more)."""
    name, size, checksum, claimed_at, at, attempt, remote, remote_size, remote_sum, key, held = (
        delivery
    )
    # Whole numbers (never bools) or None, and texts or None: each as the encoder writes it.
    return (
        f"[{seq},{template},{_ascii(name)},{'null' if size is None else size},"
        f"{'null' if checksum is None else _ascii(checksum)},"
        f"{'null' if claimed_at is None else claimed_at},{at},"
        f"{'null' if attempt is None else attempt},"
        f"{'null' if remote is None else _ascii(remote)},"
        f"{'null' if remote_size is None else remote_size},"
        f"{'null' if remote_sum is None else _ascii(remote_sum)},"
        f"{'null' if key is None else _ascii(key)},{_ascii(held)}]\n"
    ).encode()


class Arrivals:
    """What a journal's writers share: a file's arrival, written as one line."""

    def append(self, rows: Sequence[Row]) -> int:
        raise NotImplementedError

    def arrived(
        self,
        kind: Kind,
        folder: str | os.PathLike[str],
        file: str | os.PathLike[str],
        digest: Any,
        details: Mapping[str, Any],
        *,
        name: str | None = None,
    ) -> None:
        """Note that ``file`` arrived (``received`` in a spool, ``uploaded`` in a data
        center, an archive ``sealed``…) in ``folder``, under ``name`` (default: its own);
        ``digest`` is the :mod:`hashlib` object that saw its bytes as they were copied
        (None: not known)."""
        checksum = None if digest is None else f"{digest.name}:{digest.hexdigest()}"
        row = event_row(
            kind, place_of(folder), name or os.path.basename(file),
            size=os.stat(file).st_size, checksum=checksum, details=details,
        )  # fmt: skip
        self.append((row,))


class Journal(Arrivals):
    """An open journal of this process: append events, empty it, remove it."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        folder = Path(state_dir) / JOURNAL_DIR
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.token = secrets.token_hex(8)
        self.path = folder / f"{self.token}{SUFFIX}"
        self.seq = 0
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        self._fd: int | None = os.open(self.path, flags, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._lock = threading.Lock()
        self._map: mmap.mmap | None = None
        #: Bytes of lines in the file (the rest, up to the mapping's end, is zeros).
        self._end = 0
        #: Delivery templates by number (:mod:`.deliveries`), and those written since the
        #: journal was last emptied.
        self._templates: dict[Template, int] = {}
        self._written: set[int] = set()

    def append(self, rows: Sequence[Row], then: Then | None = None) -> int:
        """Add the events ``rows`` (of one file) in one line, copied into the file at once
        (whole, or torn at the end by a crash); return the line's number.

        A line is the JSON array ``[seq, [row, …], then]`` — ``then`` is null,
        or the next step the last event announces as an array of
        :class:`Then`'s fields — written by the standard library's C encoder
        (ASCII only: a name that is not valid UTF-8 survives as its escapes).
        One line per file, not one per event: a file's claim and its delivery
        are written together once it is delivered.  (Lines written by earlier
        releases held one event each, ``[seq, *row, then]``: :func:`~.journal_lines.read_journal`
        reads both.)
        """
        seq = self.number()
        self.write(seq, rows, then)
        return seq

    def number(self) -> int:
        """Take the next line's number, to :meth:`write` the line with (under the lock of a
        caller whose threads share the journal: numbers are taken in order, lines may
        then be written in any order)."""
        self.seq += 1
        return self.seq

    def write(self, seq: int, rows: Sequence[Row], then: Then | None = None) -> None:
        """Write the line numbered ``seq`` (:meth:`number`), as :meth:`append` does."""
        line = line_of(seq, rows, then)
        with self._lock:
            self._copy(line)

    def write_delivery(self, seq: int, template: Template, delivery: Delivery) -> None:
        """Write the line numbered ``seq`` of one delivery (:mod:`.deliveries`), after its
        ``template``'s line unless the journal has that already."""
        number = self._templates.get(template)
        if number is None:
            with self._lock:
                number = self._templates.setdefault(template, len(self._templates) + 1)
        line = delivery_line(seq, number, delivery)
        with self._lock:
            if number not in self._written:
                from entrepot.provenance.deliveries import TEMPLATE

                self._copy((_encoded([0, TEMPLATE, number, template]) + "\n").encode())
                self._written.add(number)
            self._copy(line)

    def _copy(self, line: bytes) -> None:
        """Copy ``line`` after the last one (lock held)."""
        assert self._fd is not None, "journal closed"
        start = self._end
        end = start + len(line)
        if self._map is None or end > len(self._map):
            self._grow(end)
        assert self._map is not None
        self._map[start:end] = line
        self._end = end

    def _grow(self, end: int) -> None:
        """Map the file anew, at least ``end`` bytes long, the new stretch written with
        zeros first (lock held): a full disk fails here, with ``ENOSPC``."""
        assert self._fd is not None
        mapped = len(self._map) if self._map is not None else 0
        size = max(_FIRST, mapped + min(mapped, _STEP))
        while size < end:
            size += min(size, _STEP)
        at = mapped
        while at < size:
            # A full disk writes short, then fails: the mapping is left as it was.
            at += os.pwrite(self._fd, memoryview(_ZEROS)[: size - at], at)
        self._unmap()
        self._map = mmap.mmap(self._fd, size)

    def _unmap(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None

    def empty(self) -> None:
        """Forget every event written so far (they are in the database now)."""
        with self._lock:
            assert self._fd is not None, "journal closed"
            self._unmap()  # a mapped page past the file's end may not be touched
            os.ftruncate(self._fd, 0)
            self._end = 0
            self._written.clear()

    def close(self, *, remove: bool) -> None:
        """Release the journal; ``remove`` deletes it (else it waits to be recovered,
        unless nothing was written to it)."""
        with self._lock:
            if self._fd is None:
                return
            self._unmap()
            if remove or not self.seq:
                self.path.unlink(missing_ok=True)
            else:
                os.ftruncate(self._fd, self._end)  # its lines, without the zeros after them
            os.close(self._fd)
            self._fd = None


class Then(NamedTuple):
    """The next step of a file, announced with an event before it is taken.

    After a crash the step counts as taken when every path of ``present``
    exists and none of ``absent`` does: a file moved from ``claimed/`` to
    ``cur/`` is in ``cur/`` and no longer in ``claimed/``.
    """

    kind: str
    details: str
    present: list[str]
    absent: list[str]


class Entry(NamedTuple):
    """One line of a journal."""

    seq: int
    row: Row
    then: Then | None

    @property
    def key(self) -> tuple[Any, ...]:
        """What names the step: kind, place and name."""
        return self.row[1:4]
