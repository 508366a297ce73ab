"""Remote names from a template: deterministic, and host-qualified where a fleet needs it.

A route's ``remote_name`` template names each delivered file on the target.
The default, ``{name}``, is the spool name.  Edge services of a fleet that
ship into one bucket use :data:`FLEET_TEMPLATE`,
``{instance}/{route}/{yyyy}/{mm}/{dd}/{name}``: the instance (the
service's ``[service] instance``, by default the host name) keeps hosts
apart, and the date is the day the file was *received* into the spool (its
modification time there, which claims and retries keep), in UTC — never
the clock at upload.  So a file delivered again after a crash gets the same
key, and with the ``exclusive`` conflict policy the same bytes are found
there instead of a second copy made.

Fields: ``name``, ``instance``, ``host`` (the short host name), ``route``,
``yyyy``, ``mm``, ``dd``.  The name made is checked like every remote name
(no ``..``, no empty or hidden part) *after* the fields are filled in:

>>> received = 1764892800.0  # 2025-12-05 00:00 UTC
>>> remote_name(FLEET_TEMPLATE, "a.csv", received, instance="edge-7", route="orders")
'edge-7/orders/2025/12/05/a.csv'
>>> check_template("{when}/{name}")
Traceback (most recent call last):
...
entrepot.errors.ConfigError: remote_name template '{when}/{name}': unknown field 'when' ...
>>> remote_name("{route}/{name}", "a.csv", received, instance="e", route="..")
Traceback (most recent call last):
...
entrepot.errors.InvalidName: remote name '..' refers to a folder

What the template itself writes is checked at once: a remote name is
relative to the target's folder, which the target's URL names.

>>> check_template("/archive/{name}")
Traceback (most recent call last):
...
entrepot.errors.ConfigError: remote_name template '/archive/{name}': a remote name is relative ...
"""

from __future__ import annotations

import socket
import string
import time

from entrepot.errors import ConfigError, InvalidName
from entrepot.instances import default_instance
from entrepot.targets.info import split_name

__all__ = ["FLEET_TEMPLATE", "check_template", "default_instance", "remote_name"]

FLEET_TEMPLATE = "{instance}/{route}/{yyyy}/{mm}/{dd}/{name}"
_FIELDS = ("dd", "host", "instance", "mm", "name", "route", "yyyy")
_HOST = socket.gethostname().split(".")[0]


def check_template(template: str) -> str:
    """``template`` if it is a usable remote name template; ConfigError otherwise."""
    where = f"remote_name template {template!r}"
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    fields = [field for _, field, _, _ in parsed if field is not None]
    for field in fields:
        if field not in _FIELDS:
            known = ", ".join(_FIELDS)
            raise ConfigError(f"{where}: unknown field {field!r} (known: {known})")
    if any(spec or conversion for _, field, spec, conversion in parsed if field is not None):
        raise ConfigError(f"{where}: fields take no format or conversion")
    if "name" not in fields:
        raise ConfigError(f"{where}: it must hold {{name}}, or every file would get one name")
    # Its own text checked with every field filled in by a name that passes.
    sample = template.format_map(dict.fromkeys(_FIELDS, "x"))
    if sample.startswith("/"):
        raise ConfigError(
            f"{where}: a remote name is relative to the target's folder: "
            "drop the leading '/' (the folder belongs in the target URL)"
        )
    if "//" in sample or sample.endswith("/"):
        raise ConfigError(f"{where}: it holds an empty folder name ('//' or a '/' at the end)")
    try:
        split_name(sample)
    except InvalidName as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return template


def remote_name(
    template: str, name: str, received: float, *, instance: str | None, route: str
) -> str:
    """The remote name of the spool file ``name`` received at ``received`` (epoch seconds)."""
    day = time.gmtime(received)
    text = template.format(
        name=name,
        instance=instance or default_instance(),
        host=_HOST,
        route=route,
        yyyy=f"{day.tm_year:04d}",
        mm=f"{day.tm_mon:02d}",
        dd=f"{day.tm_mday:02d}",
    )
    return "/".join(split_name(text))
