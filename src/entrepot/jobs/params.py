"""What may be stored as a job's parameters: JSON, and never a secret.

The ledger keeps a job's parameters as they are, for as long as the job is
kept, and shows them (``entrepot jobs show``).  So they must be JSON-ready
— never pickled — and must never hold a password: not in a URL's userinfo
(parsed or not: ``ftp://u:pw@host``, ``ftp:/u:pw@host``, an unencoded ``/``
or ``@``), not in a ``password=``-like query parameter, not under a key
such as ``password`` or ``secret_key``.  A job refers to its secret instead
(``password_env``, ``password_file``).

>>> check_params({"url": "ftp://bob@host/in", "target_options": {"password_env": "PW"}})
{'url': 'ftp://bob@host/in', 'target_options': {'password_env': 'PW'}}
>>> check_params({"url": "ftp://bob:SEC@RET@host/in"})
Traceback (most recent call last):
...
entrepot.errors.ConfigError: job parameter 'url' carries a password; ...
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from entrepot.errors import ConfigError, JobError
from entrepot.redact import url_has_secret

__all__ = ["check_params", "secret_parameters"]


def check_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` as a dict, once checked: JSON-ready and free of secrets.

    Raises :class:`~entrepot.errors.JobError` for what JSON cannot hold and
    :class:`~entrepot.errors.ConfigError` (naming the parameter, never its
    value) for a secret.
    """
    checked = dict(params)
    try:
        json.dumps(checked, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise JobError(f"job parameters must be JSON-ready: {exc}") from None
    for where in secret_parameters(checked):
        raise ConfigError(
            f"job parameter {where!r} carries a password; the ledger never stores one: "
            "refer to it with password_env or password_file"
        )
    return checked


def secret_parameters(value: Any, where: str = "") -> Iterator[str]:
    """The paths (``target_options.password``) of the values in ``value`` that are secrets."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            # "password=x" is masked, "password_env=x" is not: the same rule as every log line.
            if item not in (None, "") and url_has_secret(f"{key}=x"):
                yield path
            else:
                yield from secret_parameters(item, path)
    elif isinstance(value, list | tuple):
        for number, item in enumerate(value):
            yield from secret_parameters(item, f"{where}[{number}]")
    elif isinstance(value, str) and url_has_secret(value):
        yield where
