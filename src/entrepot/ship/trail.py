"""What a route tells provenance: one event per step of each file it moves.

A :class:`Trail` sits between a route and an optional
:class:`~entrepot.provenance.Recorder`; without one every call is free.  It
records, for each file: ``claimed`` (size and checksum), then ``delivered``
(remote name, size and checksum where the protocol gives one, the try of
the run) or ``skipped`` (identical on the target) or ``failed`` (reason and
code), then ``moved`` to ``cur/`` or ``deleted``; fetching records
``received``.  The claim is noted in memory (its time, size, checksum and
try) and recorded with the transfer's outcome, in one journal line written
before the file leaves ``claimed/``: one line per file.  A delivery's row
keeps its claim, the move once it is made, and the file's receipt when the
recorder kept it (:mod:`entrepot.provenance.held`): one row per shipped
file, read back as three or four events (:mod:`entrepot.provenance.steps`).
What the deliveries of a run share is given once, as a template
(:mod:`entrepot.provenance.deliveries`): per file, the shipper's thread
only notes the file's own values.  A transfer
cut short by a crash leaves no trace of its claim — the file goes back to
``new/`` and its next claim is recorded.

The content checksum (SHA-256) of a file is read from the ``received``
event of the file in this spool when Entrepôt received it (a spool's
publish, ``entrepot spool put``, a fetch as it downloaded, an archive as it
was written or compressed computed it as the bytes went by) — for a file
put since the ledger was last opened, from the receipts the recorder added
from the journals as it opened, without asking the database; for files
that another program put into ``new/``, or hard links (no byte passed), it
is taken from the reads of their upload (:class:`~entrepot.targets.tap.Tap`),
read beside the transfer where the bytes leave without passing through
Python (plain FTP's ``sendfile``, S3's multipart upload by the file's name),
and read once more only where the upload did not read them all in order
(or no hasher was free to read beside it).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, NamedTuple

from entrepot.jobs.lifecycle import Step, error_code
from entrepot.provenance.deliveries import Delivery, Template
from entrepot.provenance.events import FileHistory, Kind, Outcome
from entrepot.provenance.journal import HOST, OUTCOME_TEXT, Row, event_row
from entrepot.redact import SECRET_MARKS, is_utf8, mask_secrets
from entrepot.spool import Claim
from entrepot.targets import RemoteInfo
from entrepot.targets.tap import Tap

if TYPE_CHECKING:
    from entrepot.provenance import Recorder

__all__ = ["Claimed", "Trail", "sha256_of"]

#: Names per query when the known checksums are looked up (each twice in it: under
#: SQLite's oldest limit of 999 values).
_CHUNK = 400
#: Bytes read at a time when a file is hashed.
_READ = 1024 * 1024
#: Delivery templates a trail keeps (a few per run).
_TEMPLATES = 64
# The kinds' texts: an enum member's value costs a descriptor call, several per file.
_CLAIMED, _FAILED = Kind.CLAIMED.value, Kind.FAILED.value
_DELIVERED, _SKIPPED = Kind.DELIVERED.value, Kind.SKIPPED.value
_MOVED, _DELETED = Kind.MOVED.value, Kind.DELETED.value
_NOTHING_KNOWN = FileHistory(None, 0)
# A named tuple made from its values as a tuple: without the Python call its class makes.
_made = tuple.__new__


def sha256_of(src: IO[bytes], size: int | None = None) -> str:
    """``"sha256:<hex>"`` of ``src`` from its start, read by position (``src`` does not move):
    its first ``size`` bytes when given (one read for a small file, not two)."""
    digest = hashlib.sha256()
    fd, offset = src.fileno(), 0
    while size is None or offset < size:
        want = _READ if size is None else min(_READ, size - offset)
        chunk = os.pread(fd, want, offset)
        if not chunk:
            break
        digest.update(chunk)
        offset += len(chunk)
    return "sha256:" + digest.hexdigest()


class Claimed(NamedTuple):
    """A claim as noted when it was made, recorded with the transfer's outcome."""

    size: int
    checksum: str | None
    #: In microseconds since the epoch (:func:`~entrepot.provenance.deliveries.now`).
    at: int
    attempt: int
    #: Hashes the file as its upload reads it, when its checksum is not known yet.
    tap: Tap | None = None


