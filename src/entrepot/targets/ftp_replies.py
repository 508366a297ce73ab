"""What FTP servers answer, read the same way whatever the server's wording.

Servers word their replies differently (vsftpd: ``550 Create directory
operation failed``; pyftpdlib: ``550 Not enough privileges``), so a reply is
classified by its *code* and the *command* it answers, never by its text:
a ``550`` to a command that reads something (``CWD``, ``RETR``, ``SIZE`` …)
means it is missing; to a command that creates something (``STOR``, ``MKD``,
``RNTO``) it is a refusal.  (``DELE`` and ``RNFR`` answer ``550`` for both;
the FTP target tells them apart by asking whether the file is there.)

Also here: the features a server names (``FEAT``), parsing ``MLSD`` facts,
Unix-style ``LIST`` lines (servers without ``MLSD``, such as vsftpd) and
``MDTM`` times.  A size that is not a count of bytes is never guessed at: an
``MLSD`` entry or ``LIST`` line holding one reads as None (the listing leaves
it out), and a ``SIZE`` or ``MLST`` answer holding one is :class:`UnusableSize`.
"""

from __future__ import annotations

import contextlib
import ftplib
import re
import socket
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
from entrepot.targets.ftp_lines import OverLimit
from entrepot.targets.info import RemoteInfo, listed_size
from entrepot.targets.tls import tls_failure

__all__ = [
    "FTPReply", "ListedLine", "UnusableSize", "error_class", "failure", "features", "mdtm_time",
    "mlsd_facts", "mlsd_info", "parse_list_line", "unusable_size",
]  # fmt: skip

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


class UnusableSize(ftplib.error_proto):
    """The server gave a size that is not a count of bytes."""

    def __init__(self, path: str, size: str | None) -> None:
        super().__init__(f"the size {size!r} of {path!r} is not a count of bytes")
        self.size = size


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


def failure(exc: Exception) -> tuple[type[TargetError], str] | None:
    """The error an exception raised in an FTP session stands for, and its message;
    None for the network errors every target shares."""
    if isinstance(exc, FTPReply):
        return error_class(exc.verb, exc.code), f"server replied {exc.text}"
    if isinstance(exc, ftplib.error_perm | ftplib.error_temp):
        reply = FTPReply("", str(exc))
        return error_class("", reply.code), f"server replied {reply.text}"
    if isinstance(exc, OverLimit):
        return ConnectionFailed, f"the server sent {exc}"
    if isinstance(exc, ftplib.Error):  # error_reply, error_proto, any other complaint of ftplib
        return ConnectionFailed, f"unexpected reply: {exc}"
    if isinstance(exc, UnicodeDecodeError):
        return ConnectionFailed, "the server's reply is not UTF-8 text: is it an FTP server?"
    tls = tls_failure(exc)
    if tls is not None:
        return tls
    if isinstance(exc, socket.gaierror):
        return ConnectionFailed, f"cannot resolve host: {exc.strerror}"
    return None


def features(ftp: ftplib.FTP) -> set[str]:
    """The features the server names in its ``FEAT`` reply (lower-cased); none if refused."""
    try:
        reply = ftp.sendcmd("FEAT")
    except ftplib.Error:
        return set()
    return {line.strip().split(" ")[0].lower() for line in reply.split("\n")[1:-1]}


def mlsd_facts(text: str) -> dict[str, str]:
    """``type=file;size=3;modify=20240601120000;`` → a dict (keys lower-cased)."""
    facts = {}
    for fact in text.split(";"):
        key, sep, value = fact.partition("=")
        if sep:
            facts[key.strip().lower()] = value.strip()
    return facts


def mlsd_info(path: str, facts: dict[str, str]) -> RemoteInfo | None:
    """What ``MLSD``/``MLST`` facts say of ``path``; None when its size is unusable."""
    is_dir = facts.get("type", "").lower() in {"dir", "cdir", "pdir"}
    mtime = mdtm_time(facts["modify"]) if facts.get("modify") else None
    size = 0 if is_dir else listed_size(facts.get("size") or "0")
    if size is None:
        return None
    return RemoteInfo(path, size, mtime, None, is_dir)


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
    r"(?P<kind>[-bcdlps])[-rwxsStTl+.@]{9,10}\s+\d+\s+\S+\s+(?:\S+\s+)?(?P<size>[0-9]+)\s+"
    r"[A-Za-z]{3}\s+\d{1,2}\s+(?:\d{1,2}:\d{2}|\d{4})\s(?P<name>.+)"
)


def parse_list_line(line: str) -> ListedLine | None:
    """Read one ``LIST`` line in the Unix ``ls -l`` format; None if it is not one (or its
    size is past what :func:`int` reads)."""
    match = _UNIX_LINE.fullmatch(line)
    size = None if match is None else listed_size(match["size"])
    if match is None or size is None:
        return None
    name = match["name"]
    if match["kind"] == "l":
        name = name.split(" -> ", 1)[0]
    return ListedLine(match["kind"], size, name)


def unusable_size(size: str | None) -> str:
    """Why an entry listed with ``size`` is left out of a listing."""
    return f"size {size!r} is not a count of bytes"
