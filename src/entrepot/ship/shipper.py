"""Shipping a spool's ``new/`` files to a target.

For every file: claim it (so no other shipper takes it), open it without
following a link, publish it atomically on the target, verify the remote
copy, and only then move the local file to ``cur/`` (or delete or archive
it).  A file whose transfer fails is released back to ``new/``; nothing
local is removed before its remote copy is verified.  Remote names are
deterministic, so a retry replaces a file, never duplicates it.  The moves
into ``cur/`` (or ``archive/``) are made durable in groups, not one folder
sync per file (:class:`~entrepot.spool.areas.SyncGroup`; the reasoning is in
``docs/shipping.md``), and all of them before a run returns.

A claim is renewed while its file is on its way (one
:class:`~entrepot.spool.ClaimRenewer` for the run, renewing only claims
held for a while): an upload longer than the lease is not taken back by
another shipper of the spool and delivered twice.

Several transfers run in parallel when asked, each on its own connection,
all drawing from one ordered list of names.  :meth:`Route.stop` (Ctrl-C or
SIGTERM, through :meth:`Route.shielded`) stops handing out names; the
transfers in hand finish and their files go to ``cur/`` or back to ``new/``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable

from entrepot.errors import ClaimLost, InvalidName, PermanentTargetError, UnsafeEntry
from entrepot.logs import log_event
from entrepot.ship.naming import remote_name
from entrepot.ship.route import Report, Route
from entrepot.spool import Claim, ClaimRenewer, Entry
from entrepot.spool.areas import SyncGroup, descriptor_path
from entrepot.targets import ConnectionPool, Target

logger = logging.getLogger("entrepot.ship")

#: Called after each delivered file with its name and size.
ProgressHook = Callable[[str, int], None]

#: Failures of one file that do not stop the others: the run goes on, then fails.
REFUSALS = (PermanentTargetError, UnsafeEntry)

#: The renewer of a file shipped on its own (``ship_one`` without one): renews nothing.
_NO_RENEWAL = ClaimRenewer(0.0)


class Shipper(Route):
    """Ships one spool to one target; see the module docstring."""

    direction = "ship"

    def pending(self) -> list[Entry]:
        """The files waiting in ``new/``, in the configured order."""
        entries = self.spool.list("new")
        if self.options.order == "newest":
            entries.reverse()
        elif self.options.order == "name":
            entries.sort(key=lambda entry: entry.name)
        return entries

    def plan(self) -> list[tuple[Entry, str]]:
        """What a run would do now: each waiting file and its remote name (nothing moves)."""
        return [(entry, self.remote_name(entry.name, entry.mtime)) for entry in self.pending()]

    def recover(self) -> None:
        """Give back claims left by shippers that died, and clean stale ``tmp/`` files."""
        self.spool.recover(lease=self.options.lease)

    def open_session(self, target: Target) -> None:
        """Check the remote folder, take the ``write`` lock under the lock protocol, and
        sweep temporary uploads that runs which died left behind."""
        present = self.remote_names(target)
        self.acquire_lock(target, present, self.options.write_lock)
        if self.options.sweep_partials_after is not None:
            target.remove_partials(older_than=self.options.sweep_partials_after)

    def remote_name(self, name: str, received: float) -> str:
        """The remote name of ``name``, received into the spool at ``received`` (its mtime)."""
        options = self.options
        route = options.route_name or self.spool.root.name
        return remote_name(
            options.remote_name, name, received, instance=options.instance, route=route
        )

    def deliver(
        self,
        target: Target,
        names: list[str],
        report: Report,
        progress: ProgressHook | None = None,
    ) -> None:
        """Ship ``names`` using ``target`` and up to ``parallel - 1`` more connections.

        A transient failure stops the batch (the remaining files stay in
        ``new/``) and is raised; refusals of single files (:data:`REFUSALS`)
        are recorded in ``report`` and the others go on.  The first refusal is
        raised at the end.  A file whose name no spool entry may have (put into
        ``new/`` by another program) is skipped and reported, as a fetch skips one.
        """
        refused: list[BaseException] = []
        moves = SyncGroup(self.spool.areas)
        renewer = self.spool.renewer(self.options.lease)

        def work(connection: Target, name: str) -> None:
            try:
                size = self.ship_one(connection, name, moves, renewer)
            except REFUSALS as exc:
                report.add_failed(name, exc)
                refused.append(exc)
                return
            except InvalidName as exc:
                # A name another program gave a file in new/, which no spool entry may
                # have: no retry could ship it.  Told, and passed over (exit 7).
                report.add_skipped(name, str(exc))
                log_event(logger, "ship.name_skipped", logging.WARNING, name=name, reason=exc)
                return
            except Exception as exc:
                report.add_failed(name, exc)  # it stops the run, and it is this file's failure
                raise
            if size is not None:
                report.add_done(name, size)
                if progress is not None:
                    progress(name, size)

        pool = ConnectionPool(
            self.open_target,
            parallel=self.options.parallel,
            first=target,
            name=f"entrepot-{self.direction}",
            stopping=self.stopping,
        )
        with moves, renewer:
            pool.run(names, work)
        if refused:
            raise refused[0]

    def ship_one(
        self,
        target: Target,
        name: str,
        moves: SyncGroup | None = None,
        renewer: ClaimRenewer | None = None,
    ) -> int | None:
        """Deliver one file; return its size, or None if another shipper took it first.

        Every failure is told to the observer once, here, and the file goes
        back to ``new/``.  With ``moves`` the local move is synced with the
        group's others (the caller flushes the group); with ``renewer`` the
        claim is renewed until the file is delivered or given back.
        """
        try:
            claim = self.spool.claim(name)
        except UnsafeEntry as exc:
            self.observer.failed(name, exc)
            raise
        if claim is None:
            return None
        renewer = renewer or _NO_RENEWAL
        renewer.hold(claim)
        try:
            return self._deliver_claimed(target, claim, moves, renewer)
        finally:
            renewer.drop(claim)

    def _deliver_claimed(
        self, target: Target, claim: Claim, moves: SyncGroup | None, renewer: ClaimRenewer
    ) -> int:
        """Upload, verify and finish a claimed file (see :meth:`ship_one`)."""
        name = claim.name
        remote = name
        local = None
        try:
            self.observer.transferring(name)
            # Read through the descriptor that was checked: a name swapped for a
            # link after the claim is never followed.
            with claim.open() as src:
                st = os.fstat(src.fileno())
                remote = self.remote_name(name, st.st_mtime)
                local = self.trail.claimed(name, st.st_size)
                try:
                    info = target.upload(
                        descriptor_path(src),
                        remote,
                        conflict=self.options.conflict,
                        verify=self.options.verify,
                        tap=None if local is None else local.tap,
                    )
                except BaseException as exc:
                    # Stopped (SIGTERM): not held up by a big file read for its checksum.
                    local = self.trail.summed(local, src, read=isinstance(exc, Exception))
                    raise
                local = self.trail.summed(local, src)
            if self.options.protocol == "marker":
                target.upload_bytes(b"", remote + self.options.marker_suffix)
        except BaseException as exc:
            self.observer.failed(name, exc)
            self.trail.failed(name, remote, exc, local)
            renewer.drop(claim)
            # Recovered by someone else meanwhile (ClaimLost): it is back in new/ anyway.
            with contextlib.suppress(ClaimLost):
                claim.release()
            raise
        self.observer.transferred(name, info.size)
        area = None if self.options.after == "delete" else self.options.after
        ticket = self.trail.delivered(
            claim, remote, info, local, area, key=target.remote_path(info.name)
        )
        renewer.drop(claim)  # never renewed once it moves
        try:
            self._after_delivery(claim, name, area, moves)
        except BaseException:
            self.trail.settled(ticket, taken=False)
            raise
        self.trail.settled(ticket)
        return info.size

    def _after_delivery(
        self, claim: Claim, name: str, area: str | None, moves: SyncGroup | None
    ) -> None:
        """Delete the delivered file (``area`` None) or move it into ``area``."""
        if area is None:
            claim.remove()
            self.observer.removed(name, "local")
        else:
            claim.done(area, group=moves)
            self.observer.moved(name, "new", area)

    def session(
        self, names: list[str], report: Report, progress: ProgressHook | None = None
    ) -> None:
        """Connect (unless connected), open the session and deliver ``names``.

        Meant to run under :meth:`shielded`; stops early once :meth:`stop` is
        called.  The caller disconnects (:meth:`disconnect`), also after a failure.
        """
        target = self.connection or self.connect()
        if self.stopped:
            return
        self.open_session(target)
        self.trail.learn(names)
        try:
            self.deliver(target, names, report, progress)
        finally:
            self.trail.flush()

    def run(self, progress: ProgressHook | None = None) -> Report:
        """One complete run without retries: recover, connect, lock, deliver, unlock."""
        report = Report()
        self.recover()
        names = [entry.name for entry in self.pending()]
        if not names:
            return report
        try:
            self.shielded(lambda: self.session(names, report, progress))
        finally:
            self.disconnect()
        return report
