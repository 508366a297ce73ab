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
2. download the version claimed into ``tmp/`` — refused when the file was
   written again since (:mod:`entrepot.ship.fetch_versions`), so the bytes
   landed are always the claimed version's — fsync it, publish it into
   ``new/`` (the folder synced);
3. mark the claim done — the local copy is durable;
4. only then delete the remote file, that version only (or move it to
   ``remote_after``).

Step 2 is itself in two: once the download is complete and durable (in
``tmp/landing/<claim token>``, the folder synced), the claim is marked
*landing* in the ledger (the local name, size and time, the spool, the
instance), then the file is renamed into ``new/``.  A claim whose renewal
or landing finds it taken over is abandoned: nothing is published.

A fetcher that dies holding a claim stops renewing it (a one-shot command
renews its own claims in a thread, :class:`~entrepot.jobs.keeper.ClaimKeeper`;
a service's heartbeat those of its instance); once its lease has run out
(``claim_lease``, 300 s by default) another fetcher takes it over and
fetches the file — unless it was landing: whether the rename happened is
known only on the spool's host, so the claim is *in doubt* and is never
taken over (:mod:`entrepot.ship.landing` settles it).  A file still there
whose claim is done — the fetcher died between 3 and 4, or an edge wrote
the same bytes again after it was fetched — is deleted without being
fetched again.

Files in sub-folders are fetched too (an edge's
``{instance}/{route}/{yyyy}/{mm}/{dd}/{name}``), each under a local name
made of its remote path with ``~`` for ``/`` (:func:`local_name`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from entrepot.errors import InvalidName, RemoteNotFound, TransientTargetError
from entrepot.logs import log_event
from entrepot.spool import spool_name
from entrepot.targets import RemoteInfo, Target, parse_url

if TYPE_CHECKING:
    from entrepot.jobs.claims import Claim
    from entrepot.jobs.ledger import Ledger
    from entrepot.ship.route import Route
    from entrepot.spool import Spool

__all__ = [
    "KIND",
    "LANDING",
    "ClaimTaken",
    "FetchClaims",
    "landing_of",
    "local_name",
    "source_identity",
    "walk",
]

logger = logging.getLogger("entrepot.ship")

#: The kind of the claims (:meth:`entrepot.jobs.Ledger.claim_key`).
KIND = "fetch-object"
_MAX_KEY = 1024
#: The folder below the spool's ``tmp/`` where claimed downloads wait to land
#: (out of reach of the sweep of ``tmp/``: a file there is evidence, see
#: :mod:`entrepot.ship.landing`).
LANDING = "landing"


class ClaimTaken(TransientTargetError):
    """The claim on a file being fetched was taken over: its download is abandoned.

    A target error, so that it ends a transfer in progress (its connection
    closed) from the download's own writing.
    """


def local_name(remote: str) -> str:
    """The spool name of the remote file ``remote`` (``a/b.csv`` → ``a~b.csv``), checked.

    A ``~`` of its own would make two remote names one local name: refused.
    """
    if "~" in remote:
        raise InvalidName(f"remote file name {remote!r} contains '~' (it stands for '/' here)")
    return spool_name(remote.replace("/", "~"), what="local name")


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

    def scratch(self, spool: Spool, claim: Claim) -> Path:
        """Where ``claim``'s file is downloaded: ``tmp/landing/<token>``."""
        folder = spool.area("tmp") / LANDING
        folder.mkdir(mode=0o700, exist_ok=True)
        return folder / claim.token

    def land(self, claim: Claim, local: str, scratch: Path, spool: Spool) -> Claim | None:
        """Mark ``claim`` landing: its complete file at ``scratch`` is renamed to
        ``new/local`` next.  None when the claim was lost: publish nothing."""
        st = os.stat(scratch)
        landing = {
            "local": local,
            "scratch": claim.token,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "spool": str(spool.root.resolve()),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "by": self.instance,
        }
        return self.ledger.land_key(claim, {**(claim.detail or {}), "landing": landing})

    def in_doubt(self) -> list[Claim]:
        """The claims of this source that are in doubt (landing, lapsed), oldest first."""
        return self.ledger.claims_in_doubt(KIND, f"{self.source}:")

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


def landing_of(claim: Claim) -> dict[str, Any]:
    """What ``claim``'s holder recorded when it marked it landing (empty if it did not)."""
    landing = (claim.detail or {}).get("landing")
    return dict(landing) if isinstance(landing, dict) else {}
