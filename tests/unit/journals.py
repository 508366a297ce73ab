"""A journal's writer killed, as the tests of recovery need it; a delivery's row made by
hand, as the tests of the rows the recorder makes compare them."""

from __future__ import annotations

import os

from entrepot.provenance.journal import COLUMNS, Journal, Row
from entrepot.provenance.steps import step_text

_DETAILS, _ATTEMPT = COLUMNS.index("details"), COLUMNS.index("attempt")
_THEN = COLUMNS.index("then_step")


def die(journal: Journal | None) -> None:
    """Let ``journal`` go as a process killed with ``kill -9`` would: its lines stay in the
    file (zeros after them included), its mapping and its lock go."""
    assert journal is not None and journal._fd is not None
    journal._unmap()
    os.close(journal._fd)
    journal._fd = None


def folded(delivery: Row, step: Row | str) -> Row:
    """``delivery``'s row keeping ``step``: the event of the step taken after it, or its
    :func:`~entrepot.provenance.steps.step_text` already (what the recorder writes)."""
    if not isinstance(step, str):
        step = step_text(step[1], step[0], step[_DETAILS], step[_ATTEMPT])
    return (*delivery[:_THEN], step, *delivery[_THEN + 1 :])
