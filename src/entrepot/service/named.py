"""Names of the configuration file in one-shot commands, and jobs rebuilt from those names.

``entrepot ship outbox partner``, ``entrepot ls partner`` or ``entrepot
ship to-partner`` name a spool, a target (``partner/sub/folder`` for a
folder below it) or a route of the configuration instead of a folder or a
URL.  A job made from names keeps them as its *origin* — the file, the
names, the sub-folder, and what the command line gave on top: target
options (a password source only by its variable's or file's name), and for
a route its shipping options and retries — beside its usual parameters,
and never a password.  Re-run from the backlog, such a job is rebuilt from
those names in the file as it is then, with the command line's options
applied again (:func:`ship_from_params`, the ``ship`` job kind): a password
rotated in its variable or file, a target moved to another host, a new
parallelism are all used, and the job keeps the identity its run recorded;
a name since removed fails the run with :class:`UnknownName`, and the job
stays in the backlog.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Mapping
from typing import Any, TypeVar

from entrepot.errors import UnknownName
from entrepot.redact import mask_secrets
from entrepot.service.building import fetch_job, origin_of, ship_job
from entrepot.service.config import Config, TargetConfig
from entrepot.service.loading import load_config
from entrepot.ship import FetchJob, ShipJob
from entrepot.ship.jobs import RouteJob
from entrepot.targets.url import SECRET_OPTIONS, folder_below, mask_url

__all__ = [
    "delivered_to",
    "fetch_from_params",
    "find",
    "merged_options",
    "rebuild",
    "route_job",
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


def delivered_to(config: Config, route: str) -> str:
    """The target URL that route ``route``'s deliveries record: masked, as a route's
    provenance writes it (:class:`~entrepot.ship.trail.Trail`)."""
    return mask_secrets(mask_url(find(config, "targets", find(config, "routes", route).target).url))


def merged_options(target: TargetConfig, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The configured target's options, with those given on the command line on top."""
    options = target.open_options()
    if _PASSWORD_SOURCES & set(overrides):
        options = {k: v for k, v in options.items() if k not in _PASSWORD_SOURCES}
    return {**options, **overrides}


def _kept(origin: dict[str, Any] | None, **given: Any) -> dict[str, Any] | None:
    """``origin`` with what the command line gave (``None`` and empty left out), secrets never."""
    if origin is None:
        return None
    for key, value in given.items():
        if isinstance(value, Mapping):
            # Kept in the ledger: a secret given in process goes no further than the run.
            value = {k: v for k, v in value.items() if k not in SECRET_OPTIONS}
        if value is not None and value != {}:
            origin[key] = value
    return origin


def target_job(
    cls: type[J],
    config: Config,
    target: str,
    spool: str | os.PathLike[str],
    *,
    folder: str | None = None,
    spool_name: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    **settings: Any,
) -> J:
    """A job between ``spool`` and the configured ``target``, keeping both names.

    ``folder`` is a sub-folder below the target's URL (see
    :func:`~entrepot.targets.url.folder_below`); ``overrides`` are the target
    options given on the command line (no secrets: references only);
    ``settings`` the job's other keywords (``options``, ``max_tries``,
    ``retry_delay``).
    """
    entry: TargetConfig = find(config, "targets", target)
    url = folder_below(entry.url, folder or "")
    names = {"target": target, **({"spool": spool_name} if spool_name else {})}
    below = (folder or "").strip("/") or None
    origin = _kept(origin_of(config, **names), folder=below, options=overrides)
    options = merged_options(entry, overrides or {})
    return cls(os.fspath(spool), url, target_options=options, origin=origin, **settings)


def route_job(
    cls: type[J],
    config: Config,
    name: str,
    *,
    overrides: Mapping[str, Any] | None = None,
    shipping: Mapping[str, Any] | None = None,
    max_tries: int | None = None,
    retry_delay: float | None = None,
) -> J:
    """The job of route (``ShipJob``) or fetch (``FetchJob``) ``name``, with options on top.

    ``overrides`` are target options, ``shipping`` fields of
    :class:`~entrepot.ship.ShipOptions`; all of them, and the retries, are
    kept in the job's origin, so that a re-run applies them again.
    """
    section = "routes" if cls is ShipJob else "fetches"
    entry = find(config, section, name)
    job: RouteJob = ship_job(config, name) if cls is ShipJob else fetch_job(config, name)
    origin = _kept(job.origin, options=overrides, shipping=shipping, max_tries=max_tries,
                   retry_delay=retry_delay)  # fmt: skip
    return cls(
        job.spool_path,
        job.route.url,
        options=dataclasses.replace(job.route.options, **(shipping or {})),
        target_options=merged_options(config.targets[entry.target], overrides or {}),
        max_tries=job.max_tries if max_tries is None else max_tries,
        retry_delay=job.retry_delay if retry_delay is None else retry_delay,
        origin=origin,
    )


def rebuild(cls: type[J], params: Mapping[str, Any]) -> RouteJob:
    """A job of ``cls``'s kind from its stored parameters: from its names if it has an origin."""
    origin = params.get("origin")
    if not origin:
        return cls(**params)
    config = load_config(origin["config"])
    if "route" in origin or "fetch" in origin:
        kind: type[RouteJob] = ShipJob if "route" in origin else FetchJob
        return route_job(
            kind,
            config,
            origin.get("route") or origin["fetch"],
            overrides=origin.get("options"),
            shipping=origin.get("shipping"),
            max_tries=origin.get("max_tries"),
            retry_delay=origin.get("retry_delay"),
        )
    spool_name = origin.get("spool")
    spool = find(config, "spools", spool_name).path if spool_name else params["spool"]
    return target_job(
        cls,
        config,
        origin["target"],
        spool,
        folder=origin.get("folder"),
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
