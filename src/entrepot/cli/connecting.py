"""How a command reaches a target: its options, where the password comes from, and names.

Target options are ``-o key=value`` or the URL's query string.  Where the
password comes from is one rule for every command that opens a target
(:func:`target_options`; ``ship`` and ``fetch`` follow it too):

1. ``--password-env NAME`` or ``--password-file PATH`` (not both; the file
   must be private to its owner);
2. otherwise a password written in the URL (masked wherever it is shown;
   discouraged — a command line is seen by others);
3. otherwise the ``ENTREPOT_PASSWORD`` environment variable, if set, passed
   on *by reference* (``password_env=ENTREPOT_PASSWORD``), so that a job
   kept for a later retry reads it again then.

A secret is never accepted as ``-o`` (``password``, ``secret_key``,
``passphrase``, ``session_token``): it would stay in shell histories.  A
configured target's name stands for its URL and options
(:mod:`entrepot.cli.names`); what the command line gives goes on top.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from entrepot.cli import names
from entrepot.cli.names import ConfigOption
from entrepot.errors import ConfigError
from entrepot.targets import option_pairs, parse_url
from entrepot.targets.url import SECRET_OPTIONS, TargetURL
from entrepot.units import parse_duration

__all__ = ["PASSWORD_VARIABLE", "Connecting", "connecting", "given_options", "target_options"]

_R = TypeVar("_R")
PASSWORD_VARIABLE = "ENTREPOT_PASSWORD"  # noqa: S105 - a variable name, not a secret

OptionList = Annotated[
    list[str] | None,
    typer.Option("--option", "-o", help="Target option key=value (repeatable; no secrets)."),
]
PasswordEnv = Annotated[
    str | None,
    typer.Option(
        "--password-env",
        help=f"Read the password from this environment variable (default {PASSWORD_VARIABLE}).",
    ),
]
PasswordFile = Annotated[
    Path | None,
    typer.Option("--password-file", help="Read the password from this file (mode 600)."),
]
Timeout = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        parser=parse_duration,
        help="How long a network call may go without progress: 30 (seconds), 2m.",
    ),
]


def target_options(
    url: str,
    pairs: list[str] | None,
    password_env: str | None = None,
    password_file: Path | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Keyword options for ``open_target(url, ...)`` from a command line; see the module."""
    return with_default_password(url, given_options(pairs, password_env, password_file, timeout))


def given_options(
    pairs: list[str] | None,
    password_env: str | None = None,
    password_file: Path | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """The target options written on the command line (rules 1 and 2 of the module)."""
    options: dict[str, Any] = dict(option_pairs(pairs or []))
    if password_env and password_file:
        raise ConfigError("give --password-env or --password-file, not both")
    if password_env:
        options["password_env"] = password_env
    elif password_file:
        options["password_file"] = str(password_file)
    if timeout is not None:
        options["timeout"] = timeout
    return options


def with_default_password(url: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with ``$ENTREPOT_PASSWORD`` as the password if the target logs in with
    one and nothing else names it.

    A local folder takes none, and S3 takes it as the secret of an ``access_key``
    given with it: a bucket reached with the environment's or a profile's keys (or
    an instance's role) must not be handed a secret without its key.
    """
    if PASSWORD_VARIABLE not in os.environ:
        return options
    parsed = parse_url(url)
    given = set(parsed.options()) | set(options)
    if not _takes_a_password(parsed.scheme, given) or _names_a_password(parsed, given):
        return options
    return {**options, "password_env": PASSWORD_VARIABLE}


def _takes_a_password(scheme: str, given: set[str]) -> bool:
    if scheme in ("file", "memory"):
        return False
    return scheme != "s3" or "access_key" in given


def _names_a_password(parsed: TargetURL, given: set[str]) -> bool:
    return bool(parsed.password) or bool(
        given & (SECRET_OPTIONS | {"password_env", "password_file"})
    )


@dataclass(frozen=True)
class Connecting:
    """How a command reaches a target: ``-o`` options, the password source, the timeout."""

    pairs: list[str] | None = None
    password_env: str | None = None
    password_file: Path | None = None
    timeout: float | None = None
    config: Path | None = None

    def options(self, url: str) -> dict[str, Any]:
        """Keyword options for ``open_target(url, ...)`` (see :func:`target_options`)."""
        return target_options(url, self.pairs, self.password_env, self.password_file, self.timeout)

    def resolve(self, argument: str) -> tuple[str, dict[str, Any]]:
        """The URL and options of ``argument``: a URL, a path, or a configured target's name."""
        if not names.is_name(argument):
            return argument, self.options(argument)
        given = given_options(self.pairs, self.password_env, self.password_file, self.timeout)
        named = names.target(argument, self.config, given)
        return named.url, with_default_password(named.url, named.options)


_CONNECTING = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=kind)
    for name, kind in (
        ("option", OptionList),
        ("password_env", PasswordEnv),
        ("password_file", PasswordFile),
        ("timeout", Timeout),
        ("config", ConfigOption),
    )
]


def connecting(command: Callable[..., _R]) -> Callable[..., _R]:
    """Give a command the options every target command takes, under the one rule.

    The command declares a keyword-only ``how: Connecting`` parameter; its
    users see ``-o``, ``--password-env``, ``--password-file``,
    ``--timeout`` and ``--config`` instead, and ``how.resolve(argument)``
    turns the URL or configured target name and those options into a URL
    and target options.
    """
    signature = inspect.signature(command, eval_str=True)
    kept = [param for name, param in signature.parameters.items() if name != "how"]

    @functools.wraps(command)
    def run(**given: Any) -> _R:
        how = Connecting(*(given.pop(param.name) for param in _CONNECTING))
        return command(how=how, **given)

    run.__signature__ = signature.replace(parameters=[*kept, *_CONNECTING])  # type: ignore[attr-defined]
    return run
