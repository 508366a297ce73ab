"""Keeping a spool in order: listing areas, counting them, and recovering after crashes.

:func:`recover` removes what writers that died left in ``tmp/`` and gives
back to ``new/`` the claims of consumers that died (at once on this host)
or outlived their lease.  It is safe at any time, from several processes.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from entrepot.errors import ClaimLost, NameExists
from entrepot.logs import log_event
from entrepot.spool.areas import AREAS, CLAIM_AREA, Areas
from entrepot.spool.claims import holder_gone, parse_claim_id
from entrepot.spool.entries import AreaStats, Entry, RecoveryReport

logger = logging.getLogger("entrepot.spool")


def list_area(areas: Areas, area: str) -> list[Entry]:
    """The regular files of ``area`` (not dot-files), oldest first (by time, then name)."""
    folder = areas.folder(area)
    entries = []
    try:
        scan = os.scandir(folder)
    except FileNotFoundError:
        return []
    with scan:
        for item in scan:
            if item.name.startswith("."):
                continue
            try:
                st = item.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # taken by someone else while we looked
            if stat.S_ISREG(st.st_mode):
                entries.append(Entry(item.name, area, folder, st.st_size, st.st_mtime))
    entries.sort(key=lambda entry: (entry.mtime, entry.name))
    return entries


def area_stats(areas: Areas) -> dict[str, AreaStats]:
    """Files and bytes per area, for every area present."""
    result = {}
    for area in sorted({*AREAS, *(path.name for path in _subfolders(areas.root))}):
        entries = list_area(areas, area)
        oldest = entries[0].mtime if entries else None  # listings are oldest first
        result[area] = AreaStats(len(entries), sum(entry.size for entry in entries), oldest)
    return result


def recover(areas: Areas, *, now: float, tmp_age: float, lease: float) -> RecoveryReport:
    """Remove stale ``tmp/`` files and give back claims whose holder died or whose lease ran out."""
    report = RecoveryReport()
    _sweep_tmp(areas, now, tmp_age, report)
    claimed = areas.folder(CLAIM_AREA)
    for entry in list_area(areas, CLAIM_AREA):
        parsed = parse_claim_id(entry.name)
        if parsed is None:
            continue
        token, name = parsed
        held = f"{claimed}/{entry.name}"
        try:
            changed = os.lstat(held).st_ctime
        except FileNotFoundError:
            continue
        if now - changed < lease and not holder_gone(token):
            continue
        try:
            areas.finish(held, name, "new")
        except (ClaimLost, NameExists) as exc:
            log_event(logger, "spool.recover_skipped", logging.WARNING, claim=entry.name, why=exc)
            continue
        report.claims_released.append(name)
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


def _sweep_tmp(areas: Areas, now: float, tmp_age: float, report: RecoveryReport) -> None:
    """Remove old files from ``tmp/`` — dot-files too: a download that died leaves one."""
    folder = areas.folder("tmp")
    try:
        scan = os.scandir(folder)
    except FileNotFoundError:
        return
    with scan:
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
                    os.unlink(item.path)
                except FileNotFoundError:
                    continue
                report.tmp_removed.append(item.name)


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
