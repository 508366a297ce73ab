"""A JSON log record is one line for every reader.

``json.dumps(..., ensure_ascii=False)`` writes U+2028 and U+2029 as they are;
JavaScript, many editors and some log shippers end a line there, so a file
name holding one split a record in two.  They are written as their escapes,
which every JSON reader reads back as the same characters.
"""

from __future__ import annotations

import json
import logging

from entrepot.logs import log_event
from entrepot.service.logformat import JsonFormatter


def test_line_and_paragraph_separators_are_escaped() -> None:
    records: list[logging.LogRecord] = []
    logger = logging.getLogger("entrepot.test.separators")
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        log_event(logger, "ship.file_sent", name="a\u2028b\u2029c.csv")
    finally:
        logger.removeHandler(handler)
    line = JsonFormatter().format(records[0])
    assert "\u2028" not in line and "\u2029" not in line
    assert len(line.splitlines()) == 1
    assert json.loads(line)["name"] == "a\u2028b\u2029c.csv"
