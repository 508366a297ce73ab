"""The ``[archives.*]`` of the configuration: writers for producers, sealing for the daemon.

A producer writes events with :func:`archive_writer`, a
:class:`~entrepot.archive.RollingWriter` built from the section — folder,
naming template, roll limits (``max_size``, ``max_records``, ``max_age``,
``max_idle``), compression and hand-off spool — and it rolls its own
archives on those limits while it lives.

The daemon takes care of the archives whose writer is gone: at start, on
every scan and when it stops, :class:`ArchiveKeeper` seals each ``.open``
file that no live writer holds (its ``flock`` is free), cuts a torn tail,
and hands it on like a normal roll: compressed, published into the
hand-off spool — where a route ships it — and counted by the telemetry.  An
archive whose writer is alive is never touched.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from entrepot.archive import ArchiveReader, HandOff, RollingWriter, combine, recover_directory
from entrepot.archive.compress import Compression, check_compression
from entrepot.archive.naming import Template
from entrepot.errors import ArchiveError
from entrepot.logs import log_event
from entrepot.service.config import ArchiveConfig, Config
from entrepot.service.telemetry import Telemetry

logger = logging.getLogger("entrepot.service")

__all__ = ["ArchiveKeeper", "archive_writer"]


def _compression(section: ArchiveConfig) -> Compression | None:
    return check_compression(section.compress)


def _spool(config: Config, section: ArchiveConfig) -> Path | None:
    return config.spools[section.spool].path if section.spool else None


def archive_writer(config: Config, name: str, **more: Any) -> RollingWriter:
    """A writer for the archive section ``name``; ``more`` goes to :class:`RollingWriter`."""
    section = config.archives[name]
    policy = combine(
        max_bytes=section.max_size,
        max_records=section.max_records,
        max_age=section.max_age,
        max_idle=section.max_idle,
    )
    return RollingWriter(
        section.folder,
        section.template,
        policy=policy,
        compression=_compression(section),
        spool=_spool(config, section),
        sync=section.sync,
        **{"provenance": config.service.state, **more},
    )


class ArchiveKeeper:
    """Seals and hands on the archives of every section whose writer died."""

    def __init__(self, config: Config, telemetry: Telemetry) -> None:
        self.config = config
        self.telemetry = telemetry

    def seal_abandoned(self) -> list[Path]:
        """One pass over every archive folder; returns where the sealed archives went."""
        done: list[Path] = []
        for name, section in self.config.archives.items():
            if not section.folder.is_dir():
                continue
            handoff = HandOff(
                compression=_compression(section),
                spool=_spool(self.config, section),
                provenance=self.config.service.state,
            )
            template = Template(section.template)
            try:
                sealed = recover_directory(section.folder, handoff, match=template.matches)
            except (ArchiveError, OSError) as exc:
                log_event(logger, "service.archive_failed", logging.ERROR, archive=name,
                          error=f"{type(exc).__name__}: {exc}")  # fmt: skip
                continue
            for path in sealed:
                records = _count(path)
                size = path.stat().st_size if path.exists() else 0
                log_event(logger, "service.archive_sealed", archive=name, path=path,
                          records=records, size=size)  # fmt: skip
                self.telemetry.archive_sealed(name, records, size)
            done += sealed
        return done


def _count(path: Path) -> int:
    """Records in a sealed archive (0 when it cannot be read: it was handed on all the same)."""
    try:
        with ArchiveReader(path) as reader:
            return sum(1 for _ in reader)
    except (ArchiveError, OSError):
        return 0
