"""Sizes and durations as people write them: ``4 KiB``, ``10MB``, ``1h30m``, ``250ms``.

One parser for each, used by every command line option, config value and
library argument that takes a size or a duration, so ``--max-size 4096B``
means the same everywhere.  Sizes follow pydantic's :class:`~pydantic.ByteSize`
(``KB`` = 1,000 bytes, ``KiB`` = 1,024); durations are a sequence of
``<number><unit>`` parts with units ``ms s m h d w``, or a bare number of
seconds.  Command options take them as ``typer.Option(parser=parse_size)``:
typer turns the :class:`ValueError` into a usage error (exit 2).  pydantic
is imported only when a size with a unit is read, not by commands that
merely offer such an option.

>>> parse_size("4 KiB"), parse_size("10KB"), parse_size(512)
(4096, 10000, 512)
>>> parse_duration("1h30m"), parse_duration("250ms"), parse_duration("90")
(5400.0, 0.25, 90.0)
>>> parse_size("10iB")
Traceback (most recent call last):
...
ValueError: not a size: '10iB' (examples: 4096, 512B, 64KiB, 10MB, 1.5GiB)

A duration longer than a century, or a size beyond what a file can hold, is
a slip of the keyboard, refused here rather than failing later in a clock,
a timer or a read that cannot hold it:

>>> try:
...     parse_duration("99999999999d")
... except ValueError as exc:
...     print(exc)
not a duration: '99999999999d' (longer than 100 years)
"""

from __future__ import annotations

import functools
import math
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ByteSize, TypeAdapter

__all__ = ["format_duration", "format_size", "parse_duration", "parse_moment", "parse_size"]

_SIZE_EXAMPLES = "examples: 4096, 512B, 64KiB, 10MB, 1.5GiB"
_DURATION_EXAMPLES = "examples: 90, 90s, 5m, 1h30m, 2d, 250ms"

#: The longest duration taken: 100 years (clocks, timers and timeouts all hold it).
MAX_DURATION = 100 * 365.25 * 86400.0
#: The largest size taken: what a file offset and a read's length can hold.
MAX_SIZE = sys.maxsize

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_NUMBER = re.compile(r"\s*\d+(?:\.\d+)?\s*")
# pydantic reads a prefix and ignores trailing words ("4 KiB extra"): check the whole.
_SIZE_SHAPE = re.compile(r"\s*\d+(?:\.\d+)?\s*[A-Za-z]{0,3}\s*")
# A whole number of bytes, read without pydantic (which reads it the same way).
_PLAIN_BYTES = re.compile(r"\s*\d+\s*[Bb]?\s*")


def parse_size(value: str | int) -> int:
    """A byte count from ``value``; :class:`ValueError` with examples when it is not one."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r} ({_SIZE_EXAMPLES})")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a size cannot be negative: {value}")
        size = value
    else:
        size = _size_of(str(value))
    if size > MAX_SIZE:
        raise ValueError(f"not a size: {value!r} (larger than {MAX_SIZE:,} bytes)")
    return size


def _size_of(text: str) -> int:
    if not _SIZE_SHAPE.fullmatch(text):
        raise ValueError(f"not a size: {text!r} ({_SIZE_EXAMPLES})")
    if _PLAIN_BYTES.fullmatch(text):
        return int(text.strip().removesuffix("B").removesuffix("b"))
    from pydantic import ValidationError

    try:
        return int(_byte_sizes().validate_python(text))
    except ValidationError:
        raise ValueError(f"not a size: {text!r} ({_SIZE_EXAMPLES})") from None


@functools.cache
def _byte_sizes() -> TypeAdapter[ByteSize]:
    # pydantic takes longer to import than a short command takes to run: only
    # a size with a unit (or a fraction) needs it.
    from pydantic import ByteSize, TypeAdapter

    return TypeAdapter(ByteSize)


class _TooLong(ValueError):
    """A duration beyond :data:`MAX_DURATION`: a duration still, not something else."""


def parse_duration(value: str | float) -> float:
    """Seconds from ``value`` (``"1h30m"``, ``"5m"``, ``"250ms"``, ``90``)."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r} ({_DURATION_EXAMPLES})")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value)
        if _NUMBER.fullmatch(text):
            seconds = float(text)
        else:
            seconds, position = 0.0, 0
            for match in _PART.finditer(text):
                if match.start() != position:
                    break
                seconds += float(match[1]) * _UNIT_SECONDS[match[2].lower()]
                position = match.end()
            if position == 0 or text[position:].strip():
                raise ValueError(f"not a duration: {value!r} ({_DURATION_EXAMPLES})")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration: {value!r} ({_DURATION_EXAMPLES})")
    if seconds > MAX_DURATION:
        raise _TooLong(f"not a duration: {value!r} (longer than 100 years)")
    return seconds


def parse_moment(text: str, now: datetime) -> datetime:
    """``text`` as an aware time: a duration before ``now`` (``1d``, ``90m``), or an ISO
    date or time (``2026-12-05``, ``2026-12-05T02:00``), UTC unless it carries an offset."""
    try:
        return now - timedelta(seconds=parse_duration(text))
    except _TooLong:
        raise
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (1d, 90m) nor a date or time (2026-12-05T02:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_duration(seconds: float) -> str:
    """``5400`` → ``1h30m``: the inverse of :func:`parse_duration` for whole seconds.

    A negative duration (a time stamped ahead of the clock that reads it) keeps its
    sign in front of the same units: ``-600`` → ``-10m``, never ``-600000ms``.
    """
    if seconds < 0:
        text = format_duration(-seconds)
        return text if text in ("0s", "0ms") else f"-{text}"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    parts = []
    rest = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def format_size(size: float) -> str:
    """``1536`` → ``1.5 KiB``: a size as people read it."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
