"""The cstbox facade's ``run()`` arguments and ``ExportError`` subcodes, held to pycstbox's code.

pycstbox (``lib/python/pycstbox/export.py``) accepts ``max_try`` and
``retry_delay`` when the value equals its ``int()`` and is above zero, so
``True`` passes as 1; the facade refused booleans with ValueError.  pycstbox
computes the subcode as ``subcode % 100``, which fails with a TypeError for a
text; the facade read ``'5'`` as 5.  Both now go as in pycstbox.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from entrepot.compat.cstbox import ERR_NONE, ERR_SEND, ExportError
from tests.unit.test_compat_cstbox import RecordingJob


@pytest.mark.parametrize(
    ("max_try", "retry_delay"), [(True, 10), (1, True), (True, True), (2.0, Decimal(3))]
)
def test_values_equal_to_a_positive_whole_number_are_accepted(
    max_try: Any, retry_delay: Any
) -> None:
    """pycstbox checks ``value == int(value) and value > 0``: True is 1, 2.0 is 2."""
    job = RecordingJob()
    assert job.run(max_try=max_try, retry_delay=retry_delay) == ERR_NONE
    assert job.calls == ["prepare", "export", "send"]


def test_true_as_max_try_is_one_try() -> None:
    job = RecordingJob(send_failures=[ExportError("blip")])
    assert job.run(max_try=True, retry_delay=True) == ERR_SEND
    assert job.calls.count("send") == 1 and job.clock.sleeps == []


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "abc", "2"])
def test_values_that_are_no_whole_number_are_still_a_value_error(value: Any) -> None:
    with pytest.raises(ValueError, match="invalid max_try"):
        RecordingJob().run(max_try=value)
    with pytest.raises(ValueError, match="invalid retry_delay"):
        RecordingJob().run(retry_delay=value)


def test_a_value_that_is_no_number_at_all_is_a_type_error() -> None:
    """pycstbox's ``int(None)`` raises TypeError before any step runs."""
    job = RecordingJob()
    with pytest.raises(TypeError):
        job.run(max_try=None)  # type: ignore[arg-type]
    assert job.calls == []


@pytest.mark.parametrize("subcode", ["5", b"5"])
def test_a_subcode_given_as_text_is_a_type_error(subcode: Any) -> None:
    """pycstbox computes ``subcode % 100``; with a text that is string formatting,
    which fails with TypeError rather than reading a number."""
    with pytest.raises(TypeError, match="subcode"):
        ExportError("m", subcode=subcode)


def test_numeric_subcodes_are_kept_within_zero_to_ninety_nine() -> None:
    assert [ExportError("m", s).subcode for s in (7, 107, True, -5, 5.0)] == [7, 7, 1, 95, 5]
