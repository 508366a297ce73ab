"""Keeping claims alive while their work goes on: one renewer for all the claims a run holds.

:func:`~entrepot.spool.upkeep.recover` gives back a claim older than its
lease, which is right for a consumer that hung and wrong for one still at
work — a big file over a slow link: another consumer would take the file
back and handle it a second time, and the first one would end with
:class:`~entrepot.errors.ClaimLost`.  A :class:`ClaimRenewer` renews the
claims held through it (:meth:`Claim.renew <entrepot.spool.Claim.renew>`)
from one thread for all of them, started with the first claim: every
``every`` seconds (a quarter of the lease by default) it renews each claim
not renewed for half that long, so a claim at work never grows older than
three eighths of its lease.  A claim finished sooner costs two dictionary
operations and is never renewed: shipping thousands of small files is not
slowed down.

A renewal that finds the claim's file gone means someone recovered it: the
claim is no longer renewed and ``spool.claim_lost`` is logged; finishing it
raises :class:`~entrepot.errors.ClaimLost` as before.  Drop a claim
(:meth:`ClaimRenewer.drop`) before finishing or releasing it: once
:meth:`drop` returns, the renewer never touches it again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from entrepot.errors import ClaimLost, SpoolLayoutError
from entrepot.logs import log_event
from entrepot.spool.claims import Claim

__all__ = ["ClaimRenewer"]

logger = logging.getLogger("entrepot.spool")


class ClaimRenewer:
    """Renews the claims held through it while they are held; see the module docstring.

    ``lease`` is the lease the recovering side applies; ``every`` how often
    the renewer looks (default: a quarter of the lease).  Use it as a
    context manager: leaving the block stops the thread.
    """

    def __init__(self, lease: float, *, every: float | None = None) -> None:
        self.every = lease / 4 if every is None else every
        self._held: dict[str, tuple[Claim, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ClaimRenewer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def hold(self, claim: Claim) -> None:
        """Renew ``claim`` from now on, until :meth:`drop`."""
        if self.every <= 0:
            return  # a lease of nothing runs out at once: there is nothing to keep
        with self._lock:
            self._held[claim.id] = (claim, time.monotonic())
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._loop, name="entrepot-spool-claims", daemon=True
                )
                self._thread.start()

    def drop(self, claim: Claim) -> None:
        """Stop renewing ``claim`` (call it before the claim is finished or released)."""
        with self._lock:
            self._held.pop(claim.id, None)

    @contextmanager
    def holding(self, claim: Claim) -> Iterator[Claim]:
        """``claim`` renewed for the length of the block."""
        self.hold(claim)
        try:
            yield claim
        finally:
            self.drop(claim)

    @property
    def held(self) -> int:
        """How many claims are being renewed."""
        with self._lock:
            return len(self._held)

    def stop(self, timeout: float = 10.0) -> None:
        """Renew nothing more; a sweep in progress ends first (for up to ``timeout`` seconds)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=timeout)

    def renew_due(self) -> None:
        """Renew each claim not renewed for half of ``every`` seconds; one sweep."""
        due = time.monotonic() - self.every / 2
        with self._lock:
            ids = [key for key, (_, since) in self._held.items() if since <= due]
        for key in ids:
            # Under the lock, one claim at a time: drop() waits for the renewal
            # in hand, so a claim being finished is never renewed after it.
            with self._lock:
                held = self._held.get(key)
                if held is None:
                    continue
                claim = held[0]
                try:
                    claim.renew()
                except ClaimLost:
                    del self._held[key]
                    log_event(logger, "spool.claim_lost", logging.WARNING, claim=key)
                    continue
                except (OSError, SpoolLayoutError) as exc:
                    # Tried again at the next sweep; the recovering side decides.
                    log_event(
                        logger, "spool.claim_renewal_failed", logging.WARNING, claim=key, why=exc
                    )
                    continue
                self._held[key] = (claim, time.monotonic())

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.renew_due()
