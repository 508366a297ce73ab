"""Fetching under claims: several fetchers of one remote folder, each file fetched once.

Central services of a fleet fetch from one bucket, each with its own spool,
several at once.  With ``claims`` on (a fetch's ``claims = true``), every
remote file is claimed in the ledger before it is downloaded — a row of
:mod:`entrepot.jobs.claims` keyed by where the files come from (scheme,
host, port, remote folder: not the local spool, which differs between
hosts), the file's name and its *version* (the S3 ETag; elsewhere its size
and time).  One statement decides who holds it, so two fetchers, in one
process or on two hosts, never download the same version of a file:

1. claim it (another holder, or a claim already done: skip it);
2. download it into ``tmp/``, fsync it, publish it into ``new/`` (the
   folder synced);
3. mark the claim done — the local copy is durable;
4. only then delete the remote file (or move it to ``remote_after``).

A fetcher that dies holding a claim stops renewing it; once its lease has
run out (``claim_lease``, 300 s by default; the service's heartbeat renews
the claims of a live one) another fetcher takes it over and fetches the
file.  A file still there whose claim is done — the fetcher died between 3
and 4, or an edge wrote the same bytes again after it was fetched — is
deleted without being fetched again.  What remains is a crash between 2
and 3: a fetcher taking over on the same spool finds the file there under
its name (the same size: kept, not duplicated); one on another host
fetches it again, and the two copies carry the same key and ETag in their
``received`` events.

Files in sub-folders are fetched too (an edge's
``{instance}/{route}/{yyyy}/{mm}/{dd}/{name}``), each under a local name
made of its remote path with ``~`` for ``/`` (:func:`local_name`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from entrepot.errors import InvalidName, RemoteNotFound
from entrepot.logs import log_event
from entrepot.names import check_name
from entrepot.targets import RemoteInfo, Target, parse_url

if TYPE_CHECKING:
    from entrepot.jobs.claims import Claim
    from entrepot.jobs.ledger import Ledger
    from entrepot.ship.route import Route

__all__ = ["KIND", "FetchClaims", "local_name", "source_identity", "walk"]

logger = logging.getLogger("entrepot.ship")

#: The kind of the claims (:meth:`entrepot.jobs.Ledger.claim_key`).
KIND = "fetch-object"
_MAX_KEY = 1024


def local_name(remote: str) -> str:
    """The spool name of the remote file ``remote`` (``a/b.csv`` → ``a~b.csv``), checked.

    A ``~`` of its own would make two remote names one local name: refused.
    """
    if "~" in remote:
        raise InvalidName(f"remote file name {remote!r} contains '~' (it stands for '/' here)")
    return check_name(remote.replace("/", "~"), what="local name")


def walk(target: Target, folder: str = "") -> list[RemoteInfo]:
    """Every file under ``folder``, sub-folders included (names relative to the target)."""
    found: list[RemoteInfo] = []
    try:
        listing = target.list(folder)
    except RemoteNotFound:
        if not folder:
            raise
        return found  # emptied by another fetcher since its parent was listed
    for info in listing:
        if info.is_dir:
            found += walk(target, info.name)
        else:
            found.append(info)
    return found


def source_identity(route: Route) -> str:
    """Where a route's files come from, as a digest: scheme, host, port, remote folder."""
    target = route.open_target()
    parts = (
        parse_url(route.url).scheme,
        (target.host or "").lower(),
        str(target.port or ""),
        target.remote_path(""),
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


@dataclass
class FetchClaims:
    """The claims of one fetching route in ``ledger``; see the module docstring."""

    ledger: Ledger
    source: str
    instance: str
    lease: float = 300.0

    def key(self, info: RemoteInfo) -> str:
        version = info.version or f"{info.size}@{info.mtime}"
        key = f"{self.source}:{version}:{info.name}"
        if len(key) > _MAX_KEY:
            key = f"{self.source}:{version}:sha256:{hashlib.sha256(info.name.encode()).hexdigest()}"
        return key

    def take(self, info: RemoteInfo) -> Claim | None:
        """Claim ``info``'s version; None when another fetcher holds it or it was fetched."""
        detail = {"name": info.name, "version": info.version}
        return self.ledger.claim_key(
            KIND, self.key(info), lease=self.lease, instance=self.instance, detail=detail
        )

    def fetched_before(self, info: RemoteInfo) -> bool:
        """True when this version of the file was fetched already (its claim is done)."""
        claim = self.ledger.key_claim(KIND, self.key(info))
        return claim is not None and claim.done

    def stored(self, claim: Claim, local: str) -> None:
        """The local copy of ``claim``'s file is durable: the claim is done."""
        detail = {**(claim.detail or {}), "stored_as": local, "by": self.instance}
        if not self.ledger.finish_key(claim, detail):
            # Our lease ran out and another fetcher took the file over: it may
            # fetch it too.  Said loudly; the remote copy is removed next.
            log_event(logger, "fetch.claim_lost", logging.WARNING, name=claim.key)

    def release(self, claim: Claim) -> None:
        """Let another fetcher have the file (this one failed to fetch it)."""
        self.ledger.release_key(claim)
