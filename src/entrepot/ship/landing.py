"""Settling claims in doubt: did a fetched file land in the spool before its fetcher died?

A claimed fetch (:mod:`entrepot.ship.claimed`) marks its claim *landing*
just before it renames the downloaded file from ``tmp/landing/<token>`` into
``new/``.  If the fetcher dies before it marks the claim done, the claim
lapses *in doubt*: nobody may fetch the object again (it may be in a spool
already, where a consumer may even have taken it on), nor delete it (it may
be nowhere).  The answer is on the spool's file system, and only there:

* the file is in ``new/`` under its recorded name, size and time — it landed;
* otherwise, on the spool it was fetched into (the same folder on the same
  host), once its fetcher's process is gone: its download is still at
  ``tmp/landing/<token>`` — it did not land (the rename is what removes
  it; the folder was synced before the claim was marked) — or it is gone,
  renamed into ``new/`` and taken on from there since.

:func:`settle` runs at the start of every claimed fetch: a claim that
landed is finished (and its object deleted by the listing that follows) and
its ``received`` event recorded — the one its fetcher died before recording:
the object's key and ETag, the instance that fetched it, the checksum of
the file if it still waits in ``new/`` — one that did not is released and
fetched again — by the instance that starts
again, or any other fetching into that spool on that host.  An instance on
another host can settle only a claim whose file it sees in its own
``new/`` (a spool shared between hosts); the others stay in doubt, shown
by ``entrepot fetch --claims`` and ``entrepot status --fleet``, until
their instance starts again, or an operator who knows the answer settles
them (:func:`settle_by_hand`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from entrepot.durable import open_regular
from entrepot.errors import UnknownName
from entrepot.logs import log_event
from entrepot.processes import process_gone
from entrepot.ship.claimed import LANDING, landing_of
from entrepot.ship.trail import sha256_of

if TYPE_CHECKING:
    from entrepot.jobs.claims import Claim
    from entrepot.ship.claimed import FetchClaims
    from entrepot.spool import Spool

__all__ = ["Receipt", "settle", "settle_by_hand", "sweep_landing"]

logger = logging.getLogger("entrepot.ship")

#: Records the ``received`` event of a claim settled as landed: the claim, the
#: local name, the size and the checksum (None when the file is not there to read).
Receipt = Callable[["Claim", str, int, "str | None"], None]


def _scratch(spool: Spool, claim: Claim) -> Path:
    """Where ``claim``'s holder downloaded its file: ``tmp/landing/<token>``."""
    return spool.area("tmp") / LANDING / str(landing_of(claim).get("scratch", claim.token))


def _landed(claim: Claim, spool: Spool) -> bool | None:
    """Whether ``claim``'s file landed in ``spool``: True, False, or None (cannot tell here)."""
    landing = landing_of(claim)
    try:
        st = os.lstat(spool.path("new", str(landing.get("local", ""))))
    except (OSError, ValueError):
        pass
    else:
        # A link there is not the file landed, whatever the file behind it looks like.
        same = (st.st_size, st.st_mtime_ns) == (landing.get("size"), landing.get("mtime_ns"))
        if same and stat.S_ISREG(st.st_mode):
            return True
    if not _answers_for(landing, spool):
        return None
    try:
        links = os.stat(_scratch(spool, claim)).st_nlink
    except FileNotFoundError:
        return True  # renamed into new/, and taken on from there since
    # A second link: a publish by link and unlink stopped half-way; new/ has it.
    return links > 1


def _answers_for(landing: dict[str, Any], spool: Spool) -> bool:
    """Whether ``spool`` is where the claim was landing, and its fetcher is surely gone:
    the same folder on this host, the process dead (or this one: its run is over)."""
    if landing.get("spool") != str(spool.root.resolve()):
        return False
    if landing.get("host") != socket.gethostname():
        return False  # the same path on another host is another folder
    pid = landing.get("pid")
    return isinstance(pid, int) and (pid == os.getpid() or process_gone(pid))


