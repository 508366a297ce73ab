"""Claims: a file taken out of ``new/`` by exactly one consumer."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from entrepot.errors import ClaimLost
from entrepot.processes import host_tag, process_gone

logger = logging.getLogger(__name__)


if TYPE_CHECKING:
    from entrepot.spool.core import Spool

CLAIM_AREA = "claimed"
_TOKEN_LENGTH = 16
#: A claim id: the token, a dash, the file name.
CLAIM_ID = re.compile(rf"^([0-9a-f]{{{_TOKEN_LENGTH}}})-(.+)$")
_HOST = host_tag()


def new_token() -> str:
    """A token that makes a claim's file name its own and names its holder.

    Four hex digits of host tag, eight of process id, four random: a claim
    whose holder died on this host can be taken back without waiting for
    its lease.
    """
    return f"{_HOST:04x}{os.getpid() & 0xFFFFFFFF:08x}{os.urandom(2).hex()}"


def holder_gone(token: str) -> bool:
    """True when the token names a process of this host that is no longer alive."""
    return int(token[:4], 16) == _HOST and process_gone(int(token[4:12], 16))


class Claim:
    """A file taken out of ``new/`` by one consumer; finish with :meth:`done` or :meth:`release`.

    As a context manager, leaving the block with an exception releases the
    file back to ``new/``; leaving it normally without a decision releases it too.
    """

    def __init__(self, spool: Spool, name: str, token: str) -> None:
        self.spool = spool
        self.name = name
        self.token = token
        self.finished = False

    @property
    def id(self) -> str:
        """The claim's identity, also its file name in ``claimed/``."""
        return f"{self.token}-{self.name}"

    @property
    def file(self) -> str:
        """Where the claimed file is while the claim is held, as a string."""
        return f"{self.spool._folder(CLAIM_AREA)}/{self.token}-{self.name}"

    @property
    def path(self) -> Path:
        """Where the claimed file is while the claim is held."""
        return Path(self.file)

    def renew(self) -> None:
        """Extend the lease: it runs again from now."""
        try:
            st = self.path.stat()
            # Setting the times to their own values updates the change time (the lease clock).
            os.utime(self.path, ns=(st.st_atime_ns, st.st_mtime_ns))
        except FileNotFoundError as exc:
            raise ClaimLost(f"claim on {self.name!r} was lost") from exc

    def done(self, area: str = "cur") -> Path:
        """Move the file to ``area`` (default ``cur/``) and end the claim; return its new path."""
        path = self.spool._finish(self, area)
        self.finished = True
        return path

    def remove(self) -> None:
        """Delete the claimed file and end the claim (for files that need no keeping)."""
        try:
            os.unlink(self.file)
        except FileNotFoundError:
            raise ClaimLost(f"claim on {self.name!r} was lost") from None
        self.finished = True

    def release(self) -> None:
        """Put the file back into ``new/`` for another consumer."""
        self.spool._finish(self, "new")
        self.finished = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.finished:
            try:
                self.release()
            except ClaimLost:
                if exc is None:
                    raise

    def __repr__(self) -> str:
        return f"<Claim {self.name!r} in {self.spool.root}>"
