"""A scripted job for tests: it fails when and how it is told to.

``ScriptedJob(items=3, fail={"send": ["transient", "transient"]})`` fails its
first two sends with a transient error and then succeeds; every step call is
written to :attr:`ScriptedJob.calls` and the error given to ``cleanup`` to
:attr:`ScriptedJob.cleaned`.  Error names: ``transient``
(:class:`~entrepot.errors.ConnectionFailed`), ``timeout``
(:class:`~entrepot.errors.TargetTimeout`), ``permanent``
(:class:`~entrepot.errors.AuthenticationFailed`), ``bug``
(:class:`RuntimeError`), ``ok`` (no error that time).

``identity="route-a"`` makes jobs of the same identity one piece of work
(see :meth:`Job.identity`).

``outage="path"`` simulates an outage that outlives the job object: while
that file exists every send fails with a transient error.  Since the script
is part of the parameters, a job rebuilt from the ledger fails the same way;
removing the file ends the outage for every later run.

Importing this module registers the kind ``scripted``, so a scripted job left
in a ledger can be re-run by ``entrepot backlog retry`` like any other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from entrepot.errors import AuthenticationFailed, ConnectionFailed, JobFailed, TargetTimeout
from entrepot.jobs.lifecycle import Job, JobContext

_ERRORS: Mapping[str, type[Exception]] = {
    "transient": ConnectionFailed,
    "timeout": TargetTimeout,
    "permanent": AuthenticationFailed,
    "bug": RuntimeError,
}


class ScriptedJob(Job):
    """A job whose steps fail on cue; see the module docstring."""

    kind = "scripted"

    def __init__(
        self,
        items: int = 1,
        fail: Mapping[str, Sequence[str]] | None = None,
        item_bytes: int = 0,
        label: str = "scripted",
        outage: str | None = None,
        identity: str | None = None,
    ) -> None:
        self.items = items
        self.fail = {step: list(errors) for step, errors in (fail or {}).items()}
        for errors in self.fail.values():
            unknown = set(errors) - set(_ERRORS) - {"ok"}
            if unknown:
                raise ValueError(f"unknown scripted errors: {sorted(unknown)}")
        self.item_bytes = item_bytes
        self.label = label
        self.outage = outage
        self._identity = identity
        self._left = {step: list(errors) for step, errors in self.fail.items()}
        self.calls: list[str] = []
        self.cleaned: list[JobFailed | None] = []

    @property
    def name(self) -> str:
        return self.label

    def identity(self) -> str | None:
        return self._identity

    def params(self) -> dict[str, Any]:
        params = {
            "items": self.items,
            "fail": self.fail,
            "item_bytes": self.item_bytes,
            "label": self.label,
            "outage": self.outage,
        }
        if self._identity is not None:
            params["identity"] = self._identity
        return params

    def _step(self, step: str) -> None:
        self.calls.append(step)
        left = self._left.get(step)
        if left:
            error = left.pop(0)
            if error != "ok":
                raise _ERRORS[error](f"scripted {error} failure in {step}")

    def prepare(self, ctx: JobContext) -> None:
        self._step("prepare")

    def produce(self, ctx: JobContext) -> int:
        self._step("produce")
        return self.items

    def send(self, ctx: JobContext) -> None:
        self._step("send")
        if self.outage is not None and os.path.exists(self.outage):
            raise ConnectionFailed("scripted outage")
        ctx.add_bytes(self.items * self.item_bytes)

    def cleanup(self, ctx: JobContext, error: JobFailed | None) -> None:
        self.cleaned.append(error)
        self._step("cleanup")
