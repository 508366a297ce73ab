"""Names of the configuration file in one-shot commands, and jobs rebuilt from those names.

``entrepot ship outbox partner``, ``entrepot ls partner`` or ``entrepot
ship to-partner`` name a spool, a target or a route of the configuration
instead of a folder or a URL.  A job made from names keeps them as its
*origin* — the file, the names, the target options given on the command
line — beside its usual parameters, and never a password.  Re-run from the
backlog, such a job is rebuilt from those names in the file as it is then
(:func:`ship_from_params`, the ``ship`` job kind): a password rotated in its
variable or file, a target moved to another host, a new parallelism are all
used; a name since removed fails the run with :class:`UnknownName`, and the
job stays in the backlog.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import Any, TypeVar

from entrepot.errors import UnknownName
from entrepot.service.building import fetch_job, origin_of, ship_job
from entrepot.service.config import Config, TargetConfig
from entrepot.service.loading import load_config
from entrepot.ship import FetchJob, ShipJob
from entrepot.ship.jobs import RouteJob

__all__ = [
    "fetch_from_params",
    "find",
    "merged_options",
    "rebuild",
    "ship_from_params",
    "target_job",
    "unknown",
]

J = TypeVar("J", bound=RouteJob)

_WHAT = {"targets": "target", "spools": "spool", "routes": "route", "fetches": "fetch"}
# A password source given on the command line replaces the configured one, whichever it is.
_PASSWORD_SOURCES = frozenset({"password_env", "password_file"})


def unknown(config: Config, sections: tuple[str, ...], name: str) -> UnknownName:
    """The error for ``name`` found in none of ``sections``: the file, a guess, the known names."""
    known = sorted({entry for section in sections for entry in getattr(config, section)})
    what = " or ".join(_WHAT[section] for section in sections)
    text = f"no {what} named {name!r} in {config.source or 'the configuration'}"
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        text += f"; did you mean {close[0]!r}?"
    return UnknownName(f"{text} (known: {', '.join(known) or 'none'})")


def find(config: Config, section: str, name: str) -> Any:
    """The entry ``name`` of ``section`` (``targets``, ``spools``, ``routes``, ``fetches``)."""
    entries = getattr(config, section)
    if name not in entries:
        raise unknown(config, (section,), name)
    return entries[name]


def merged_options(target: TargetConfig, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The configured target's options, with those given on the command line on top."""
    options = target.open_options()
    if _PASSWORD_SOURCES & set(overrides):
        options = {k: v for k, v in options.items() if k not in _PASSWORD_SOURCES}
    return {**options, **overrides}


def target_job(
    cls: type[J],
    config: Config,
    target: str,
    spool: str | os.PathLike[str],
    *,
    spool_name: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    **settings: Any,
) -> J:
    """A job between ``spool`` and the configured ``target``, keeping both names.

    ``overrides`` are the target options given on the command line (no
    secrets: references only); ``settings`` the job's other keywords
    (``options``, ``max_tries``, ``retry_delay``).
    """
    entry: TargetConfig = find(config, "targets", target)
    names = {"target": target, **({"spool": spool_name} if spool_name else {})}
    origin: dict[str, Any] | None = origin_of(config, **names)
    if origin is not None and overrides:
        origin["options"] = dict(overrides)
    options = merged_options(entry, overrides or {})
    return cls(os.fspath(spool), entry.url, target_options=options, origin=origin, **settings)


def rebuild(cls: type[J], params: Mapping[str, Any]) -> RouteJob:
    """A job of ``cls``'s kind from its stored parameters: from its names if it has an origin."""
    origin = params.get("origin")
    if not origin:
        return cls(**params)
    config = load_config(origin["config"])
    if "route" in origin:
        find(config, "routes", origin["route"])
        return ship_job(config, origin["route"])
    if "fetch" in origin:
        find(config, "fetches", origin["fetch"])
        return fetch_job(config, origin["fetch"])
    spool_name = origin.get("spool")
    spool = find(config, "spools", spool_name).path if spool_name else params["spool"]
    return target_job(
        cls,
        config,
        origin["target"],
        spool,
        spool_name=spool_name,
        overrides=origin.get("options"),
        options=params.get("options"),
        max_tries=params.get("max_tries"),
        retry_delay=params.get("retry_delay"),
    )


def ship_from_params(params: Mapping[str, Any]) -> RouteJob:
    """The ``ship`` job kind's factory (see :mod:`entrepot.jobs.kinds`)."""
    return rebuild(ShipJob, params)


def fetch_from_params(params: Mapping[str, Any]) -> RouteJob:
    """The ``fetch`` job kind's factory."""
    return rebuild(FetchJob, params)
