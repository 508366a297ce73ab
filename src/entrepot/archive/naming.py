"""Archive file names from templates: strftime fields plus ``{host}``, ``{seq}``, ``{uuid}``.

``events-%Y%m%dT%H%M%S-{host}-{seq:04d}.events`` gives
``events-20260101T120000-web1-0007.events``.  Times are UTC.  A rendered
name must be one safe path component.  When the name is taken (two files
rolled in the same second, or a restart), :func:`candidates` offers
``name-1.ext``, ``name-2.ext``, … so an earlier archive is never replaced.
"""

from __future__ import annotations

import fnmatch
import re
import socket
import time
import uuid
from collections.abc import Iterator

from entrepot.archive.reader import OPEN_SUFFIX
from entrepot.errors import ConfigError
from entrepot.names import check_name

DEFAULT_TEMPLATE = "events-%Y%m%dT%H%M%S-{host}-{seq}.events"

_FIELD = re.compile(r"\{(host|seq|uuid)(?::([^{}]*))?\}")
_BRACE = re.compile(r"[{}]")
_STRFTIME = re.compile(r"%.")


def safe_host(name: str | None = None) -> str:
    """The host name, reduced to characters that are safe in a file name."""
    host = name if name is not None else socket.gethostname()
    return re.sub(r"[^A-Za-z0-9._-]", "_", host).strip("._") or "host"


class Template:
    """A validated file-name template."""

    def __init__(self, template: str, *, host: str | None = None) -> None:
        if "/" in template or "\\" in template:
            raise ConfigError(f"archive name template {template!r} must be a file name, not a path")
        self.template = template
        self.host = safe_host(host)
        unknown = _BRACE.search(_FIELD.sub("", template))
        if unknown is not None:
            # A brace left over is a field this template language does not have
            # ("{start:%Y}", a typo): it would end up in every file name as written.
            raise ConfigError(
                f"archive name template {template!r}: unknown field near "
                f"{template[max(unknown.start() - 8, 0) : unknown.start() + 8]!r} — the fields are "
                "{host}, {seq} and {uuid}; times are strftime codes such as %Y%m%dT%H%M%S"
            )
        try:
            self.render(0)
        except (ValueError, KeyError) as exc:
            raise ConfigError(f"archive name template {template!r}: {exc}") from exc

    def render(self, seq: int, when: float | None = None) -> str:
        """The name for archive number ``seq`` opened at ``when`` (default: now)."""
        stamp = time.gmtime(when if when is not None else time.time())
        # strftime first (it leaves braces alone), then the named fields.
        text = time.strftime(self.template, stamp)

        def field(match: re.Match[str]) -> str:
            key, spec = match.group(1), match.group(2) or ""
            value: object = {"host": self.host, "seq": seq, "uuid": uuid.uuid4().hex}[key]
            return format(value, spec)

        name = check_name(_FIELD.sub(field, text), what="archive name")
        if name.endswith(OPEN_SUFFIX):  # the mark of an archive still being written
            raise ConfigError(f"archive name {name!r} ends in {OPEN_SUFFIX!r}, as open archives do")
        return name

    def glob(self) -> str:
        """A glob pattern matching every name this template can render (and the variants)."""
        pattern = _FIELD.sub("*", _STRFTIME.sub("*", self.template.replace("%%", "%")))
        stem, dot, ext = pattern.rpartition(".")
        pattern = f"{stem}*.{ext}" if dot and stem else pattern + "*"
        return re.sub(r"\*+", "*", pattern)

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.glob())


def candidates(name: str) -> Iterator[str]:
    """``name``, then ``stem-1.ext``, ``stem-2.ext``, … for when a name is taken."""
    yield name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    number = 1
    while True:
        yield f"{stem}-{number}.{ext}" if ext else f"{stem}-{number}"
        number += 1
