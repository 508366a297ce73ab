"""Job ids that sort by creation time and never repeat.

An id reads as its UTC creation time to the millisecond, a sequence number
and a random tail::

    20261123T183632.123Z-000000-5f2a9c1e

Sorting ids as plain strings sorts jobs by creation time.  Within one
process, ids made in the same millisecond get increasing sequence numbers
(the sequence carries into the next millisecond if it ever overflows, and a
wall clock stepping backwards never makes an id sort before an earlier one);
the random tail keeps ids from different processes or hosts apart.  Ids are
computed when asked, never once at import.
"""

from __future__ import annotations

import re
import secrets
import threading
from datetime import UTC, datetime

from entrepot.jobs.clock import SYSTEM_CLOCK, Clock

_SEQ_LIMIT = 1_000_000
_ID_RE = re.compile(r"^(\d{8}T\d{6}\.\d{3})Z-(\d{6})-([0-9a-f]{8})$")


class JobIdFactory:
    """Makes job ids from a clock; thread-safe."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last_ms = -1
        self._seq = 0

    def __call__(self) -> str:
        now = self._clock.now()
        ms = int(now.timestamp() * 1000)
        with self._lock:
            if ms <= self._last_ms:
                # Same millisecond (or the wall clock went back): keep counting
                # from the last id so that order and uniqueness both hold.
                ms = self._last_ms
                self._seq += 1
                if self._seq >= _SEQ_LIMIT:
                    ms += 1
                    self._seq = 0
            else:
                self._seq = 0
            self._last_ms = ms
            seq = self._seq
        return format_job_id(ms, seq, secrets.token_hex(4))


def format_job_id(epoch_ms: int, seq: int, tail: str) -> str:
    """Spell an id from its parts (``tail`` is 8 lower-case hex digits)."""
    when = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return f"{when:%Y%m%dT%H%M%S}.{epoch_ms % 1000:03d}Z-{seq:06d}-{tail}"


def job_id_time(job_id: str) -> datetime:
    """The creation time written in an id made by :func:`new_job_id`."""
    match = _ID_RE.match(job_id)
    if match is None:
        raise ValueError(f"not an entrepot job id: {job_id!r}")
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)


_default = JobIdFactory()


def new_job_id() -> str:
    """A fresh id from the system clock: unique, and sorting after every earlier one."""
    return _default()
