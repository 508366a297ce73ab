"""What FTP servers answer, read the same way whatever the server's wording.

Servers word their replies differently (vsftpd: ``550 Create directory
operation failed``; pyftpdlib: ``550 Not enough privileges``), so a reply is
classified by its *code* and the *command* it answers, never by its text:
a ``550`` to a command that reads something (``CWD``, ``RETR``, ``SIZE`` …)
means it is missing; to a command that creates something (``STOR``, ``MKD``,
``RNTO``) it is a refusal.  (``DELE`` and ``RNFR`` answer ``550`` for both;
the FTP target tells them apart by asking whether the file is there.)

Also here: parsing ``MLSD`` facts, Unix-style ``LIST`` lines (servers
without ``MLSD``, such as vsftpd) and ``MDTM`` times.
"""

from __future__ import annotations

import contextlib
import ftplib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from entrepot.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    PermanentTargetError,
    PermissionDenied,
    RemoteNotFound,
    TargetError,
    TransientTargetError,
)

__all__ = ["FTPReply", "ListedLine", "error_class", "mdtm_time", "mlsd_facts", "parse_list_line"]

#: Commands whose 550 means "no such file or folder".
_READING = frozenset(
    {"CWD", "RETR", "SIZE", "MDTM", "MLST", "MLSD", "LIST", "NLST", "RNFR", "DELE"}
)
#: Commands whose 550 or 553 means "not allowed to create this".
_CREATING = frozenset({"STOR", "MKD", "RNTO"})
#: Listing commands whose 450 means "no such folder" (ProFTPD).
_LISTING = frozenset({"CWD", "MLSD", "LIST", "NLST"})


class FTPReply(Exception):
    """A negative reply, with the command it answers."""

    def __init__(self, verb: str, reply: str) -> None:
        super().__init__(f"{verb}: {reply}")
        self.verb = verb
        self.code = reply[:3]
        self.text = reply.strip()


@contextlib.contextmanager
def answering(verb: str) -> Iterator[None]:
    """Turn ftplib's negative-reply errors raised inside into :class:`FTPReply`."""
    try:
        yield
    except (ftplib.error_perm, ftplib.error_temp) as exc:
        raise FTPReply(verb, str(exc)) from exc


def error_class(verb: str, code: str) -> type[TargetError]:
    """The error a negative reply ``code`` to command ``verb`` stands for."""
    if code == "421":
        return ConnectionFailed
    if code == "530":
        return AuthenticationFailed
    if code == "450" and verb in _LISTING:
        return RemoteNotFound
    if code.startswith("4"):
        return TransientTargetError
    if code == "532" or (code in {"550", "553"} and verb in _CREATING):
        return PermissionDenied
    if code == "550" and verb in _READING:
        return RemoteNotFound
    if code == "501" and verb == "CWD":
        return RemoteNotFound  # pyftpdlib's answer to a missing folder
    return PermanentTargetError


def mlsd_facts(text: str) -> dict[str, str]:
    """``type=file;size=3;modify=20240601120000;`` → a dict (keys lower-cased)."""
    facts = {}
    for fact in text.split(";"):
        key, sep, value = fact.partition("=")
        if sep:
            facts[key.strip().lower()] = value.strip()
    return facts


_STAMP_FIELDS = ((0, 4), (4, 6), (6, 8), (8, 10), (10, 12), (12, 14))


def mdtm_time(stamp: str) -> float | None:
    """``20240601120000`` (UTC, optional fraction) → seconds since the epoch, or None."""
    digits = stamp.strip()[:14]
    # Read by position rather than strptime, which costs more than the rest of a
    # verification: every upload's MLST reply carries one of these.
    if len(digits) != 14 or not (digits.isascii() and digits.isdigit()):
        return None
    year, month, day, hour, minute, second = (int(digits[a:b]) for a, b in _STAMP_FIELDS)
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class ListedLine:
    """One entry of a Unix-style listing: its kind (``-``, ``d``, ``l`` …), size and name."""

    kind: str
    size: int
    name: str


_UNIX_LINE = re.compile(
    r"(?P<kind>[-bcdlps])[-rwxsStTl+.@]{9,10}\s+\d+\s+\S+\s+(?:\S+\s+)?(?P<size>\d+)\s+"
    r"[A-Za-z]{3}\s+\d{1,2}\s+(?:\d{1,2}:\d{2}|\d{4})\s(?P<name>.+)"
)


def parse_list_line(line: str) -> ListedLine | None:
    """Read one ``LIST`` line in the Unix ``ls -l`` format; None if it is not one."""
    match = _UNIX_LINE.fullmatch(line)
    if match is None:
        return None
    name = match["name"]
    if match["kind"] == "l":
        name = name.split(" -> ", 1)[0]
    return ListedLine(match["kind"], int(match["size"]), name)
