"""Archive file names from templates: strftime fields plus ``{host}``, ``{seq}``, ``{uuid}``.

``events-%Y%m%dT%H%M%S-{host}-{seq:04d}.events`` gives
``events-20260101T120000-web1-0007.events``.  Times are UTC.  A rendered
name must be one safe path component.  When the name is taken (two files
rolled in the same second, or a restart), :func:`candidates` offers
``name-1.ext``, ``name-2.ext``, … so an earlier archive is never replaced.

The writer makes more names from each one rendered — ``NAME.open`` while it
writes, ``.NAME.handoff`` (:mod:`.sealnote`) and ``NAME.zst.open`` while it
seals, ``NAME-1.ext`` when the name is taken — so a template is refused at
once (:class:`~entrepot.errors.ConfigError`) unless the longest name it
renders, whatever the time, leaves room for them (:data:`MAX_RENDERED_BYTES`);
a name that outgrows that room later (a wider ``{seq}``, a thousandth
variant) is refused by :func:`check_room` before anything is written to it.
"""

from __future__ import annotations

import calendar
import fnmatch
import re
import socket
import time
import uuid
from collections.abc import Iterator
from typing import NamedTuple

from entrepot.archive.compress import SUFFIXES
from entrepot.archive.reader import OPEN_SUFFIX
from entrepot.archive.sealnote import NOTE_SUFFIX
from entrepot.errors import ConfigError
from entrepot.names import MAX_NAME_BYTES, check_name, shortened

DEFAULT_TEMPLATE = "events-%Y%m%dT%H%M%S-{host}-{seq}.events"

_FIELD = re.compile(r"\{(host|seq|uuid)(?::([^{}]*))?\}")
_BRACE = re.compile(r"[{}]")
_STRFTIME = re.compile(r"%.")

#: Bytes the writer adds to a name, at most: the note ``.NAME.handoff`` of its
#: hand-off, or the compressed copy being written, ``NAME.zst.open``.
ADDED_BYTES = max(len("." + NOTE_SUFFIX), *(len(s + OPEN_SUFFIX) for s in SUFFIXES.values()))
#: Room kept for the variant of a name that is taken, up to ``NAME-999.ext``.
VARIANT_BYTES = len("-999")
#: The longest name a template may render, in UTF-8 bytes (a spool wants shorter ones).
MAX_RENDERED_BYTES = MAX_NAME_BYTES - ADDED_BYTES - VARIANT_BYTES

# One moment of every day of a leap year, at the end of the day: each strftime
# field at its widest (month and day names, %j up to 366, %I and %p of the afternoon).
_YEAR = tuple(calendar.timegm((2024, 1, 1, 23, 59, 59)) + day * 86400 for day in range(366))


def safe_host(name: str | None = None) -> str:
    """The host name, reduced to characters that are safe in a file name."""
    host = name if name is not None else socket.gethostname()
    return re.sub(r"[^A-Za-z0-9._-]", "_", host).strip("._") or "host"


class Template:
    """A validated file-name template, whose names fit ``room`` (:func:`name_room`;
    by default, that of a writer without a spool)."""

    def __init__(self, template: str, *, host: str | None = None, room: Room | None = None) -> None:
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
        self.check_room(0, room)

    def render(self, seq: int, when: float | None = None) -> str:
        """The name for archive number ``seq`` opened at ``when`` (default: now)."""
        name = check_name(self._expand(seq, when), what="archive name")
        if name.endswith(OPEN_SUFFIX):  # the mark of an archive still being written
            raise ConfigError(f"archive name {name!r} ends in {OPEN_SUFFIX!r}, as open archives do")
        return name

    def _expand(self, seq: int, when: float | None = None) -> str:
        """The template's text for archive ``seq`` at ``when``, not checked as a name yet."""
        stamp = time.gmtime(when if when is not None else time.time())
        # strftime first (it leaves braces alone), then the named fields.
        text = time.strftime(self.template, stamp)

        def field(match: re.Match[str]) -> str:
            key, spec = match.group(1), match.group(2) or ""
            value: object = {"host": self.host, "seq": seq, "uuid": uuid.uuid4().hex}[key]
            return format(value, spec)

        return _FIELD.sub(field, text)

    def widest(self, seq: int) -> str:
        """The longest text rendered for archive ``seq``, whatever the day and time."""
        if _STRFTIME.search(self.template.replace("%%", "")) is None:
            return self._expand(seq)
        now = time.time()
        when = max(
            (now, *_YEAR), key=lambda t: _width(time.strftime(self.template, time.gmtime(t)))
        )
        return self._expand(seq, when)

    def check_room(self, seq: int, room: Room | None = None) -> None:
        """Raise :class:`~entrepot.errors.ConfigError` unless every name rendered for
        archive ``seq``, and its variants up to ``NAME-999.ext``, fit ``room``
        (:func:`name_room`; by default, that of a writer without a spool)."""
        room = room or ROOM
        name = self.widest(seq)
        if _width(name) + VARIANT_BYTES > room.most:
            raise ConfigError(
                f"archive name template {shortened(self.template)} makes names of "
                f"{_width(name)} bytes, such as {shortened(name)}; the most is "
                f"{room.most - VARIANT_BYTES} ({room.why}; and {VARIANT_BYTES} more are kept "
                "for NAME-999.ext, when a name is taken)"
            )

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


class Room(NamedTuple):
    """How long a name the writer uses may be, in UTF-8 bytes, and why."""

    most: int
    why: str


def name_room(*, spool: bool = False, suffix: str = "") -> Room:
    """The room for the names of a writer that hands its archives (named ``NAME`` plus
    the compression's ``suffix``) to a spool, or not."""
    room = Room(
        MAX_NAME_BYTES - ADDED_BYTES,
        f"the writer adds up to {ADDED_BYTES} bytes to a name for its own files: "
        f".NAME{NOTE_SUFFIX}, NAME.zst{OPEN_SUFFIX}",
    )
    if spool:
        from entrepot.spool import MAX_SPOOL_NAME_BYTES  # the spool's code only when needed

        if MAX_SPOOL_NAME_BYTES - len(suffix) < room.most:
            compressed = f", {suffix!r} included" if suffix else ""
            room = Room(
                MAX_SPOOL_NAME_BYTES - len(suffix),
                f"the archive goes to a spool, which keeps names of at most "
                f"{MAX_SPOOL_NAME_BYTES} bytes{compressed}",
            )
    return room


#: The room of a writer without a spool.
ROOM = name_room()


def check_room(name: str, room: Room = ROOM) -> str:
    """``name``, which the writer is about to use, if it fits ``room``:
    :class:`~entrepot.errors.ConfigError` otherwise, before any file is made of it."""
    if _width(name) > room.most:
        raise ConfigError(
            f"archive name {shortened(name)} has {_width(name)} bytes, more than the "
            f"{room.most} it may have ({room.why}); nothing was written under it"
        )
    return name


def _width(name: str) -> int:
    return len(name.encode("utf-8"))
