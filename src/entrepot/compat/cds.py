"""``zeit.cds``'s ``export`` and ``import_`` as a facade over :mod:`entrepot.ship`.

``export(store_dir, hostname, port, user, password, ftp_dir)`` sends the
files of a filestore's ``new/`` to an FTP drop folder under a ``write`` lock
file and moves each one to ``cur/`` once it is delivered, writing the same
log lines as the old system, in the same order.  ``import_`` fetches the
other way, under a ``read`` lock.  Both create the filestore's areas when
missing, as the old system did.  Neither raises: like the original, every
outcome is told in the log, settings that cannot work (a port that is not a
number) included.  Unlike it, the lock file is removed even when an upload
fails, a file is published under a temporary name first, and the password
never appears in a log line.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from entrepot.errors import (
    AuthenticationFailed,
    ConfigError,
    ConnectionFailed,
    RemoteLocked,
    SpoolError,
    TargetError,
    TargetTimeout,
)
from entrepot.ship import Fetcher, Observer, ShipOptions, Shipper
from entrepot.ship.route import Report, Route
from entrepot.spool import Spool

logger = logging.getLogger("entrepot.compat.cds")

#: Errors the old system reported as "Could not connect to CDS FTP server."
_CONNECT_ERRORS = (ConnectionFailed, TargetTimeout, AuthenticationFailed)


class CdsLog(Observer):
    """Writes the old system's log lines for each step of a run."""

    #: The old system said "Disconnected" only after a successful session.
    announce_disconnect = True

    def connecting(self, url: str) -> None:
        pass  # the facade logs the host, port and user itself, before connecting

    def locked(self, url: str, lock: str) -> None:
        logger.info("Cannot access CDS FTP server as '%s' lockfile exists.", lock)

    def lock_creating(self, lock: str) -> None:
        logger.info("Creating lock file: %s", lock)

    def lock_created(self, lock: str) -> None:
        logger.info("Lock file successfully created: %s", lock)

    def transferring(self, name: str) -> None:
        logger.info("Uploading: %s", name)

    def transferred(self, name: str, size: int) -> None:
        pass  # the old log had no line for it

    def moved(self, name: str, source: str, destination: str) -> None:
        logger.info("Moved from '%s' to '%s': %s", source, destination, name)

    def lock_removing(self, lock: str) -> None:
        logger.info("Removing lock file: %s", lock)

    def lock_removed(self, lock: str) -> None:
        logger.info("Lock file successfully removed: %s", lock)

    def lock_remove_failed(self, lock: str, error: BaseException) -> None:
        logger.error("Could not remove lock file: %s (%s)", lock, error)

    def disconnected(self, url: str) -> None:
        if self.announce_disconnect:
            logger.info("Disconnected from CDS FTP server")


class FetchLog(CdsLog):
    def transferring(self, name: str) -> None:
        logger.info("Downloading: %s", name)

    def removed(self, name: str, where: str) -> None:
        logger.info("Removed from FTP server: %s", name)

    def moved(self, name: str, source: str, destination: str) -> None:
        logger.info("Moved on FTP server to '%s': %s", destination, name)


@contextmanager
def _old_style_log(path: str | None) -> Iterator[None]:
    """Log like the old system for the length of a run.

    Only the facade's own lines are shown at INFO (the delivery library's
    per-file event lines are held back to warnings), and they also go to
    ``path`` when given.
    """
    library = logging.getLogger("entrepot.targets")
    old_level = library.level
    if library.getEffectiveLevel() < logging.WARNING:
        library.setLevel(logging.WARNING)
    handler = None
    if path is not None:
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    try:
        yield
    finally:
        library.setLevel(old_level)
        if handler is not None:
            logger.removeHandler(handler)
            handler.close()


def _server(hostname: str, port: int | str, user: str) -> str:
    """``user@host:port`` for a target URL, each part encoded (an IPv6 address in brackets).

    :class:`~entrepot.errors.ConfigError` for a port that is not a number
    from 1 to 65535, or no host name.
    """
    try:
        number = int(port)
    except (TypeError, ValueError):
        raise ConfigError(f"invalid port {port!r}: a number from 1 to 65535") from None
    if not 0 < number < 65536:
        raise ConfigError(f"invalid port {port!r}: a number from 1 to 65535")
    host = str(hostname)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ConfigError("no host name given")
    netloc = f"[{quote(host, safe=':')}]" if ":" in host else quote(host, safe="")
    return f"{quote(str(user), safe='')}@{netloc}:{number}"


