"""How a spool is shipped or fetched: the delivery protocol and what happens to local files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from entrepot.errors import ConfigError, InvalidName
from entrepot.names import check_name
from entrepot.ship.naming import check_template
from entrepot.targets import CONFLICT_POLICIES

Protocol = Literal["atomic", "lock", "marker"]
After = Literal["cur", "delete", "archive"]
Order = Literal["oldest", "newest", "name"]

PROTOCOLS: tuple[Protocol, ...] = ("atomic", "lock", "marker")
AFTER: tuple[After, ...] = ("cur", "delete", "archive")
ORDERS: tuple[Order, ...] = ("oldest", "newest", "name")


@dataclass(frozen=True)
class ShipOptions:
    """Settings of one shipping or fetching route.

    ``protocol``
        ``atomic``: every file is published under a temporary name and
        renamed (or PUT in one piece), nothing more.  ``lock``: the old
        drop-folder protocol — a ``write`` lock file is created in the remote
        folder for the session (a ``read`` lock when fetching), and the run is
        refused while the other side holds a ``write`` or ``read`` lock.
        ``marker``: after each file, an empty ``<name><marker_suffix>`` file
        tells the other side that the file is complete.
    ``after``
        what happens to a local file once its remote copy is verified: moved
        to ``cur/``, deleted, or moved to the ``archive`` area.
    ``parallel``
        how many transfers run at once, each on its own connection.
    ``order``
        which files go first: ``oldest`` (default), ``newest`` or by ``name``.
    ``lease``
        seconds after which a claim held by a shipper of another host (or a
        hung one) is taken back at the start of a run (default: the spool's
        own lease); claims of a dead shipper of this host come back at once.
    ``conflict``
        when the remote name exists: ``replace``, ``skip`` (identical size and
        checksum), ``fail`` or ``rename``.
    ``sweep_partials_after``
        seconds after which a temporary upload left in the remote folder by
        a run that died is removed at the start of a run (``None``: never).
    ``provenance``
        record every step of every file in the ledger (``entrepot trace``);
        false turns it off for this route.
    ``remote_name``
        the remote name template (:mod:`entrepot.ship.naming`), with
        ``instance`` (None: the host name) and ``route_name`` (None: the
        spool folder's name) for its fields.
    ``claims``, ``claim_lease``
        fetching only: each remote file is claimed in the ledger by name and
        version first, so that several fetchers of one folder (on any host)
        fetch it once (:mod:`entrepot.ship.claimed`); a claim whose holder
        went silent for ``claim_lease`` seconds is taken over.
    """

    protocol: Protocol = "atomic"
    after: After = "cur"
    parallel: int = 1
    order: Order = "oldest"
    conflict: Literal["replace", "skip", "fail", "rename", "exclusive"] = "replace"
    verify: bool = True
    lease: float | None = None
    sweep_partials_after: float | None = 3600.0
    write_lock: str = "write"
    read_lock: str = "read"
    marker_suffix: str = ".done"
    remote_after: str | None = None
    """Fetching only: a remote folder to move fetched files into instead of deleting them."""
    provenance: bool = True
    remote_name: str = "{name}"
    instance: str | None = None
    route_name: str | None = None
    claims: bool = False
    claim_lease: float = 300.0

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"unknown protocol {self.protocol!r}: use one of {PROTOCOLS}")
        if self.after not in AFTER:
            raise ConfigError(f"unknown 'after' action {self.after!r}: use one of {AFTER}")
        if self.order not in ORDERS:
            raise ConfigError(f"unknown order {self.order!r}: use one of {ORDERS}")
        if not 1 <= self.parallel <= 64:
            raise ConfigError("parallel must be between 1 and 64")
        if self.conflict not in CONFLICT_POLICIES:
            raise ConfigError(
                f"unknown conflict policy {self.conflict!r}: use one of {CONFLICT_POLICIES}"
            )
        if self.sweep_partials_after is not None and self.sweep_partials_after < 0:
            raise ConfigError("sweep_partials_after cannot be negative")
        check_template(self.remote_name)
        for value, what in ((self.instance, "instance name"), (self.route_name, "route name")):
            if value is not None:
                try:
                    check_name(value, what=what)
                except InvalidName as exc:
                    raise ConfigError(str(exc)) from None
        if self.claim_lease <= 0:
            raise ConfigError("claim_lease must be longer than zero")
        check_name(self.write_lock, what="lock name")
        check_name(self.read_lock, what="lock name")
        if self.remote_after is not None:
            for part in self.remote_after.split("/"):
                check_name(part, what="remote folder")

    @property
    def lock_names(self) -> tuple[str, str]:
        return (self.write_lock, self.read_lock)

    def is_control_file(self, name: str) -> bool:
        """True for lock files and completion markers, which are never data."""
        if self.protocol == "lock" and name in self.lock_names:
            return True
        return self.protocol == "marker" and name.endswith(self.marker_suffix)
