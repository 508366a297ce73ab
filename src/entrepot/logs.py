"""Structured lifecycle log lines: every line starts with its event name.

``log_event(logger, "spool.published", name="a", size=3)`` logs
``spool.published name=a size=3`` and attaches ``event`` and ``fields`` to the
record, so a JSON formatter or a test can read them back.  Callers pass only
values that are safe to show: URLs are masked before they get here.
"""

from __future__ import annotations

import logging
from typing import Any


def _format_value(value: Any) -> str:
    text = str(value)
    if not text or any(ch.isspace() or ch in '"=' for ch in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def log_event(
    logger: logging.Logger, event: str, level: int = logging.INFO, /, **fields: Any
) -> None:
    """Log one lifecycle line named ``event`` with ``key=value`` fields."""
    if not logger.isEnabledFor(level):
        return
    parts = [event, *(f"{key}={_format_value(value)}" for key, value in fields.items())]
    logger.log(level, " ".join(parts), extra={"event": event, "fields": fields})
