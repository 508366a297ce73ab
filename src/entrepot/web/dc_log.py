"""Searching the data center's import log from a page: newest first, a page at a time.

The text searched for is taken literally (case does not matter): a regular
expression typed into a web form could take the service's time for ever,
so the pages offer none (``entrepot dc log --grep`` does).  The log is read
line by line, oldest file first, keeping only the matches the page needs
(at most :data:`MAX_PAGE` pages deep): memory stays bounded however long
the log grows.  Each line is shown split into its fields.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from math import ceil

from entrepot.datacenter import DataCenter
from entrepot.datacenter.logfile import parse_line
from entrepot.web.dc_listing import Page

#: Lines shown on one page.
LOG_PAGE = 50
#: Deepest page served (the matches kept while reading grow with the page number).
MAX_PAGE = 1000
#: Longest text searched for.
MAX_QUERY = 200


class BadQuery(Exception):
    """The text searched for is not one the page takes."""


@dataclass(frozen=True)
class LogLine:
    """One line of the log and its fields (``time``, ``action``, ``file``, ``failed``…)."""

    line: str
    fields: dict[str, str]

    def as_json(self) -> dict[str, object]:
        return {"line": self.line, "fields": self.fields}


def search_log(center: DataCenter, text: str = "", page: int = 1) -> Page[LogLine]:
    """Page ``page`` (1: the newest lines) of the log lines containing ``text``."""
    if len(text) > MAX_QUERY:
        raise BadQuery(f"search for at most {MAX_QUERY} characters")
    page = min(max(1, page), MAX_PAGE)
    pattern = re.compile(re.escape(text), re.IGNORECASE) if text else None
    kept: deque[str] = deque(maxlen=page * LOG_PAGE)
    total = 0
    for path in center.log.files():
        try:
            handle = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115
        except FileNotFoundError:
            continue  # rotated away meanwhile
        with handle:
            for raw in handle:
                line = raw.rstrip("\n")
                if pattern is None or pattern.search(line):
                    total += 1
                    kept.append(line)
    pages = max(1, ceil(total / LOG_PAGE))
    end = total - (page - 1) * LOG_PAGE
    # ``kept`` holds the last ``len(kept)`` matches: the page's lines are its oldest ones.
    first = len(kept) - (total - max(0, end - LOG_PAGE))
    chosen = list(kept)[max(0, first) : max(0, first) + max(0, min(LOG_PAGE, end))]
    items = [LogLine(line, parse_line(line)) for line in reversed(chosen)]
    return Page(items, page, pages, total)


__all__ = ["LOG_PAGE", "MAX_PAGE", "MAX_QUERY", "BadQuery", "LogLine", "search_log"]
