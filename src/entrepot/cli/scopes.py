"""What the route or spool argument of ``trace --route`` and ``receipt`` stands for.

A route of the configuration stands for its spool's files and, for a
receipt, their deliveries to the route's target alone (a spool that two
routes ship holds both partners' files: a manifest for one must not list
the other's).  A spool's name stands for its folder; anything written as a
path, or any word when there is no configuration file, is a spool folder
(:mod:`entrepot.cli.names` says which arguments are names).  A name of a
route and of a spool is the route.  A name in neither fails with the known
names (exit 4).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from entrepot.cli.ledgers import LedgerChoice
from entrepot.cli.names import config_file, configured_ledger, is_name, ledger_for, load
from entrepot.provenance.events import place_of

if TYPE_CHECKING:
    from entrepot.service.config import Config

__all__ = ["Scope", "scope_of"]


@dataclass(frozen=True)
class Scope:
    """The events a route or spool argument keeps."""

    #: The spool's place, as events name it.
    place: str
    #: A route's target, masked as its deliveries name it; None: every target.
    target: str | None = None
    #: The folder given as a path (None: a configured name).
    folder: Path | None = None
    #: The configuration the name was found in.
    config: Config | None = None

    def ledger(self, given: Path | None, state: Path | None, url: str | None) -> LedgerChoice:
        """The ledger to read: the configuration's when a name was found in it (as
        ``entrepot ship ROUTE`` records there), else as ``jobs`` and ``backlog`` choose."""
        if self.config is not None:
            return configured_ledger(self.config, state, url)
        return ledger_for(given, state, url)


def scope_of(argument: str, given: Path | None) -> Scope:
    """What ``argument`` stands for (see the module docstring); ``given``: ``--config``."""
    text = os.fspath(argument)
    if not is_name(text) or "/" in text or (given is None and not config_file(None).is_file()):
        folder = Path(text).expanduser()
        return Scope(place_of(folder), folder=folder)
    from entrepot.service.named import delivered_to, unknown

    config = load(given, text)
    if text in config.routes:
        spool = config.spools[config.routes[text].spool]
        return Scope(place_of(spool.path), delivered_to(config, text), config=config)
    if text in config.spools:
        return Scope(place_of(config.spools[text].path), config=config)
    raise unknown(config, ("routes", "spools"), text)
