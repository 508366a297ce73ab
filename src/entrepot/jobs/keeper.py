"""Keeping claims alive while their work goes on: a one-shot command's own heartbeat.

A service renews the claims of its instance with its heartbeat.  A command
run once (``entrepot fetch --claims``) has none, yet one download may take
longer than a claim's lease: without renewal another fetcher would take the
object over while it is still coming in.  A :class:`ClaimKeeper` renews the
claims it is given, by their token, every third of their lease, in a thread
of its own (the heartbeat's :class:`~entrepot.jobs.ticker.Ticker`).  A claim
whose renewal finds its token gone was taken over (its lease had run out,
the database being out of reach for instance): :meth:`ClaimKeeper.lost`
then says so, and the work done under it must be abandoned, never
published.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from entrepot.jobs.ticker import Ticker
from entrepot.logs import log_event

if TYPE_CHECKING:
    from entrepot.jobs.claims import Claim, ClaimLog

__all__ = ["ClaimKeeper"]

logger = logging.getLogger("entrepot.jobs")


class ClaimKeeper:
    """Renews the claims held through it, each by ``lease`` seconds; see the module."""

    def __init__(self, ledger: ClaimLog, lease: float, every: float | None = None) -> None:
        self.ledger = ledger
        self.lease = lease
        self._held: dict[str, Claim] = {}
        self._lost: set[str] = set()
        self._lock = threading.Lock()
        self._ticker = Ticker(
            self.renew,
            lambda: every or lease / 3,
            name="entrepot-claims",
            logger=logger,
            failed="jobs.claims_renewal_failed",
            back="jobs.claims_renewal_back",
        )

    def __enter__(self) -> ClaimKeeper:
        self._ticker.start(at_once=False)
        return self

    def __exit__(self, *exc: object) -> None:
        self._ticker.stop()

    def hold(self, claim: Claim) -> None:
        """Renew ``claim`` from now on (until :meth:`drop`)."""
        with self._lock:
            self._held[claim.token] = claim

    def drop(self, claim: Claim) -> None:
        """Stop renewing ``claim`` (its work is done, released, or abandoned)."""
        with self._lock:
            self._held.pop(claim.token, None)
            self._lost.discard(claim.token)

    def lost(self, claim: Claim) -> bool:
        """True once a renewal found ``claim`` taken over."""
        with self._lock:
            return claim.token in self._lost

    def renew(self) -> None:
        """Renew every claim held; those taken over are marked lost and no longer renewed."""
        with self._lock:
            held = list(self._held.values())
        for claim in held:
            if self.ledger.renew_key(claim, self.lease):
                continue
            with self._lock:
                if self._held.pop(claim.token, None) is not None:
                    self._lost.add(claim.token)
            log_event(logger, "jobs.claim_lost", logging.WARNING, kind=claim.kind, key=claim.key)
