"""Configured names on the command line: which arguments are names, and what they stand for.

Where a command takes a URL (``put``, ``ls``, ``get``, ``check``, ``ship``,
``fetch``) or a spool folder (``ship``, ``fetch``, ``spool …``), it also takes
a name from the configuration file — ``--config``, else ``$ENTREPOT_CONFIG``,
else ``$XDG_CONFIG_HOME/entrepot/entrepot.toml``, as for ``entrepot status``:

1. an argument holding ``scheme://`` is a URL;
2. one written as a path — starting with ``/``, ``./``, ``../`` or ``~`` — is
   a path, even one that does not exist;
3. one that exists as a path is that path: a folder ``outbox`` in the
   current directory wins over a configured spool ``outbox``;
4. anything else is a name: of a target where a URL is expected
   (``partner``, or ``partner/sub/folder`` for a folder under the target's
   URL — each part a plain name once percent-decoded, never ``..``), of a
   spool where a folder is.

A name in no section of the file fails with the file, a "did you mean" and
the known names (exit 4); no file, or a broken one, exits 3.  The file is
read — and pydantic imported — only when an argument is a name.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from entrepot.cli.ledgers import LedgerChoice
from entrepot.errors import ConfigError

if TYPE_CHECKING:
    from entrepot.service.config import Config

__all__ = [
    "ConfigOption",
    "NamedTarget",
    "configured_ledger",
    "is_name",
    "ledger_for",
    "load",
    "spool_path",
    "target",
]

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Configuration file where names of targets, spools and routes are looked up "
        "(default: $ENTREPOT_CONFIG, else $XDG_CONFIG_HOME/entrepot/entrepot.toml).",
        show_default=False,
    ),
]

# The names a configuration may hold (see entrepot.service.config).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_PATH_STARTS = ("/", "./", "../", "~")


def is_name(argument: str | os.PathLike[str]) -> bool:
    """Whether ``argument`` (a URL or folder argument) is a configured name; see the module."""
    text = os.fspath(argument)
    if "://" in text or text.startswith(_PATH_STARTS) or text in (".", ".."):
        return False
    return bool(_NAME.fullmatch(text.split("/", 1)[0])) and not os.path.lexists(text)


def config_file(given: Path | None) -> Path:
    """The configuration file to look names up in (see :data:`ConfigOption`)."""
    if given is not None:
        return given.expanduser().absolute()
    from entrepot.service.paths import default_config_path

    return default_config_path().absolute()


def load(given: Path | None, name: str) -> Config:
    """The configuration where ``name`` is looked up; exit 3 when there is none."""
    file = config_file(given)
    if not file.is_file():
        raise ConfigError(
            f"{name!r} is no URL and no existing path, and there is no configuration file "
            f"at {file} to look it up in (give one with --config or $ENTREPOT_CONFIG; "
            "`entrepot init` writes one)"
        )
    return _read(file)


def _read(file: Path) -> Config:
    stat = file.stat()
    return _read_version(file, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _read_version(file: Path, mtime_ns: int, size: int) -> Config:
    # Read once per version of the file: a command resolves several names from
    # one file, and a process that runs commands in turn sees each edit.
    from entrepot.service.loading import load_config

    return load_config(file)


@dataclass(frozen=True)
class NamedTarget:
    """A configured target: its URL (a sub-folder appended) and its options."""

    name: str
    url: str
    options: dict[str, Any]


def target(argument: str, given: Path | None, overrides: dict[str, Any]) -> NamedTarget:
    """The target named by ``argument`` (``NAME`` or ``NAME/sub/folder``).

    ``overrides`` — target options from the command line — go over the
    configured ones; a password source given there replaces the configured one.
    """
    from entrepot.service.named import find, merged_options
    from entrepot.targets.url import folder_below

    name, _, sub = argument.partition("/")
    config = load(given, name)
    entry = find(config, "targets", name)
    # The sub-folder stays below the target: checked once percent-decoded.
    return NamedTarget(name, folder_below(entry.url, sub), merged_options(entry, overrides))


def spool_path(
    argument: str | Path, given: Path | None, *, creating: bool = False
) -> tuple[Path, str | None]:
    """The spool folder of ``argument`` and its configured name (``None`` for a path).

    Without a configuration file a word is a folder, as it always was (one
    that does not exist fails as such, exit 4).  So is a word the file does
    not name when the command creates the spool (``spool init``, ``--create``).
    """
    # Given as text: a Path would have dropped the "./" that makes a word a path.
    name = os.fspath(argument)
    if not is_name(name) or "/" in name:
        return Path(name), None
    if given is None and not config_file(None).is_file():
        return Path(name), None
    from entrepot.service.named import find

    config = load(given, name)
    if creating and name not in config.spools:
        return Path(name), None
    return find(config, "spools", name).path, name


def configured_ledger(config: Config, state: Path | None, ledger: str | None) -> LedgerChoice:
    """The ledger of a run made from ``config``: the service's, unless the command line names one;
    written as the service's instance (:mod:`entrepot.instances`).

    So ``entrepot ship to-partner`` and the service record the route's job
    in one ledger, as one instance, where ``status`` and ``backlog`` find it.
    """
    if state is not None or ledger:
        return LedgerChoice(state, ledger, config.service.instance)
    return LedgerChoice(config.service.state, config.service.ledger, config.service.instance)


def ledger_for(given: Path | None, state: Path | None, ledger: str | None) -> LedgerChoice:
    """The ledger of ``jobs``/``backlog``: ``--state``/``--ledger``, else the configuration's;
    the instance, the configuration's.

    The configuration counts when named (``--config`` or ``$ENTREPOT_CONFIG``);
    without one, the default state folder, as always.
    """
    if given is None and not os.environ.get("ENTREPOT_CONFIG"):
        return LedgerChoice(state, ledger)
    file = config_file(given)
    if not file.is_file():
        if state is not None or ledger:
            return LedgerChoice(state, ledger)
        raise ConfigError(
            f"no configuration file at {file} (named by --config or $ENTREPOT_CONFIG)"
        )
    return configured_ledger(_read(file), state, ledger)
