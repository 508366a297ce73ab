"""Sections that are each right but cannot work together: folders shared by mistake.

Two spools on one folder would split its files between their routes at
random; a route (or fetch) whose local target is its own spool's folder, or
a folder inside it such as ``new/``, would deliver each file back to where
it is shipped from, for ever.  Folders are compared once symbolic links are
followed, so another name for the same folder is the same folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from entrepot.errors import ConfigError
from entrepot.service.config import Config
from entrepot.targets.url import parse_url

__all__ = ["folder_clashes"]

#: Where in the file, what is wrong, a hint.
Found = tuple[tuple[str, ...], str, str | None]


def folder_clashes(config: Config) -> list[Found]:
    """Every spool sharing another's folder, every route or fetch going round in a circle."""
    return [*_shared_spools(config), *_circles(config)]


def _real(path: Path | str) -> Path:
    return Path(os.path.realpath(path))


def _shared_spools(config: Config) -> Iterator[Found]:
    first: dict[Path, str] = {}
    for name, spool in config.spools.items():
        folder = _real(spool.path)
        if folder in first:
            yield (
                ("spools", name, "path"),
                f"the same folder as spool {first[folder]!r} ({spool.path}): "
                "each file would go to one of their routes, at random",
                "give each spool a folder of its own, or one spool several routes",
            )
        first.setdefault(folder, name)


def _circles(config: Config) -> Iterator[Found]:
    sections = (("routes", config.routes), ("fetches", config.fetches))
    for kind, entries in sections:
        for name, entry in entries.items():
            folder = _local_folder(config, entry.target)
            spool = config.spools.get(entry.spool)
            if folder is None or spool is None:
                continue
            root = _real(spool.path)
            if folder == root or root in folder.parents:
                yield (
                    (kind, name, "target"),
                    f"target {entry.target!r} ({folder}) is in the folder of the spool "
                    f"{entry.spool!r}: files would land among the spool's own (in new/: "
                    "sent again and again, for ever)",
                    "use a folder outside the spool",
                )


def _local_folder(config: Config, target: str) -> Path | None:
    """The folder of a ``file://`` target, links followed; None for any other target."""
    section = config.targets.get(target)
    if section is None or section.scheme != "file":
        return None
    try:
        return _real(parse_url(section.url).path)
    except ConfigError:
        return None  # a broken URL is told where targets are opened