def _folder(ftp_dir: str) -> str:
    """The remote folder as a URL path: a ``?``, ``#`` or ``%`` is part of a name."""
    stripped = str(ftp_dir).strip("/")
    return "/" + quote(stripped, safe="/") if stripped else "/"


def _settings_failed(hostname: str, port: object, user: str, reason: str) -> None:
    """Log settings that cannot work like the failed session they would have been."""
    logger.info("Connecting to CDS FTP server (host %s, port %s, user %s)", hostname, port, user)
    logger.info(reason)
    logger.exception("Exiting with exception:")


def _session(route: Route, hostname: str, port: int, user: str) -> None:
    """Connect, export or import, and log every outcome as the old system did."""
    logger.info("Connecting to CDS FTP server (host %s, port %s, user %s)", hostname, port, user)
    try:
        route.connect()
    except _CONNECT_ERRORS:
        logger.info("Could not connect to CDS FTP server.")
        logger.exception("Exiting with exception:")
        return
    except TargetError:
        logger.info("Error accessing FTP server.")
        logger.exception("Exiting with exception:")
        return
    report = Report()
    try:
        if isinstance(route, Shipper):
            names = [entry.name for entry in route.pending()]
            route.shielded(lambda: route.session(names, report))
        else:
            assert isinstance(route, Fetcher)
            route.shielded(lambda: route.session(report))
    except RemoteLocked:
        _close_quietly(route)
        logger.info("Exiting.")
        return
    except _CONNECT_ERRORS:
        _close_quietly(route)
        logger.info("Could not connect to CDS FTP server.")
        logger.exception("Exiting with exception:")
        return
    except TargetError:
        _close_quietly(route)
        logger.info("Error accessing FTP server.")
        logger.exception("Exiting with exception:")
        return
    try:
        route.disconnect()
    except TargetError:
        logger.exception("Exiting with exception:")
        return
    logger.info("Exiting with success.")


def _close_quietly(route: Route) -> None:
    """Remove our lock (the old system left it behind) and close, without a success line."""
    if isinstance(route.observer, CdsLog):
        route.observer.announce_disconnect = False
    try:
        route.disconnect()
    except TargetError:
        logger.warning("Could not remove the lock file after the failure.")


def _route(
    route_class: type[Route], observer: CdsLog, store_dir: str | os.PathLike[str],
    hostname: str, port: int, user: str, password: str, ftp_dir: str,
) -> Route | None:  # fmt: skip
    """The route of one run, or None when it cannot be made (the reason is logged).

    The filestore's areas are created when missing, as the old system's
    ``prepare()`` did.
    """
    try:
        spool = Spool(store_dir).prepare()
    except (SpoolError, OSError):
        logger.info("Could not access filestore %s", store_dir)
        logger.exception("Exiting with exception:")
        return None
    logger.info("Accessed filestore %s", store_dir)
    try:
        server = _server(hostname, port, user)
    except ConfigError:
        _settings_failed(hostname, port, user, "Could not connect to CDS FTP server.")
        return None
    try:
        return route_class(
            spool,
            f"ftp://{server}{_folder(ftp_dir)}",
            options=ShipOptions(protocol="lock"),
            target_options={"password": password},
            observer=observer,
        )
    except ConfigError:
        _settings_failed(hostname, port, user, "Error accessing FTP server.")
        return None


def export(
    store_dir: str | os.PathLike[str],
    hostname: str,
    port: int,
    user: str,
    password: str,
    ftp_dir: str,
    logfile: str | None = None,
) -> None:
    """Upload the filestore's new files to the FTP folder, then move them to ``cur``."""
    with _old_style_log(logfile):
        shipper = _route(Shipper, CdsLog(), store_dir, hostname, port, user, password, ftp_dir)
        if shipper is None:
            return
        assert isinstance(shipper, Shipper)
        if not shipper.pending():
            logger.info("No new files to export.")
            logger.info("Exiting with success.")
            return
        _session(shipper, hostname, port, user)


def import_(
    store_dir: str | os.PathLike[str],
    hostname: str,
    port: int,
    user: str,
    password: str,
    ftp_dir: str,
    logfile: str | None = None,
) -> None:
    """Download the FTP folder's files into the filestore's ``new``, removing them remotely."""
    with _old_style_log(logfile):
        fetcher = _route(Fetcher, FetchLog(), store_dir, hostname, port, user, password, ftp_dir)
        if fetcher is not None:
            _session(fetcher, hostname, port, user)
