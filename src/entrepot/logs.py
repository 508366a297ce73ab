"""Structured lifecycle log lines: every line starts with its event name.

``log_event(logger, "spool.published", name="a", size=3)`` logs
``spool.published name=a size=3`` and attaches ``event`` and ``fields`` to the
record, so a JSON formatter or a test can read them back.

Values may come from anywhere — a remote listing, a URL typed by a user — so
each is shown through :func:`entrepot.redact.mask_secrets` and
:func:`entrepot.redact.printable`: a password never reaches a log line, and a
name holding a newline or an escape sequence cannot forge a line or repaint a
terminal.  :class:`SafeFormatter` does the same for whole messages, for log
lines written without :func:`log_event`.
"""

from __future__ import annotations

import logging
from typing import Any

from entrepot.redact import mask_secrets, printable

__all__ = ["SafeFormatter", "log_event", "shown_value"]


def shown_value(value: Any) -> str:
    """``value`` as it may appear in a log line: masked, escaped, quoted if needed."""
    text = printable(mask_secrets(str(value)))
    if not text or any(ch.isspace() or ch in '"=' for ch in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def log_event(
    logger: logging.Logger, event: str, level: int = logging.INFO, /, **fields: Any
) -> None:
    """Log one lifecycle line named ``event`` with ``key=value`` fields."""
    if not logger.isEnabledFor(level):
        return
    parts = [event, *(f"{key}={shown_value(value)}" for key, value in fields.items())]
    logger.log(level, " ".join(parts), extra={"event": event, "fields": fields})


class SafeFormatter(logging.Formatter):
    """A formatter whose messages carry no secret and no control character.

    Only the message is escaped; a traceback that follows it keeps its line
    breaks (its text is masked all the same).
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(mask_secrets(record.message))
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        return mask_secrets(super().formatException(ei))
