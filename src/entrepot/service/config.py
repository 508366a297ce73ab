"""The service's configuration: one TOML file, checked as typed, frozen models.

Every section is a table of named entries::

    [service]                        # listen address, token, state, logs, retention
    [targets.partner]                # url + options; secrets by reference only
    [spools.outbox]                  # path
    [archives.events]                # folder, roll limits, compression, hand-off spool
    [routes.to-partner]              # spool → target, how, and when
    [fetches.from-partner]           # target → spool
    [datacenter]                     # root, database, schemas, watched folder, upload limits

Relative paths are resolved against the folder of the config file, so the
paths jobs store are absolute.  A secret is never written in the file: a
URL carrying a password, or a ``password``-like option, is refused with a
hint naming ``password_env``/``password_file``.  Loading (with file, line and
"did you mean" for each problem) is :mod:`entrepot.service.loading`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from entrepot.archive.naming import DEFAULT_TEMPLATE, Template
from entrepot.errors import ConfigError
from entrepot.instances import default_instance as env_or_host
from entrepot.redact import url_has_secret
from entrepot.service.dcuploads import UploadLimits
from entrepot.service.fleetconfig import FleetConfig, InstanceName
from entrepot.service.fleetroutes import FetchClaiming, ShipNaming
from entrepot.service.targetfiles import absolute, absolute_options, absolute_url
from entrepot.service.timing import Duration, RetryConfig, Schedule, interval
from entrepot.targets.parallel import MAX_PARALLEL
from entrepot.units import parse_size

__all__ = [
    "ArchiveConfig",
    "BacklogConfig",
    "Config",
    "DataCenterConfig",
    "FetchConfig",
    "RetentionConfig",
    "RetryConfig",
    "RouteConfig",
    "ServiceConfig",
    "SpoolConfig",
    "TargetConfig",
]

#: How the model's cross-reference error starts (the loader reports each one by itself).
UNKNOWN_REFERENCES = "unknown references"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
# Option names that hold a secret themselves; their *_env / *_file forms are references.
_SECRET_KEYS = frozenset({"password", "secret_key", "passphrase", "session_token", "token"})


#: Bytes, written as ``"10MB"``, ``"64KiB"`` or a number.
Size = Annotated[int, BeforeValidator(parse_size)]


def _resolve(value: Path, info: ValidationInfo) -> Path:
    """``value`` made absolute against the config file's folder."""
    return absolute(value, _base(info))


