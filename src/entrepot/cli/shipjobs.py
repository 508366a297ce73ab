"""The job a ``ship`` or ``fetch`` command line stands for.

Three forms (the rules for telling names from URLs and folders are in
:mod:`entrepot.cli.names`):

- a folder and a URL — the job is made from them alone, as always;
- configured names for either — the target's URL (``NAME/sub/folder`` for a
  folder below it) and options, the spool's folder, and the names kept as
  the job's origin;
- one configured route (``ship``) or fetch (``fetch``) name alone — the very
  job the service runs for it (:mod:`entrepot.service.building`), so that it
  shares the route's identity and ledger.

In every form the options given on the command line go on top; those not
given (``None``) leave the configured value, or the default, in place.  The
password follows the rule of every command that opens a target
(:mod:`entrepot.cli.connecting`): when neither the command line, the URL nor
the configured target names one, ``$ENTREPOT_PASSWORD`` is used if set — by
reference, so the job keeps the variable's name and a retry reads it again.
A job made from names keeps them in its origin (never a password), so that a
retry from the backlog applies them again (:mod:`entrepot.service.named`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from entrepot.cli import names
from entrepot.cli.connecting import with_default_password
from entrepot.cli.ledgers import LedgerChoice
from entrepot.errors import ConfigError, UnknownName
from entrepot.ship import ShipJob, ShipOptions
from entrepot.ship.jobs import RouteJob
from entrepot.targets import option_pairs

if TYPE_CHECKING:
    from entrepot.service.config import TargetConfig

__all__ = ["Wanted", "configured_job", "job_between", "run_ledger", "target_overrides"]

J = TypeVar("J", bound=RouteJob)

#: Settings of the route itself, which have options of their own (not ``-o``).
_ROUTE_SETTINGS = frozenset(ShipOptions.__dataclass_fields__)
#: The in-run retries when neither the command line nor a configuration says.
_MAX_TRIES, _RETRY_DELAY = 3, 2.0


def target_overrides(
    pairs: list[str] | None, password_env: str | None, password_file: Path | None
) -> dict[str, Any]:
    """The target options of ``-o KEY=VALUE``, ``--password-env`` and ``--password-file``."""
    options: dict[str, Any] = dict(option_pairs(pairs or []))  # a secret is refused there
    for key in sorted(options.keys() & _ROUTE_SETTINGS):
        flag = "--" + key.replace("_", "-")
        raise ConfigError(f"{key} is a shipping setting, not a target option: use {flag}")
    if password_env:
        options["password_env"] = password_env
    if password_file:
        options["password_file"] = str(password_file)
    return options


def _password_by_default(
    url: str, overrides: dict[str, Any], configured: TargetConfig | None = None
) -> dict[str, Any]:
    """``overrides`` with ``$ENTREPOT_PASSWORD`` by reference when nothing names a password.

    Nothing: neither ``overrides``, the URL, nor the ``configured`` target's
    options — the rule ``ls`` and ``put`` follow
    (:func:`~entrepot.cli.connecting.with_default_password`).  Only the
    variable's name goes into the job, so the ledger never holds its value.
    """
    merged = overrides
    if configured is not None:
        from entrepot.service.named import merged_options

        merged = merged_options(configured, overrides)
    defaulted = with_default_password(url, merged)
    return {**overrides, **{key: value for key, value in defaulted.items() if key not in merged}}


@dataclass(frozen=True)
class Wanted:
    """What the command line asks of the run; ``None``: not given."""

    options: dict[str, Any]
    max_tries: int | None
    retry_delay: float | None
    overrides: dict[str, Any]
    config: Path | None

    def settings(self) -> dict[str, Any]:
        """The job's keywords for a run made without a configured route."""
        return {
            "options": ShipOptions(**self.options),
            "max_tries": self.max_tries or _MAX_TRIES,
            "retry_delay": _RETRY_DELAY if self.retry_delay is None else self.retry_delay,
        }


def job_between(
    cls: type[J], folder: str, url: str, wanted: Wanted, *, creating: bool = False
) -> tuple[J, str | None]:
    """The job between a spool and a target, each a folder/URL or a name; and the spool's name."""
    from entrepot.spool import Spool

    spool, spool_name = names.spool_path(folder, wanted.config, creating=creating)
    if not creating:
        Spool(spool).check()
    if not names.is_name(url):
        overrides = _password_by_default(url, wanted.overrides)
        job = cls(str(spool), url, target_options=overrides, **wanted.settings())
        return job, spool_name
    from entrepot.service.named import find, target_job

    target, _, below = url.partition("/")
    config = names.load(wanted.config, target)
    entry = find(config, "targets", target)
    overrides = _password_by_default(entry.url, wanted.overrides, entry)
    job = target_job(cls, config, target, spool, folder=below, spool_name=spool_name,
                     overrides=overrides, **wanted.settings())  # fmt: skip
    return job, spool_name


def configured_job(cls: type[J], name: str, wanted: Wanted) -> J:
    """The job of the configured route (``ShipJob``) or fetch (``FetchJob``) ``name``."""
    if not names.is_name(name) or "/" in name:
        raise typer.BadParameter(
            "give both the spool and the target (a URL or name), "
            "or a configured route's or fetch's name alone"
        )
    from entrepot.service.named import route_job, unknown

    config = names.load(wanted.config, name)
    section = "routes" if cls is ShipJob else "fetches"
    if name not in getattr(config, section):
        error = unknown(config, (section,), name)
        if name in config.spools or name in config.targets:
            raise UnknownName(f"{error}; {name!r} is a spool or target: name the other end too")
        raise error
    target = config.targets[getattr(config, section)[name].target]
    overrides = _password_by_default(target.url, wanted.overrides, target)
    # What the command line gives is kept in the job, so that a retry runs it again.
    return route_job(cls, config, name, overrides=overrides, shipping=wanted.options,
                     max_tries=wanted.max_tries, retry_delay=wanted.retry_delay)  # fmt: skip


def run_ledger(
    job: RouteJob, spool_name: str | None, wanted: Wanted, state: Path | None, ledger: str | None
) -> LedgerChoice:
    """Where the run is recorded, and as which instance: a run made from configured names,
    in the configuration's ledger, as its instance; one between a folder and a URL never
    reads the configuration (``$ENTREPOT_INSTANCE`` or the host name names it)."""
    if not (spool_name or job.origin):
        return LedgerChoice(state, ledger)
    return names.configured_ledger(names.load(wanted.config, job.name), state, ledger)