class Trail:
    """The provenance of one route's files; see the module docstring."""

    def __init__(self, place: str, target: str, recorder: Recorder | None = None) -> None:
        self.place = place
        self.target = target
        self.recorder = recorder
        self._instance: str | None = None
        self._known: dict[str, FileHistory] = {}
        self._lock = threading.Lock()
        #: Delivery templates by what makes them (see :meth:`_template`).
        self._templates: dict[tuple[object, ...], Template] = {}

    @property
    def instance(self) -> str | None:
        """The instance named in ``delivered`` and ``received`` events (None: not named)."""
        return self._instance

    @instance.setter
    def instance(self, instance: str | None) -> None:
        with self._lock:
            self._instance = instance
            self._templates = {}  # they name the instance

    @property
    def on(self) -> bool:
        return self.recorder is not None

    def learn(self, names: Iterable[str]) -> None:
        """Look up, in one query per few hundred names, each file's checksum at receipt
        and its failed deliveries so far (so that a retry is numbered as one) — unless
        no file of this spool was ever received or failed.

        A file whose receipt the recorder added as it opened (put into the spool
        since the ledger was last opened) is not looked up: that receipt is its
        last, and no delivery of it failed since.  It is taken from the recorder
        once: a later look-up of the file (a retry) asks the database, which by
        then has the failures of this run.
        """
        if self.recorder is None:
            return
        from entrepot.provenance.reader import any_history, file_histories

        receipts, place = self.recorder.receipts, self.place
        received, wanted = {}, []
        for name in names:
            receipt = receipts.pop((place, name), None)  # atomic: sessions share it
            if receipt is not None:
                received[name] = FileHistory(receipt[1], 0)
            elif is_utf8(name):  # else a name never shipped (skipped): no history
                wanted.append(name)
        with self._lock:
            self._known.update(received)
        if not wanted or not any_history(self.recorder.engine, place):
            return
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            found = file_histories(self.recorder.engine, self.place, chunk)
            with self._lock:
                self._known.update(found)

    def _history(self, name: str) -> FileHistory:
        # Read without the lock: a dict's get is atomic, and entries are replaced whole.
        return self._known.get(name) or _NOTHING_KNOWN

    def claimed(self, name: str, size: int) -> Claimed | None:
        """Note the claim of ``name`` (``size`` bytes): its time, size, try and checksum —
        known from its receipt, else taken by the claim's :attr:`~Claimed.tap` from
        the upload's reads (then completed by :meth:`summed`).

        Recorded by :meth:`delivered` or :meth:`failed`, with the outcome.
        """
        if self.recorder is None:
            return None
        checksum, failures = self._known.get(name) or _NOTHING_KNOWN
        tap = None if checksum else Tap(size)
        return _made(Claimed, (size, checksum, time.time_ns() // 1000, failures + 1, tap))

    def summed(
        self, claimed: Claimed | None, src: IO[bytes], *, read: bool = True
    ) -> Claimed | None:
        """``claimed`` with its checksum: the tap's, or else ``src`` read for it (its
        first ``size`` bytes) if ``read``; None if even that fails (the upload's error
        is told)."""
        if claimed is None:
            return None
        size, _, at, attempt, tap = claimed
        if tap is None:
            return claimed
        checksum = tap.checksum()
        if checksum is None and read:
            try:
                checksum = sha256_of(src, size)
            except (OSError, ValueError):
                checksum = None
        return _made(Claimed, (size, checksum, at, attempt, None))

    def _claim_row(self, name: str, claimed: Claimed) -> Row:
        assert self.recorder is not None
        return event_row(
            _CLAIMED, self.place, name, size=claimed.size, checksum=claimed.checksum,
            job_id=self.recorder.job_id, attempt=claimed.attempt, at=claimed.at / 1e6,
        )  # fmt: skip

    def delivered(
        self,
        claim: Claim,
        remote: str,
        info: RemoteInfo,
        local: Claimed | None,
        area: str | None,
        *,
        key: str | None = None,
    ) -> int | None:
        """Record the claim and the delivery of ``claim``'s file, announcing its move into
        ``area`` (None: its deletion), which :meth:`settled` records once done, given
        the ticket returned here.  ``key``: the remote copy's address (``s3://bucket/key``)."""
        recorder = self.recorder
        if recorder is None:
            return None
        name = claim.name
        claimed_at = None if local is None else local.at
        if local is None:  # not claimed through this trail: what the target says
            local = Claimed(info.size, None, 0, self._try(name))
        # The remote's values as they are (texts masked): their details text is written
        # with the batch (:func:`~entrepot.provenance.deliveries.remote_details`).  Once
        # per file: the texts without a mark of a secret skip the call, ``now()`` is inline.
        remote, checksum = info.name or remote, info.checksum
        if not SECRET_MARKS.isdisjoint(remote):
            remote = mask_secrets(remote)
        if checksum is not None and not SECRET_MARKS.isdisjoint(checksum):
            checksum = mask_secrets(checksum)
        if key is not None and not SECRET_MARKS.isdisjoint(key):
            key = mask_secrets(key)
        delivery = _made(Delivery, (
            name, local.size, local.checksum, claimed_at, time.time_ns() // 1000,
            local.attempt, remote, info.size, checksum, key, claim.file,
        ))  # fmt: skip
        template = self._templates.get((recorder.job_id, recorder.attempt, info.kept, area))
        if template is None:
            template = self._template(recorder, info.kept, area)
        return recorder.deliver(template, delivery)

    def _template(self, recorder: Recorder, kept: bool, area: str | None) -> Template:
        """What this route's deliveries share in ``recorder``'s run (made once)."""
        key = (recorder.job_id, recorder.attempt, kept, area)
        found = self._templates.get(key)
        if found is None:
            if len(self._templates) >= _TEMPLATES:  # a service's route, run after run
                self._templates.clear()
            kind, outcome = (_SKIPPED, Outcome.SKIPPED) if kept else (_DELIVERED, Outcome.OK)
            then_kind, then_details = (_DELETED, "{}") if area is None else (_MOVED, _moved(area))
            found = Template(
                kind, OUTCOME_TEXT[outcome], self.place,
                mask_secrets(self.target) if self.target else None, recorder.job_id, HOST,
                then_kind, then_details, area, recorder.attempt,
                mask_secrets(self.instance) if self.instance else None,
            )  # fmt: skip
            with self._lock:
                found = self._templates.setdefault(key, found)
        return found

    def _try(self, name: str) -> int:
        return self._history(name).failures + 1

    def failed(
        self, name: str, remote: str, error: BaseException, local: Claimed | None = None
    ) -> None:
        """Record the failed delivery of ``name`` (and its claim, ``local``, if it was made)."""
        recorder = self.recorder
        if recorder is None:
            return
        interrupted = not isinstance(error, Exception)
        details = {
            "remote_name": remote,
            "reason": "interrupted" if interrupted else (str(error) or type(error).__name__),
            "error": type(error).__name__,
            "code": error_code(Step.SEND, error),
        }
        attempt = self._try(name) if local is None else local.attempt
        with self._lock:
            known = self._known.get(name) or FileHistory(None, 0)
            self._known[name] = FileHistory(known.checksum, known.failures + 1)
        row = event_row(
            _FAILED, self.place, name, job_id=recorder.job_id, outcome=Outcome.FAILED,
            target=self.target, attempt=attempt, details=details,
        )  # fmt: skip
        rows = [row] if local is None else [self._claim_row(name, local), row]
        recorder.add(rows)

    def settled(self, ticket: int | None, *, taken: bool = True) -> None:
        """After the move (or deletion) of a delivered file, which :meth:`delivered`
        announced (``ticket``): recorded in the delivery's row if it was ``taken``, else
        the delivery alone."""
        recorder = self.recorder
        if recorder is not None:
            # Not journaled: the delivery's line announced it (recovery checks it happened).
            # now(), without its call: once per file shipped.
            recorder.settle(time.time_ns() // 1000 if taken else None, ticket=ticket)

    def received(
        self, name: str, size: int, source: str, checksum: str | None = None, **fleet: str | None
    ) -> None:
        """Record the arrival of ``name``; ``fleet``: ``key`` and ``etag`` of a claimed fetch."""
        if self.recorder is not None:
            self.recorder.record(
                Kind.RECEIVED, self.place, name, size=size, checksum=checksum,
                details={"source": source, **self._fleet(**fleet)},
            )  # fmt: skip

    def _fleet(self, **known: str | None) -> dict[str, str]:
        """The details that follow a file across a fleet: instance, key, version."""
        found = {"instance": self.instance, **known}
        return {key: value for key, value in found.items() if value}

    def flush(self) -> None:
        if self.recorder is not None:
            self.recorder.flush()


@functools.cache
def _moved(area: str) -> str:
    """The details of a move into ``area``, as the JSON text events keep."""
    return json.dumps({"to": area})
