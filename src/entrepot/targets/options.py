"""Target options and secrets: what a target accepts, and where its password comes from.

Options are keywords of :func:`~entrepot.targets.open_target` or query-string
parameters of the URL (keywords win); :func:`resolve_options` checks the
names, converts the values and finds the password.  A secret is given as
``password=``, or by reference: ``password_env=NAME`` (an environment
variable, read when the target is opened) or ``password_file=PATH`` (a file
that only its owner may read, as ssh insists for private keys).

Two rules keep secrets out of places that last: :func:`option_pairs` refuses
a secret typed on a command line (``-o password=…`` ends up in shell history
and process listings), and :func:`refuse_stored_secrets` refuses a URL or
options that carry one where they would be stored (a job in the ledger keeps
a reference instead).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from entrepot.errors import ConfigError
from entrepot.redact import MASK, mask_secrets, url_has_secret
from entrepot.targets.url import SECRET_OPTIONS, TargetURL, mask_url, parse_url

__all__ = [
    "COMMON_OPTIONS",
    "ResolvedOptions",
    "check_private_file",
    "coerce",
    "option_pairs",
    "refuse_stored_secrets",
    "resolve_options",
    "resolve_secret",
]

#: Options every target accepts (name → type).
COMMON_OPTIONS: dict[str, type] = {
    "timeout": float,
    "reconnect": bool,
    "password": str,
    "password_env": str,
    "password_file": str,
}
#: Seconds a network call may go without progress, unless ``timeout=`` says otherwise.
DEFAULT_TIMEOUT = 30.0
#: The longest a network call may go without progress: a day.
MAX_TIMEOUT = 86400.0

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class ResolvedOptions:
    """A target's settings once checked: the common ones, the secret, the backend's own."""

    timeout: float
    reconnect: bool
    password: str | None = field(repr=False)
    #: May hold secrets of the backend's own (secret_key, passphrase): never shown.
    extra: dict[str, Any] = field(repr=False)


def resolve_options(
    url: TargetURL, options: Mapping[str, Any], backend_types: Mapping[str, type]
) -> ResolvedOptions:
    """Check and convert the URL's query options and ``options`` (which win)."""
    merged: dict[str, Any] = {**url.options(), **options}
    known = {**COMMON_OPTIONS, **backend_types}
    unknown = sorted(set(merged) - set(known))
    if unknown:
        shown = ", ".join(mask_secrets(name) for name in unknown)
        raise ConfigError(f"{url.scheme} target: unknown option(s) {shown}")
    values = {key: coerce(key, value, known[key]) for key, value in merged.items()}
    timeout = values.pop("timeout", None)
    if timeout is None:
        timeout = DEFAULT_TIMEOUT  # 0 is not "unset": it is refused below, as -1 is
    if not 0 < timeout <= MAX_TIMEOUT:  # NaN too: no clock or socket can wait for it
        raise ConfigError(
            f"option 'timeout' must be positive and at most a day ({MAX_TIMEOUT:g} s), "
            f"got {timeout:g}"
        )
    password = resolve_secret(
        "password",
        values.pop("password", None),
        env=values.pop("password_env", None),
        file=values.pop("password_file", None),
        fallback=url.password,
    )
    return ResolvedOptions(
        timeout=float(timeout),
        reconnect=values.pop("reconnect", True),
        password=password,
        extra=values,
    )


def coerce(name: str, value: Any, kind: type) -> Any:
    """Convert an option value (often a query-string text) to ``kind``."""
    if value is None or (isinstance(value, kind) and not (kind is int and isinstance(value, bool))):
        return value
    if kind is bool:
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    else:
        try:
            return kind(value)
        except (TypeError, ValueError):
            pass
    shown = MASK if name in SECRET_OPTIONS else repr(value)
    raise ConfigError(f"option {name!r}: expected {kind.__name__}, got {shown}")


def resolve_secret(
    name: str,
    value: str | None,
    *,
    env: str | None = None,
    file: str | None = None,
    fallback: str | None = None,
) -> str | None:
    """A secret from, in order: the value, the variable named ``env``, ``file``, ``fallback``.

    ``file`` must be readable by its owner only (see :func:`check_private_file`);
    its trailing line break is dropped.
    """
    if value:
        return value
    if env:
        found = os.environ.get(env)
        if found is None:
            raise ConfigError(f"{name}: environment variable {env!r} is not set")
        return found
    if file:
        path = Path(file).expanduser()
        check_private_file(path, f"{name} file")
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read {file!r}: {exc.strerror}") from exc
    return fallback


def check_private_file(path: Path, what: str) -> None:
    """Refuse a secret file that others may read or change, as ssh refuses such keys."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise ConfigError(f"{what} {str(path)!r}: {exc.strerror}") from exc
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{what} {str(path)!r} is not a regular file")
    if mode & 0o077:
        raise ConfigError(
            f"{what} {str(path)!r} is open to other users (mode {stat.S_IMODE(mode):04o}): "
            f"make it private with 'chmod 600 {path}'"
        )


def option_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """``["key=value", ...]`` from a command line, as options; secrets are refused.

    A secret typed on a command line stays in shell histories and process
    listings: it must come by reference (``password_env``, ``password_file``).
    """
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"target option {mask_secrets(pair)!r} is not KEY=VALUE")
        if key in SECRET_OPTIONS:
            raise ConfigError(
                f"option {key!r} is a secret: give it by reference "
                "(--password-env NAME or --password-file PATH), not on the command line"
            )
        options[key] = value
    return options


def _secret_in_query(url: str) -> bool:
    try:
        return bool(set(parse_url(url).options()) & SECRET_OPTIONS)
    except ConfigError:
        return False


def refuse_stored_secrets(url: str, options: Mapping[str, Any] | None = None) -> None:
    """Raise ConfigError if ``url`` or ``options`` carry a secret that would be stored.

    For callers that keep a target for later (a job in the ledger): the
    secret must be a reference there — ``password_env`` or ``password_file``.
    """
    if url_has_secret(url) or _secret_in_query(url):
        raise ConfigError(
            f"the target URL {mask_url(url)} carries a password, which would be stored: "
            "give it by reference (password_env or password_file) instead"
        )
    given = sorted(set(options or {}) & SECRET_OPTIONS)
    if given:
        raise ConfigError(
            f"option(s) {', '.join(given)} would be stored with the job: "
            "give secrets by reference (password_env or password_file) instead"
        )
