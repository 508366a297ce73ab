"""The data center's own log: ``logs/datacenter.log``, one line per import.

This file is for operators (and survives moving the storage); the usual
Python logging goes wherever the application sends it.  A line reads::

    2026-11-23T18:40:02Z import file=x.csv table=students mode=create processed=10 \
successful=8 failed=2 duration=0.12s user=alice job=3f2a…

The log is searched with a regular expression, newest file last.
"""

from __future__ import annotations

import os
import re
import shlex
from datetime import UTC, datetime
from pathlib import Path

from entrepot.datacenter.listing import is_log_name
from entrepot.errors import ConfigError
from entrepot.redact import printable

LOG_NAME = "datacenter.log"


def _value(value: object) -> str:
    # Control characters (an escape sequence in a user name) made visible.
    text = printable(str(value))
    if not text or any(ch.isspace() or ch in '"=' for ch in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def parse_line(line: str) -> dict[str, str]:
    """A log line as its fields: ``time``, ``action``, then ``key=value`` pairs.

    >>> parse_line('2026-11-23T18:40:02Z import file="a b.csv" failed=0')
    {'time': '2026-11-23T18:40:02Z', 'action': 'import', 'file': 'a b.csv', 'failed': '0'}
    """
    try:
        parts = shlex.split(line, posix=True)
    except ValueError:
        return {"line": line}
    if len(parts) < 2:
        return {"line": line}
    fields = {"time": parts[0], "action": parts[1]}
    for part in parts[2:]:
        key, sep, value = part.partition("=")
        if sep:
            fields[key] = value
    return fields


class DataCenterLog:
    """Append-only log lines in ``<root>/logs/datacenter.log``."""

    def __init__(self, logs_folder: Path) -> None:
        self.folder = logs_folder
        self.path = logs_folder / LOG_NAME

    def write(self, action: str, **fields: object) -> str:
        """Append one line and return it (without the line end)."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts = [stamp, action, *(f"{key}={_value(value)}" for key, value in fields.items())]
        line = " ".join(parts)
        # One write() of a whole line in append mode: lines of concurrent
        # writers never interleave.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
        finally:
            os.close(fd)
        return line

    def contains(self, needle: str, *, tail_bytes: int = 1 << 20) -> bool:
        """Whether ``needle`` occurs in the last ``tail_bytes`` of the log."""
        try:
            with open(self.path, "rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, size - tail_bytes))
                return needle.encode("utf-8") in handle.read()
        except FileNotFoundError:
            return False

    def files(self) -> list[Path]:
        """Log files, rotated backups (``datacenter.log.1`` …) oldest first, then the current."""
        backups = sorted(
            (path for path in self.folder.glob(f"{LOG_NAME}.*") if not is_log_name(path.name)),
            key=lambda path: -int(path.name.rsplit(".", 1)[1]),
        )
        return [*backups, self.path] if self.path.exists() else backups

    def search(self, pattern: str | None = None, *, limit: int | None = None) -> list[str]:
        """Lines matching the regular expression ``pattern`` (all lines when None)."""
        try:
            regex = re.compile(pattern) if pattern else None
        except re.error as exc:
            raise ConfigError(f"invalid regular expression {pattern!r}: {exc}") from exc
        lines: list[str] = []
        for path in self.files():
            with open(path, encoding="utf-8", errors="replace") as handle:
                for raw in handle:
                    line = raw.rstrip("\n")
                    if regex is None or regex.search(line):
                        lines.append(line)
        return lines[-limit:] if limit else lines
