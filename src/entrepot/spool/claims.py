"""Claims: a file taken out of ``new/`` by exactly one consumer.

A claim is a rename of ``new/NAME`` to ``claimed/TOKEN-NAME``; the token
names the holder (host, process), so a claim whose holder died on this host
can be taken back at once rather than after its lease.

The lease runs from the claimed file's change time, which a renewal moves
by setting the file's times to their own values.  Only the file's owner
may set times, and a spool is often filled by one user and shipped by
another (a receiving service writes, a shipper ships, the folders writable
by both): such a holder renews a marker of its own instead,
``claimed/.renew-TOKEN``, and recovery ages the claim by the fresher of the
two.  The marker needs nothing but the folder's write permission, which
the holder has (it renamed the file into ``claimed/``); the other ways
need more or change more: ``utime(path, None)`` needs write access to the
file and moves its modification time, by which ``new/`` is ordered and
fetches are settled; a hard link is refused for a file one does not own
where links are protected (``fs.protected_hardlinks``); renaming the
file to a fresh token changes the claim's id while others may hold it.
The file's own change time stays the first means, which recoverers of
earlier versions read too.  The marker ends with the claim; recovery
removes one whose claim ended without it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
from pathlib import Path
from typing import BinaryIO, Self

from entrepot.errors import ClaimLost
from entrepot.processes import host_tag, process_gone
from entrepot.spool.areas import CLAIM_AREA, TOKEN_LENGTH, Areas, SyncGroup, open_entry

__all__ = [
    "CLAIM_AREA",
    "CLAIM_ID",
    "MARKER_PREFIX",
    "Claim",
    "holder_gone",
    "new_token",
    "parse_claim_id",
]

#: A claim id: the token, a dash, the file name.
CLAIM_ID = re.compile(rf"^([0-9a-f]{{{TOKEN_LENGTH}}})-(.+)$")
#: A renewal marker is this prefix and the claim's token (a dot-file: never listed).
MARKER_PREFIX = ".renew-"
_MARKER_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_HOST = host_tag()
_COUNTER = itertools.count(int.from_bytes(os.urandom(2), "big"))


def new_token() -> str:
    """A token that makes a claim's file name its own and names its holder.

    Four hex digits of host tag, eight of process id, four of a counter of
    this process (no two claims it holds share a token; cheaper than random
    bytes): a claim whose holder died on this host can be taken back without
    waiting for its lease.
    """
    return f"{_HOST:04x}{os.getpid() & 0xFFFFFFFF:08x}{next(_COUNTER) & 0xFFFF:04x}"


def holder_gone(token: str) -> bool:
    """True when the token names a process of this host that is no longer alive."""
    return int(token[:4], 16) == _HOST and process_gone(int(token[4:12], 16))


def parse_claim_id(claim_id: str) -> tuple[str, str] | None:
    """``(token, name)`` of a claim id (a file name in ``claimed/``), or None."""
    match = CLAIM_ID.match(claim_id)
    return (match.group(1), match.group(2)) if match else None


class Claim:
    """A file taken out of ``new/`` by one consumer; finish with :meth:`done` or :meth:`release`.

    Read it with :meth:`open`, which never follows a link.  As a context
    manager, leaving the block with an exception releases the file back to
    ``new/``; leaving it normally without a decision releases it too.
    """

    def __init__(self, areas: Areas, name: str, token: str) -> None:
        self.areas = areas
        self.name = name
        self.token = token
        self.finished = False
        self.marked = False

    @property
    def id(self) -> str:
        """The claim's identity, also its file name in ``claimed/``."""
        return f"{self.token}-{self.name}"

    @property
    def file(self) -> str:
        """Where the claimed file is while the claim is held, as a string."""
        return f"{self.areas.folder(CLAIM_AREA)}/{self.token}-{self.name}"

    @property
    def path(self) -> Path:
        """Where the claimed file is while the claim is held."""
        return Path(self.file)

    def open(self) -> BinaryIO:
        """The claimed file, open for reading; a link or special file is refused.

        Raises :class:`~entrepot.errors.UnsafeEntry` for anything but a
        regular file, :class:`~entrepot.errors.ClaimLost` when the claim
        is gone, and :class:`~entrepot.errors.SpoolLayoutError` when
        ``claimed/`` is a symbolic link.
        """
        self.areas.check_area(CLAIM_AREA)
        try:
            return open_entry(self.file, what="claimed file")
        except FileNotFoundError:
            raise ClaimLost(f"claim on {self.name!r} was lost") from None

    @property
    def marker(self) -> str:
        """The claim's renewal marker in ``claimed/`` (see the module docstring)."""
        return f"{self.areas.folder(CLAIM_AREA)}/{MARKER_PREFIX}{self.token}"

    def renew(self) -> None:
        """Extend the lease: it runs again from now.

        The file's change time moves; a holder that may not set the times of
        a file another user wrote renews the claim's marker instead.
        """
        self.areas.check_area(CLAIM_AREA)
        try:
            st = os.stat(self.file, follow_symlinks=False)
            # Setting the times to their own values updates the change time (the lease clock).
            os.utime(self.file, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
        except FileNotFoundError as exc:
            raise ClaimLost(f"claim on {self.name!r} was lost") from exc
        except PermissionError:
            self._renew_marker()

    def _renew_marker(self) -> None:
        """Touch the marker, made the first time; the claim must still be held after it."""
        try:
            os.utime(self.marker, follow_symlinks=False)
        except OSError as exc:
            if not isinstance(exc, FileNotFoundError):
                # Not ours (a token of an ended claim of another user): make it anew.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.marker)
            with contextlib.suppress(FileExistsError):
                os.close(os.open(self.marker, _MARKER_FLAGS, 0o644))
        self.marked = True
        if not os.path.lexists(self.file):
            # Recovered meanwhile: the marker must not outlive it.
            self._drop_marker()
            raise ClaimLost(f"claim on {self.name!r} was lost")

    def _drop_marker(self) -> None:
        if self.marked:
            with contextlib.suppress(OSError):
                os.unlink(self.marker)
            self.marked = False

    def done(self, area: str = "cur", *, group: SyncGroup | None = None) -> Path:
        """Move the file to ``area`` (default ``cur/``) and end the claim; return its new path.

        With ``group`` the folder is synced together with the group's other moves.
        """
        finish = group.finish if group is not None else self.areas.finish
        path = Path(finish(self.file, self.name, area))
        self.finished = True
        self._drop_marker()
        return path

    def remove(self) -> None:
        """Delete the claimed file and end the claim (for files that need no keeping)."""
        self.areas.check_area(CLAIM_AREA)
        try:
            os.unlink(self.file)
        except FileNotFoundError:
            raise ClaimLost(f"claim on {self.name!r} was lost") from None
        self.finished = True
        self._drop_marker()

    def release(self) -> None:
        """Put the file back into ``new/`` for another consumer."""
        self.areas.finish(self.file, self.name, "new")
        self.finished = True
        self._drop_marker()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self.finished:
            try:
                self.release()
            except ClaimLost:
                if exc_info[1] is None:
                    raise  # lost and nothing else went wrong: say so

    def __repr__(self) -> str:
        return f"<Claim {self.name!r} in {self.areas.root}>"
