"""Which instance of a fleet a process speaks for: one rule, for the service and every command.

The name an instance records with every run, claim and heartbeat is, first
to last:

1. the one given explicitly (a job's own ``instance`` setting, a
   :class:`~entrepot.jobs.Ledger` opened with ``instance=``);
2. the configuration's ``[service] instance``, for the service and for a
   command that works from that configuration (``--config`` or
   ``$ENTREPOT_CONFIG``, or names looked up in it): such a command acts for
   that service, and its jobs must be the service's own whatever the shell
   holds;
3. ``$ENTREPOT_INSTANCE`` — also what a configuration that names no instance
   takes;
4. the host's name, made a usable instance name.

A name is letters, digits, ``_``, ``-``, ``.``, 64 at most
(:func:`check_instance`): the configured one and the variable's alike —
the ledger's columns hold no more, and a log or a terminal shows it as it is.
"""

from __future__ import annotations

import os
import re
import socket

__all__ = ["ENV", "check_instance", "default_instance", "host_instance", "instance_for"]

#: The variable that names the instance of a process without a configured one.
ENV = "ENTREPOT_INSTANCE"

_UNUSABLE = re.compile(r"[^A-Za-z0-9_.\-]")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


def check_instance(value: str) -> str:
    """``value`` if it can name an instance, else ValueError (naming the variable when
    ``value`` is what it holds)."""
    if _NAME.fullmatch(value):
        return value
    origin = f" (the value of ${ENV})" if value == os.environ.get(ENV) else ""
    raise ValueError(
        f"{value!r}{origin} is not a usable instance name: "
        "letters, digits, '_', '-', '.' (64 at most)"
    )


def host_instance() -> str:
    """The host's name, made a usable instance name."""
    name = _UNUSABLE.sub("-", socket.gethostname()).lstrip("-_.")[:64]
    return name or "entrepot"


def default_instance() -> str:
    """The name when neither an explicit one nor a configuration gives it:
    ``$ENTREPOT_INSTANCE``, else the host's name."""
    return os.environ.get(ENV) or host_instance()


def instance_for(explicit: str | None = None, configured: str | None = None) -> str:
    """The instance name by the rule of the module: ``explicit``, else ``configured``
    (a configuration's ``[service] instance``), else :func:`default_instance`."""
    return explicit or configured or default_instance()