def settle(claims: FetchClaims, spool: Spool, receipt: Receipt | None = None) -> list[Claim]:
    """Finish or release the claims in doubt of ``claims``' source that ``spool`` can
    answer for; the claims still in doubt.  ``receipt``: called for each claim this
    call finished as landed."""
    left = []
    for claim in claims.in_doubt():
        landed = _landed(claim, spool)
        landing = landing_of(claim)
        if landed is None:
            left.append(claim)
            continue
        if landed:
            detail = {**(claim.detail or {}), "stored_as": landing.get("local"),
                      "by": claims.instance, "settled": "landed"}  # fmt: skip
            # Only the instance that finishes the claim records its receipt: once.
            if claims.ledger.finish_key(claim, detail) and receipt is not None:
                local = str(landing.get("local", ""))
                receipt(claim, local, int(landing.get("size") or 0), _checksum(claim, spool))
        else:
            claims.ledger.release_key(claim)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(_scratch(spool, claim))
        log_event(logger, "fetch.claim_settled", logging.WARNING, name=landing.get("local"),
                  holder=claim.holder, landed=landed)  # fmt: skip
    if left:
        log_event(logger, "fetch.claims_in_doubt", logging.WARNING, count=len(left),
                  holders=",".join(sorted({claim.holder for claim in left})))  # fmt: skip
    return left


def _checksum(claim: Claim, spool: Spool) -> str | None:
    """The SHA-256 of ``claim``'s file, if it still waits in ``new/`` as it landed."""
    landing = landing_of(claim)
    try:
        # Never through a link, never waiting on a FIFO: what is read is the spool's file.
        fd = open_regular(spool.path("new", str(landing.get("local", ""))), follow=False)
        with os.fdopen(fd, "rb") as src:
            st = os.fstat(src.fileno())
            if (st.st_size, st.st_mtime_ns) != (landing.get("size"), landing.get("mtime_ns")):
                return None  # another file of that name since
            return sha256_of(src, st.st_size)
    except (OSError, ValueError):
        # Taken on from new/ since, or not a regular file there (NotRegularFile): its
        # size is known, not its bytes.
        return None


def sweep_landing(claims: FetchClaims, spool: Spool) -> int:
    """Remove downloads in ``tmp/landing/`` whose claim is no longer held nor in doubt
    (a fetcher died mid-download, and its claim was taken over); how many."""
    folder = spool.area("tmp") / LANDING
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return 0
    # A download in progress is ".<token>.<random>.partial" beside its final name.
    tokens = {name: name.lstrip(".").split(".", 1)[0] for name in names}
    live = claims.ledger.live_tokens(set(tokens.values()))
    removed = 0
    for name, token in tokens.items():
        if token not in live:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(folder / name)
                removed += 1
    return removed


def settle_by_hand(claims: FetchClaims, name: str, *, landed: bool) -> Claim:
    """The operator's answer for the claim in doubt on remote file ``name`` (or its
    claim key): ``landed`` finishes it (the object is deleted by the next fetch),
    otherwise it is released (fetched again).  UnknownName when no such claim is in
    doubt."""
    for claim in claims.in_doubt():
        if name in (claim.key, (claim.detail or {}).get("name")):
            break
    else:
        raise UnknownName(f"no claim in doubt on {name!r} for this fetch's source")
    if landed:
        detail = {**(claim.detail or {}), "stored_as": landing_of(claim).get("local"),
                  "settled": "by hand"}  # fmt: skip
        done = claims.ledger.finish_key(claim, detail)
    else:
        done = claims.ledger.release_key(claim)
    if not done:
        raise UnknownName(f"the claim on {name!r} was settled meanwhile")
    log_event(logger, "fetch.claim_settled", logging.WARNING, name=name, holder=claim.holder,
              landed=landed, by="hand")  # fmt: skip
    return claim
