"""How the service logs: text lines (default) or JSON lines, on standard error.

Text lines are the command line's own (``time level logger: event k=v``);
they carry no colour, so journald and log files get plain text.  JSON lines
(``[service] log_format = "json"``) carry one object per line::

    {"ts": "2026-03-01T02:00:00.123Z", "level": "info", "logger": "entrepot.service",
     "event": "service.ready", "routes": 2}

The event's fields are the ones given to :func:`entrepot.logs.log_event`; each
value that is not a number or a boolean passes through
:func:`entrepot.redact.mask_secrets`, like every text line, so no password
reaches the log.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from entrepot.logs import SafeFormatter
from entrepot.redact import mask_secrets

__all__ = ["TEXT_FORMAT", "JsonFormatter", "formatter_for"]

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def _value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    return mask_secrets(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: UTC time, level, logger, event and fields."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        data: dict[str, Any] = {
            "ts": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        event = getattr(record, "event", None)
        fields = getattr(record, "fields", None)
        if event is not None:
            data["event"] = event
            if isinstance(fields, dict):
                for key, value in fields.items():
                    data.setdefault(str(key), _value(value))
        else:
            data["message"] = mask_secrets(record.getMessage())
        if record.exc_info:
            data["exception"] = mask_secrets(self.formatException(record.exc_info))
        # U+2028 and U+2029 end a line for some readers (JavaScript, editors): escaped,
        # as a line's own breaks are, so that one record is one line everywhere.
        text = json.dumps(data, ensure_ascii=False)
        return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def formatter_for(log_format: str) -> logging.Formatter:
    """The formatter of ``[service] log_format`` (``text`` or ``json``)."""
    return JsonFormatter() if log_format == "json" else SafeFormatter(TEXT_FORMAT)