def _base(info: ValidationInfo) -> Path | None:
    base = (info.context or {}).get("base")
    return None if base is None else Path(base)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetConfig(_Section):
    """Where files go (or come from): a URL and its options, secrets by reference; the
    files it names (``password_file``, ``ca_file``, ``known_hosts``…) made absolute."""

    url: str
    password_env: str | None = None
    password_file: Path | None = None
    options: dict[str, str | int | float | bool] = Field(
        default_factory=dict, validate_default=True
    )

    @field_validator("url")
    @classmethod
    def _no_inline_password(cls, value: str) -> str:
        if url_has_secret(value):
            raise ValueError(
                "the URL carries a password: write it without one and give "
                "password_env (a variable) or password_file (a private file)"
            )
        return value

    @field_validator("url")
    @classmethod
    def _absolute_folder(cls, value: str, info: ValidationInfo) -> str:
        return absolute_url(value, _base(info))

    @field_validator("options")
    @classmethod
    def _no_inline_secret(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if key.lower() in _SECRET_KEYS:
                raise ValueError(
                    f"option {key!r} would hold a secret in the file: "
                    f"use {key}_env (a variable) or {key}_file (a private file)"
                )
        return value

    @field_validator("options")
    @classmethod
    def _absolute_files(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        return absolute_options(value, info.data.get("url", ""), _base(info))

    @field_validator("password_file")
    @classmethod
    def _absolute_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve(value, info)

    @property
    def scheme(self) -> str:
        """The URL's scheme; ``file`` for a folder written as a path."""
        scheme, separator, _ = self.url.partition("://")
        return scheme.lower() if separator else "file"

    def open_options(self) -> dict[str, Any]:
        """The keyword options of :func:`entrepot.targets.open_target` (references only)."""
        options: dict[str, Any] = dict(self.options)
        if self.password_env:
            options["password_env"] = self.password_env
        if self.password_file:
            options["password_file"] = str(self.password_file)
        return options


class SpoolConfig(_Section):
    """A spool folder (``tmp/ new/ cur/``); the dashboard shows it in red once the oldest
    file in ``new/`` has waited longer than ``stale_after``."""

    path: Path
    stale_after: Duration = Field(default=3600.0, gt=0)

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve(value, info)


class ArchiveConfig(_Section):
    """A rolling event archive: where, when to roll, how to seal, where to hand off."""

    folder: Path
    template: str = DEFAULT_TEMPLATE
    max_size: Size | None = None
    max_records: StrictInt | None = Field(default=None, ge=1)
    max_age: Duration | None = None
    max_idle: Duration | None = None
    compress: Literal["zstd", "gzip", "none"] = "zstd"
    spool: str | None = None
    sync: Literal["record", "roll"] | StrictInt = "roll"

    @field_validator("folder")
    @classmethod
    def _absolute(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve(value, info)

    @field_validator("template")
    @classmethod
    def _known_fields(cls, value: str) -> str:
        try:
            Template(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value


class RouteConfig(Schedule, ShipNaming):
    """Ship a spool's ``new/`` files to a target."""

    spool: str
    target: str
    on_arrival: StrictBool = False
    protocol: Literal["atomic", "lock", "marker"] = "atomic"
    parallel: StrictInt = Field(default=1, ge=1, le=MAX_PARALLEL)
    conflict: Literal["replace", "skip", "fail", "rename", "exclusive"] = "replace"
    after: Literal["cur", "delete", "archive"] = "cur"
    order: Literal["oldest", "newest", "name"] = "oldest"
    provenance: StrictBool = True
    shared: StrictBool = False  # one piece of work for the whole fleet (docs/fleet.md)

    @model_validator(mode="after")
    def _has_a_trigger(self) -> RouteConfig:
        if not (self.on_arrival or self.every or self.cron):
            raise ValueError("a route needs a trigger: on_arrival = true, every, or cron")
        return self


class FetchConfig(Schedule, FetchClaiming):
    """Bring a remote folder's files into a spool's ``new/``."""

    target: str
    spool: str
    protocol: Literal["atomic", "lock", "marker"] = "atomic"
    remote_after: str | None = None
    shared: StrictBool = False

    @model_validator(mode="after")
    def _has_a_trigger(self) -> FetchConfig:
        if not (self.every or self.cron):
            raise ValueError("a fetch needs a trigger: every or cron")
        return self


class DataCenterConfig(_Section, UploadLimits):
    """The data center: its folder, its database, an upload folder watched for CSV files, and
    what an upload may be (:mod:`.dcuploads`)."""

    root: Path
    database: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    schemas: Path | None = None
    watch: Path | None = None
    mode: Literal["create", "update", "remove"] = "create"
    #: A file dropped into ``watch`` is taken once unchanged for this long.
    settle: Duration = 2.0
    shared: StrictBool = False  # root and database shared by a fleet (docs/fleet.md)

    @field_validator("root", "schemas", "watch", "password_file")
    @classmethod
    def _absolute(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve(value, info)

    @field_validator("database")
    @classmethod
    def _no_inline_password(cls, value: str | None) -> str | None:
        if value is not None and url_has_secret(value):
            raise ValueError(
                "the database URL carries a password: give password_env or "
                "password_file (or PGPASSWORD / PGPASSFILE) instead"
            )
        return value


class RetentionConfig(_Section):
    """How long finished runs and delivered files are kept (``None``: for ever)."""

    runs: Duration | None = 30 * 86400.0
    cur: Duration | None = None


class BacklogConfig(_Section):
    """How a job that failed its run waits before the next one (doubling up to ``max_delay``)."""

    delay: Duration = 60.0
    max_delay: Duration = 3600.0
    #: Failed runs in a row after which a job is parked as dead for an operator.
    runs: StrictInt = Field(default=8, ge=1, le=1000)

    @model_validator(mode="after")
    def _ordered(self) -> BacklogConfig:
        if self.delay <= 0 or self.max_delay < self.delay:
            raise ValueError("backlog delays: 0 < delay <= max_delay")
        return self


class ServiceConfig(_Section):
    """The daemon itself."""

    listen: str | None = None
    #: The operator's token and the viewer's (read only); the dashboard needs the first.
    token_file: Path | None = None
    viewer_token_file: Path | None = None
    dashboard: StrictBool = True
    state: Path = Path("state")
    ledger: str | None = None
    log_format: Literal["text", "json"] = "text"
    grace: Duration = 30.0
    scan_every: Duration = 30.0
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    backlog: BacklogConfig = Field(default_factory=BacklogConfig)
    # Not written: $ENTREPOT_INSTANCE, else the host's name (entrepot.instances).
    instance: InstanceName = Field(default_factory=env_or_host)
    fleet: FleetConfig = Field(default_factory=FleetConfig)

    @field_validator("grace")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be longer than zero")
        return value

    @field_validator("scan_every")
    @classmethod
    def _long_enough(cls, value: float) -> float:
        return interval(value, "scan_every")

    @field_validator("state", "token_file", "viewer_token_file")
    @classmethod
    def _absolute(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve(value, info)

    @field_validator("listen")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        _host, sep, port = (value or "x:0").rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError("listen is HOST:PORT, e.g. '127.0.0.1:9180'")
        return value

    @field_validator("ledger")
    @classmethod
    def _no_inline_password(cls, value: str | None) -> str | None:
        if value is not None and url_has_secret(value):
            raise ValueError("the ledger URL carries a password: use PGPASSWORD or PGPASSFILE")
        return value


class Config(_Section):
    """A whole configuration file, its cross-references checked."""

    service: ServiceConfig = Field(default_factory=ServiceConfig)
    targets: dict[str, TargetConfig] = Field(default_factory=dict)
    spools: dict[str, SpoolConfig] = Field(default_factory=dict)
    archives: dict[str, ArchiveConfig] = Field(default_factory=dict)
    routes: dict[str, RouteConfig] = Field(default_factory=dict)
    fetches: dict[str, FetchConfig] = Field(default_factory=dict)
    datacenter: DataCenterConfig | None = None
    #: The file it was read from: not a key of the file (``None`` when built in code).
    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        """The file this configuration was read from (``None`` when built in code)."""
        return self._source

    def read_from(self, file: Path) -> Config:
        """This configuration, as read from ``file``."""
        copy = self.model_copy()
        copy._source = file
        return copy

    @field_validator("targets", "spools", "archives", "routes", "fetches")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not _NAME.fullmatch(name):
                raise ValueError(
                    f"{name!r} is not a usable name: letters, digits, '_', '-', '.' (64 at most)"
                )
        return value

    @model_validator(mode="after")
    def _references(self) -> Config:
        missing = [
            f"{kind}.{name}: no {section[:-1]} named {ref!r}"
            for kind, entries, checks in (
                ("routes", self.routes, (("spool", "spools"), ("target", "targets"))),
                ("fetches", self.fetches, (("spool", "spools"), ("target", "targets"))),
                ("archives", self.archives, (("spool", "spools"),)),
            )
            for name, entry in entries.items()
            for field, section in checks
            if (ref := getattr(entry, field)) is not None and ref not in getattr(self, section)
        ]
        if missing:
            raise ValueError(f"{UNKNOWN_REFERENCES}: {'; '.join(missing)}")
        return self

    def route_of(self, spool: str, target: str) -> str | None:
        """The name of the route that ships ``spool`` to ``target``, if one does."""
        for name, route in self.routes.items():
            if route.spool == spool and route.target == target:
                return name
        return None
