"""Jobs made from the configuration: the same jobs the one-shot commands make.

A route becomes a :class:`~entrepot.ship.ShipJob`, a fetch a
:class:`~entrepot.ship.FetchJob`, a file of the data center's watched folder
an :class:`~entrepot.datacenter.ImportJob` — with the absolute paths the
configuration resolved, the target's URL *without* a password and its
secrets by reference (``password_env``, ``password_file``).  So what the
ledger keeps rebuilds the job anywhere (``entrepot backlog retry``), and two
runs of one route share one identity: one waiting job per route, whether the
run came from the daemon or from ``entrepot ship``.  A job made from a file
keeps its origin (the file and the route's or fetch's name), so that a
re-run rebuilds it from the configuration as it is then
(:mod:`entrepot.service.named`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from entrepot.jobs import RetryPolicy
from entrepot.service.config import (
    BacklogConfig,
    Config,
    DataCenterConfig,
    FetchConfig,
    RouteConfig,
)
from entrepot.ship import FetchJob, ShipJob, ShipOptions
from entrepot.ship.jobs import RouteJob
from entrepot.ship.naming import FLEET_TEMPLATE, default_instance

if TYPE_CHECKING:
    from entrepot.datacenter import ImportJob

J = TypeVar("J", bound=RouteJob)

__all__ = ["backlog_policy", "fetch_job", "import_job", "instance_of", "origin_of", "ship_job"]


def instance_of(config: Config) -> str:
    """This service's instance name: ``[service] instance``, by default the host name."""
    return config.service.instance or default_instance()


def origin_of(config: Config, **names: str) -> dict[str, str] | None:
    """What a job made from ``config`` keeps of it: the file and the names used."""
    return None if config.source is None else {"config": str(config.source), **names}


def _route_job(
    cls: type[J],
    config: Config,
    section: RouteConfig | FetchConfig,
    options: ShipOptions,
    origin: dict[str, str] | None,
) -> J:
    target = config.targets[section.target]
    return cls(
        str(config.spools[section.spool].path),
        target.url,
        options=options,
        target_options=target.open_options(),
        max_tries=section.retry.max_tries,
        retry_delay=section.retry.delay,
        origin=origin,
    )


def ship_job(config: Config, name: str) -> ShipJob:
    """The job that runs route ``name`` once."""
    route = config.routes[name]
    conflict = route.conflict
    if route.fleet and "conflict" not in route.model_fields_set:
        conflict = "exclusive"
    named = route.fleet or route.remote_name is not None
    options = ShipOptions(
        protocol=route.protocol,
        after=route.after,
        parallel=route.parallel,
        order=route.order,
        conflict=conflict,
        provenance=route.provenance,
        remote_name=route.remote_name or (FLEET_TEMPLATE if route.fleet else "{name}"),
        instance=instance_of(config) if named else None,
        route_name=name if named else None,
    )
    return _route_job(ShipJob, config, route, options, origin_of(config, route=name))


def fetch_job(config: Config, name: str) -> FetchJob:
    """The job that runs fetch ``name`` once."""
    fetch = config.fetches[name]
    options = ShipOptions(
        protocol=fetch.protocol,
        remote_after=fetch.remote_after,
        claims=fetch.claims,
        claim_lease=fetch.claim_lease,
        instance=instance_of(config) if fetch.claims else None,
    )
    return _route_job(FetchJob, config, fetch, options, origin_of(config, fetch=name))


def import_job(center: DataCenterConfig, file: str, table: str) -> ImportJob:
    """The import of ``file`` (a name in the data center's root) into ``table``."""
    # Imported here: a service without a data center never loads it.
    from entrepot.datacenter import ImportJob

    return ImportJob(
        center.root,
        file,
        table,
        mode=center.mode,
        schema=center.schemas,
        database=center.database,
        password_env=center.password_env,
        password_file=center.password_file,
    )


def backlog_policy(backlog: BacklogConfig) -> RetryPolicy:
    """The between-runs back-off of ``[service.backlog]``."""
    return RetryPolicy(
        attempts=backlog.runs,
        delay=backlog.delay,
        factor=2.0,
        max_delay=backlog.max_delay,
        jitter=0.1,
    )
