"""A fetch's download: watched for its claim, its full disk told as the spool's.

Helpers of :mod:`entrepot.ship.fetcher`: the digests of a download, that
end it as soon as its claim is found taken over (:func:`hasher`), the out-of-space
error behind a target's failure (:func:`space_error`), and where a fetched
file came from (:func:`child_url`).
"""

from __future__ import annotations

import errno
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from entrepot.ship.claimed import ClaimTaken

if TYPE_CHECKING:
    from entrepot.jobs.claims import Claim
    from entrepot.jobs.keeper import ClaimKeeper

__all__ = ["Watched", "child_url", "hasher", "space_error"]

_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def hasher(
    digests: list[Any], on: bool, keeper: ClaimKeeper | None, claim: Claim | None
) -> Callable[[], Any] | None:
    """A maker of SHA-256 digests that keeps them in ``digests``, if provenance is ``on``;
    under a ``claim`` kept alive by ``keeper``, one that also ends the download
    (ClaimTaken) as soon as the claim is found taken over."""
    if not on and keeper is None:
        return None

    def fresh() -> Any:
        digest = hashlib.sha256() if on else None
        if digest is not None:
            digests.append(digest)
        if keeper is None or claim is None:
            return digest
        return Watched(digest, lambda: keeper.lost(claim), claim.key)

    return fresh


class Watched:
    """A digest (or none) fed a download's bytes, that ends the download once
    ``lost()`` says its claim was taken over."""

    def __init__(self, digest: Any, lost: Callable[[], bool], key: str) -> None:
        self.digest = digest
        self.lost = lost
        self.key = key

    def update(self, data: bytes) -> None:
        if self.lost():
            raise ClaimTaken(f"the claim on {self.key!r} was taken over: download abandoned")
        if self.digest is not None:
            self.digest.update(data)

    def hexdigest(self) -> str:
        return str(self.digest.hexdigest()) if self.digest is not None else ""


def space_error(exc: BaseException) -> OSError | None:
    """The out-of-space error behind ``exc`` (its causes followed), if there is one."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, OSError) and seen.errno in _SPACE:
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def child_url(url: str, name: str) -> str:
    """``url`` with ``name`` added to its path, before its query string if it has one."""
    base, mark, query = url.partition("?")
    return f"{base.rstrip('/')}/{name}{mark}{query}"
