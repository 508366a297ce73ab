"""The last records of one archive file, as the archive page shows them.

Records come from :class:`~entrepot.archive.ArchiveReader`, which never
returns a damaged one (the damage met is listed beside them).  The page
escapes every text; a binary payload is shown as its bytes in hexadecimal
and a long payload is cut at :data:`PREVIEW` characters — the JSON twin has
each payload whole, bytes as base64 as ``entrepot archive cat`` prints them.
"""

from __future__ import annotations

import base64
import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from entrepot.archive import ArchiveReader, Damage, Record
from entrepot.errors import ArchiveError, ConfigError

__all__ = ["MAX_RECORDS", "Shown", "last_records"]

#: Records shown at most from the end of one archive.
MAX_RECORDS = 100
#: Characters of a payload shown on a page (the JSON twin has them all).
PREVIEW = 2_000


@dataclass(frozen=True)
class Shown:
    """One record as a page shows it (payloads cut at :data:`PREVIEW` characters)."""

    offset: int
    metadata: dict[str, str]
    kind: str
    """``text``, ``json`` or ``binary``."""
    preview: str
    length: int
    """Characters of text or JSON, bytes of a binary payload."""
    record: Record

    def as_json(self) -> dict[str, Any]:
        payload = self.record.payload
        line: dict[str, Any] = {"offset": self.offset, "metadata": self.metadata}
        if isinstance(payload, bytes):
            line |= {"payload": base64.b64encode(payload).decode(), "payload_encoding": "base64"}
        else:
            line["payload"] = payload
        return line


def _shown(record: Record) -> Shown:
    payload = record.payload
    if isinstance(payload, bytes):
        head = payload[: PREVIEW // 3]
        text = head.hex(" ") + (" …" if len(payload) > len(head) else "")
        return Shown(record.offset, record.metadata, "binary", text, len(payload), record)
    if isinstance(payload, str):
        kind, text = "text", payload
    else:
        kind, text = "json", json.dumps(payload, ensure_ascii=False)
    cut = text[:PREVIEW] + (" …" if len(text) > PREVIEW else "")
    return Shown(record.offset, record.metadata, kind, cut, len(text), record)


def last_records(path: Path, count: int) -> tuple[list[Shown], list[Damage]]:
    """The last ``count`` (at most :data:`MAX_RECORDS`) intact records of ``path``, oldest
    first, and the damage met on the way (never a damaged record)."""
    count = max(1, min(count, MAX_RECORDS))
    try:
        with ArchiveReader(path) as reader:
            kept = deque(reader, maxlen=count)
            damage = list(reader.damage)
    except (ArchiveError, ConfigError, OSError) as exc:
        return [], [Damage(0, f"{type(exc).__name__}: {exc}")]
    return [_shown(record) for record in kept], damage
