"""Keeping a spool in order: listing areas, counting them, and recovering after crashes.

:func:`recover` removes what writers that died left in ``tmp/`` and gives
back to ``new/`` the claims of consumers that died (at once on this host)
or outlived their lease.  It is safe at any time, from several processes.

A claim's age is measured on the file system's clock, not the caller's:
its change time is stamped by the file system (on a spool shared over NFS,
by the server), so :func:`file_system_now` asks the file system for the
time too.  A host whose clock is ahead would otherwise see every claim
older than it is, and take back files still being shipped.  A claim's age
is that of its renewal marker when its holder left a fresher one (see
:mod:`entrepot.spool.claims`: a holder that may not touch a file another
user wrote renews the marker instead).

Every area is worked in through its folder opened without following a link
(:meth:`~entrepot.spool.areas.Areas.open_area`): an area that is a link is
refused, so recovery never deletes, makes or moves a file outside the spool.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from entrepot.errors import ClaimLost, NameExists
from entrepot.logs import log_event
from entrepot.spool.areas import AREAS, CLAIM_AREA, Areas
from entrepot.spool.claims import MARKER_PREFIX, holder_gone, parse_claim_id
from entrepot.spool.entries import AreaStats, Entry, RecoveryReport
from entrepot.spool.naming import unique_name

logger = logging.getLogger("entrepot.spool")

_PROBE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
#: Seconds between the own clock and the file system's beyond which recovery says so.
CLOCK_SKEW_WARNING = 60.0


def list_area(areas: Areas, area: str) -> list[Entry]:
    """The regular files of ``area`` (not dot-files), oldest first (by time, then name)."""
    folder = areas.folder(area)
    entries = []
    for name, st in _scan(areas, area):
        if not name.startswith(".") and stat.S_ISREG(st.st_mode):
            entries.append(Entry(name, area, folder, st.st_size, st.st_mtime))
    entries.sort(key=lambda entry: (entry.mtime, entry.name))
    return entries


def _scan(areas: Areas, area: str) -> Iterator[tuple[str, os.stat_result]]:
    """Every entry of ``area`` with its own status (a link's, not its target's), read in
    the area's folder opened without following a link; nothing when the area is missing."""
    try:
        fd = areas.open_area(area)
    except FileNotFoundError:
        return
    try:
        with os.scandir(fd) as scan:
            for item in scan:
                try:
                    yield item.name, item.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # taken by someone else while we looked
    finally:
        os.close(fd)


def area_stats(areas: Areas) -> dict[str, AreaStats]:
    """Files and bytes per area, for every area present."""
    result = {}
    for area in sorted({*AREAS, *(path.name for path in _subfolders(areas.root))}):
        entries = list_area(areas, area)
        oldest = entries[0].mtime if entries else None  # listings are oldest first
        result[area] = AreaStats(len(entries), sum(entry.size for entry in entries), oldest)
    return result


def file_system_now(areas: Areas) -> float:
    """Now by the clock that stamps the spool's files: the change time of a file made for it.

    The file is made in ``tmp/`` under a hidden unique name and removed at
    once.  When none can be made (a read-only spool), the own clock is all
    there is.  A difference of more than :data:`CLOCK_SKEW_WARNING` seconds
    between the two is logged (``spool.clock_skew``): other hosts' clocks, and
    the times this host stores elsewhere, are likely wrong too.
    """
    own = time.time()
    probe = f".clock-{unique_name()}"
    try:
        folder = areas.open_area("tmp")
    except OSError:
        return own
    try:
        fd = os.open(probe, _PROBE_FLAGS, 0o600, dir_fd=folder)
    except OSError:
        os.close(folder)
        return own
    try:
        stamped = os.fstat(fd).st_ctime
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(probe, dir_fd=folder)
        os.close(folder)
    if abs(own - stamped) > CLOCK_SKEW_WARNING:
        log_event(
            logger,
            "spool.clock_skew",
            logging.WARNING,
            root=areas.root,
            ahead=f"{own - stamped:.0f}s",
            why="this host's clock differs from the file system's: claims are aged by the latter",
        )
    return stamped


def recover(
    areas: Areas, *, now: float | None = None, tmp_age: float, lease: float
) -> RecoveryReport:
    """Remove stale ``tmp/`` files and give back claims whose holder died or whose lease ran out.

    ``now`` defaults to the file system's (:func:`file_system_now`), the
    clock that stamped the claims; a caller passes its own only to pretend
    time has passed.
    """
    if now is None:
        now = file_system_now(areas)
    report = RecoveryReport()
    _sweep_tmp(areas, now, tmp_age, report)
    _give_back_claims(areas, now, lease, report)
    if report.tmp_removed or report.claims_released:
        log_event(
            logger,
            "spool.recovered",
            logging.INFO,
            root=areas.root,
            tmp_removed=len(report.tmp_removed),
            claims_released=len(report.claims_released),
        )
    return report


def _give_back_claims(areas: Areas, now: float, lease: float, report: RecoveryReport) -> None:
    """Give back to ``new/`` the claims whose holder died or whose lease ran out, aged by
    the fresher of the file's change time and its renewal marker's; remove the markers
    of the claims given back and of those that ended without removing theirs."""
    claims: dict[str, tuple[str, float]] = {}
    markers: dict[str, float] = {}
    for entry, st in _scan(areas, CLAIM_AREA):
        if entry.startswith(MARKER_PREFIX):
            markers[entry.removeprefix(MARKER_PREFIX)] = st.st_ctime
        elif stat.S_ISREG(st.st_mode) and (parsed := parse_claim_id(entry)) is not None:
            claims[entry] = (parsed[0], st.st_ctime)
    claimed = areas.folder(CLAIM_AREA)
    held = set()
    for entry, (token, changed) in sorted(claims.items()):
        if now - max(changed, markers.get(token, changed)) < lease and not holder_gone(token):
            held.add(token)
            continue
        name = entry[len(token) + 1 :]
        try:
            areas.finish(f"{claimed}/{entry}", name, "new")
        except (ClaimLost, NameExists) as exc:
            held.add(token)
            log_event(logger, "spool.recover_skipped", logging.WARNING, claim=entry, why=exc)
            continue
        report.claims_released.append(name)
    # A marker is made only while its claim's file is in claimed/: without one, the
    # claim has ended (its holder stopped before removing the marker).
    for token in markers.keys() - held:
        with contextlib.suppress(OSError):
            os.unlink(f"{claimed}/{MARKER_PREFIX}{token}")


def _sweep_tmp(areas: Areas, now: float, tmp_age: float, report: RecoveryReport) -> None:
    """Remove old files from ``tmp/`` — dot-files too: a download that died leaves one."""
    try:
        folder = areas.open_area("tmp")
    except FileNotFoundError:
        return
    try:
        with os.scandir(folder) as scan:
            for item in scan:
                try:
                    st = item.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    continue
                # A second link means a fallback publish (link, unlink) stopped half-way:
                # the published copy exists, this name is just a leftover.
                if st.st_nlink > 1 or now - st.st_mtime >= tmp_age:
                    try:
                        os.unlink(item.name, dir_fd=folder)
                    except FileNotFoundError:
                        continue
                    report.tmp_removed.append(item.name)
    finally:
        os.close(folder)


def _subfolders(root: Path) -> Iterator[Path]:
    try:
        for item in root.iterdir():
            if item.is_dir() and not item.is_symlink() and not item.name.startswith("."):
                yield item
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno != errno.ENOTDIR:
            raise
