"""What a route tells provenance: one event per step of each file it moves.

A :class:`Trail` sits between a route and an optional
:class:`~entrepot.provenance.Recorder`; without one every call is free.  It
records, for each file: ``claimed`` (size and checksum), then ``delivered``
(remote name, size and checksum where the protocol gives one, the try of
the run) or ``skipped`` (identical on the target) or ``failed`` (reason and
code), then ``moved`` to ``cur/`` or ``deleted``; fetching records
``received``.

The content checksum (SHA-256) of a file is read from the ``received``
event of the file in this spool when Entrepôt received it (a spool's
publish, ``entrepot spool put``, a fetch as it downloaded, an archive as it
was written or compressed computed it as the bytes went by); only files
that another program put into ``new/``, or hard links (no byte passed), are
read once more for it, at their claim.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import threading
from collections.abc import Iterable, Iterator
from typing import IO, TYPE_CHECKING

from entrepot.jobs.lifecycle import Step, error_code
from entrepot.provenance.events import FileHistory, Kind, Outcome
from entrepot.provenance.journal import Then
from entrepot.spool import Claim
from entrepot.targets import RemoteInfo
from entrepot.targets.transfer import copy_stream

if TYPE_CHECKING:
    from entrepot.provenance import Recorder

__all__ = ["Trail", "sha256_of"]

#: Names per query when the known checksums are looked up.
_CHUNK = 500


def sha256_of(src: IO[bytes]) -> str:
    """``"sha256:<hex>"`` of ``src`` from its start; ``src`` is left at its start."""
    digest = hashlib.sha256()
    src.seek(0)
    copy_stream(src.read, digest.update)
    src.seek(0)
    return "sha256:" + digest.hexdigest()


class Trail:
    """The provenance of one route's files; see the module docstring."""

    def __init__(self, place: str, target: str, recorder: Recorder | None = None) -> None:
        self.place = place
        self.target = target
        self.recorder = recorder
        #: The instance named in ``delivered`` and ``received`` events (None: not named).
        self.instance: str | None = None
        self._known: dict[str, FileHistory] = {}
        self._lock = threading.Lock()

    @property
    def on(self) -> bool:
        return self.recorder is not None

    def learn(self, names: Iterable[str]) -> None:
        """Look up, in one query per few hundred names, each file's checksum at receipt
        and its failed deliveries so far (so that a retry is numbered as one)."""
        if self.recorder is None:
            return
        from entrepot.provenance.reader import file_histories

        wanted = list(names)
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            found = file_histories(self.recorder.engine, self.place, chunk)
            with self._lock:
                self._known.update(found)

    def _history(self, name: str) -> FileHistory:
        with self._lock:
            return self._known.get(name) or FileHistory(None, 0)

    def claimed(self, name: str, src: IO[bytes]) -> tuple[int, str] | None:
        """Record the claim of ``name`` read through ``src``; return its size and checksum."""
        if self.recorder is None:
            return None
        size = os.fstat(src.fileno()).st_size
        checksum = self._history(name).checksum or sha256_of(src)
        self.recorder.record(
            Kind.CLAIMED, self.place, name, size=size, checksum=checksum, attempt=self._try(name)
        )
        return size, checksum

    def _try(self, name: str) -> int:
        return self._history(name).failures + 1

    def delivered(
        self,
        claim: Claim,
        remote: str,
        info: RemoteInfo,
        local: tuple[int, str] | None,
        area: str | None,
        *,
        key: str | None = None,
    ) -> None:
        """Record the delivery of ``claim``'s file, announcing its move into ``area``
        (None: its deletion), which :meth:`local_step` records once done.  ``key``: the
        remote copy's full address (``s3://bucket/key``)."""
        if self.recorder is None:
            return
        name = claim.name
        size, checksum = local or (info.size, None)
        details = {
            "remote_name": info.name or remote,
            "remote_size": info.size,
            "remote_checksum": info.checksum,
            **self._fleet(key=key),
        }
        # Plain strings: path objects would cost more than the rest of the event.
        held, root = claim.file, self.place
        if area is None:
            then = Then(Kind.DELETED.value, "{}", [], [held, f"{root}/new/{name}"])
        else:
            then = Then(Kind.MOVED.value, _moved(area), [f"{root}/{area}/{name}"], [held])
        self.recorder.record(
            Kind.SKIPPED if info.kept else Kind.DELIVERED, self.place, name, size=size,
            checksum=checksum, outcome=Outcome.SKIPPED if info.kept else Outcome.OK,
            target=self.target, attempt=self._try(name), details=details, then=then,
        )  # fmt: skip

    def failed(self, name: str, remote: str, error: BaseException) -> None:
        if self.recorder is None:
            return
        interrupted = not isinstance(error, Exception)
        details = {
            "remote_name": remote,
            "reason": "interrupted" if interrupted else (str(error) or type(error).__name__),
            "error": type(error).__name__,
            "code": error_code(Step.SEND, error),
        }
        attempt = self._try(name)
        with self._lock:
            known = self._known.get(name) or FileHistory(None, 0)
            self._known[name] = FileHistory(known.checksum, known.failures + 1)
        self.recorder.record(
            Kind.FAILED, self.place, name, outcome=Outcome.FAILED,
            target=self.target, attempt=attempt, details=details,
        )  # fmt: skip

    @contextlib.contextmanager
    def local_step(self, name: str, area: str | None) -> Iterator[None]:
        """Around the move of a delivered file into ``area`` (None: its deletion), which
        :meth:`delivered` announced: recorded once done, settled either way."""
        recorder = self.recorder
        if recorder is None:
            yield
            return
        try:
            yield
            # Not journaled: the delivery's line announced it (and recovery checks it happened).
            if area is None:
                recorder.record(Kind.DELETED, self.place, name, journaled=False)
            else:
                recorder.record(Kind.MOVED, self.place, name, details=_moved(area), journaled=False)
        finally:
            recorder.settle()

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
