"""What shipping and fetching share: the spool, the target, the connection and the lock.

A :class:`Route` is checked when it is made: an unknown scheme, an unknown
option or a password that cannot be read (``password_env`` unset,
``password_file`` missing) raises :class:`~entrepot.errors.ConfigError` at
once, before anything connects or is recorded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from entrepot.errors import TargetError
from entrepot.provenance.events import place_of
from entrepot.ship.locks import RemoteLock
from entrepot.ship.naming import default_instance
from entrepot.ship.observer import Observer
from entrepot.ship.options import ShipOptions
from entrepot.ship.stopping import shielded
from entrepot.ship.trail import Trail
from entrepot.spool import Spool
from entrepot.targets import Target, is_partial, mask_url, open_target, parse_url
from entrepot.targets.url import SECRET_OPTIONS

if TYPE_CHECKING:
    from entrepot.provenance import Recorder

_T = TypeVar("_T")


@dataclass
class Report:
    """What one run did, file by file; safe to update from several threads."""

    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    #: Remote names that can never be fetched as they are (a control character,
    #: a leading dot…): reported, never tried, never retried.
    skipped: dict[str, str] = field(default_factory=dict)
    #: Remote names left for a later run, with the reason (their local name waits in
    #: ``new/`` with other content, or they were written again): not a failure.
    deferred: dict[str, str] = field(default_factory=dict)
    bytes: int = 0
    locked: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add_done(self, name: str, size: int) -> None:
        with self._lock:
            self.done.append(name)
            self.bytes += size
            # Failed or deferred in an earlier try of the run, done in this one.
            self.failed.pop(name, None)
            self.deferred.pop(name, None)

    def add_failed(self, name: str, error: BaseException) -> None:
        with self._lock:
            self.failed[name] = str(error)

    def add_skipped(self, name: str, reason: str) -> None:
        with self._lock:
            self.skipped[name] = reason

    def add_deferred(self, name: str, reason: str) -> None:
        with self._lock:
            self.deferred[name] = reason
            self.failed.pop(name, None)  # what a later try found is what stands

    @property
    def ok(self) -> bool:
        return not self.failed and self.locked is None


class Route:
    """A spool on one side, a target on the other, and the settings between them.

    ``url`` may carry a password for this process; everything shown or stored
    uses :attr:`display_url`, which masks it.  :meth:`stop` asks a run in
    progress (in another thread) to take no more files.
    """

    #: ``"ship"`` or ``"fetch"``: part of the route's identity.
    direction = "route"

    def __init__(
        self,
        spool: Spool | str | os.PathLike[str],
        url: str,
        *,
        options: ShipOptions | None = None,
        target_options: Mapping[str, Any] | None = None,
        observer: Observer | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.spool = spool if isinstance(spool, Spool) else Spool(Path(spool))
        self.url = url
        self.display_url = mask_url(url)
        self.options = options or ShipOptions()
        self.target_options = dict(target_options or {})
        self.observer = observer or Observer()
        #: Where each file's steps are recorded (:mod:`entrepot.provenance`); off without
        #: a recorder, or when the route's ``provenance`` option is false.
        self.trail = Trail(place_of(self.spool.root), self.display_url)
        self.trail.instance = self.instance
        self.record_into(recorder)
        # Identifies this run in our lock files, so a retry recognises its own lock.
        self.token = secrets.token_hex(8)
        self.lock: RemoteLock | None = None
        #: The main connection, from :meth:`connect` until :meth:`disconnect`.
        self.connection: Target | None = None
        self.stopping = threading.Event()
        # Building a target checks the scheme, the options and the password source now.
        self._checked = self.open_target()

    @property
    def instance(self) -> str | None:
        """The instance this route names in its events, when it works as part of a fleet
        (its names hold ``{instance}``, or it fetches under claims)."""
        options = self.options
        if options.instance or "{instance}" in options.remote_name or options.claims:
            return options.instance or default_instance()
        return None

    def record_into(self, recorder: Recorder | None) -> None:
        """Record each file's steps with ``recorder`` (None: record nothing)."""
        self.trail.recorder = recorder if self.options.provenance else None

    def open_target(self) -> Target:
        """A new, not yet connected target for this route."""
        return open_target(self.url, **self.target_options)

    def connect(self) -> Target:
        """Open and connect the main target, kept as :attr:`connection`.

        Errors are translated by the backend; a failed connection is closed.
        """
        self.observer.connecting(self.display_url)
        target = self.open_target()
        try:
            target.connect()
        except BaseException:
            target.close()
            raise
        self.connection = target
        self.observer.connected(self.display_url)
        return target

    # -- stopping ----------------------------------------------------------------------

    def stop(self) -> None:
        """Take no more files; the ones in hand are finished (any thread may call this)."""
        self.stopping.set()

    @property
    def stopped(self) -> bool:
        return self.stopping.is_set()

    def shielded(self, work: Callable[[], _T]) -> _T:
        """Run ``work`` so that Ctrl-C or SIGTERM stops it cleanly (see :mod:`.stopping`)."""
        return shielded(work, self.stop, name=f"entrepot-{self.direction}")

    # -- the remote folder -------------------------------------------------------------

    def remote_names(self, target: Target) -> set[str]:
        """Names in the remote folder (raises RemoteNotFound when it does not exist)."""
        return {info.name for info in target.list("") if not info.is_dir}

    def acquire_lock(self, target: Target, present: set[str], lock_name: str) -> None:
        """Take the session lock under the lock protocol; no-op for the others."""
        if self.options.protocol != "lock":
            return
        if self.lock is None or self.lock.target is not target:
            self.lock = RemoteLock(target, lock_name, self.observer, self.token)
        self.lock.acquire(present, self.options.lock_names)

    def disconnect(self) -> None:
        """Remove our lock (also after a failure) and close :attr:`connection`.

        A failure to remove the lock is raised after the connection is closed:
        a lock left behind blocks the other side, so it must not pass unseen.
        """
        lock_error: BaseException | None = None
        if self.lock is not None and self.lock.held:
            try:
                self.lock.release()
            except TargetError as exc:
                lock_error = exc
        target, self.connection = self.connection, None
        if target is not None:
            target.close()
            self.observer.disconnected(self.display_url)
        self.lock = None
        if lock_error is not None:
            raise lock_error

    # -- what is kept ------------------------------------------------------------------

    @property
    def stored_url(self) -> str:
        """The URL to keep in the ledger: without its password or secret query options."""
        parsed = parse_url(self.url)
        query = tuple((key, value) for key, value in parsed.query if key not in SECRET_OPTIONS)
        return dataclasses.replace(parsed, password=None, query=query).display

    def stored_target_options(self) -> dict[str, Any]:
        """The target options safe to keep in the ledger (no secrets)."""
        return {
            key: value for key, value in self.target_options.items() if key not in SECRET_OPTIONS
        }

    @property
    def identity(self) -> str:
        """What makes two runs the same route, as a digest; see ``docs/shipping.md``.

        The direction, the spool's real path, where the target is (scheme,
        user, host, port, remote folder — for S3 the endpoint too) and the
        delivery protocol.  Credentials, timeouts and other tuning are not part
        of it: a run with other settings is still the same route.
        """
        target, parsed = self._checked, parse_url(self.url)
        parts = (
            self.direction,
            os.path.realpath(self.spool.root),
            parsed.scheme,
            parsed.user or "",
            (target.host or "").lower(),
            str(target.port or ""),
            target.remote_path(""),
            self.options.protocol,
        )
        # A path that is not UTF-8 holds surrogate escapes: its own bytes go in the digest
        # (a UTF-8 path gives the same bytes, so no identity changes).
        return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def is_data_name(name: str, options: ShipOptions) -> bool:
    """True for remote names that are files to fetch (not locks, markers or partial uploads)."""
    return not is_partial(name) and not options.is_control_file(name)
