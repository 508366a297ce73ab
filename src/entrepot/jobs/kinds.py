"""Job kinds: how a job is rebuilt from the JSON parameters in the ledger.

A job that fails waits in the backlog as a row: its kind and its parameters.
To re-run it — maybe from another process, days later — the kind's factory
turns the parameters back into a :class:`~entrepot.jobs.lifecycle.Job`::

    register_job_kind("ship", ShipJob.from_params)

Kinds are found three ways, in order: registered in this process; the
built-in kinds of Entrepôt, whose module is imported on first use (importing
it registers the kind); and the ``entrepot.jobs`` entry-point group, whose
entries name a factory (``kind = "package.module:factory"``) for third-party
jobs.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

from entrepot.errors import JobError
from entrepot.jobs.lifecycle import Job

#: Rebuilds a job from its parameters.
JobFactory = Callable[[dict[str, Any]], Job]

#: Entry-point group for job kinds from other packages.
ENTRY_POINT_GROUP = "entrepot.jobs"

#: Built-in kinds and the module whose import registers each.
BUILTIN_KINDS: Mapping[str, str] = {
    "ship": "entrepot.ship",
    "fetch": "entrepot.ship",
    "import": "entrepot.datacenter",
    "scripted": "entrepot.jobs.testing",
}

_KIND_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_registry: dict[str, JobFactory] = {}
_lock = threading.Lock()


def register_job_kind(kind: str, factory: JobFactory, *, replace: bool = False) -> None:
    """Make ``kind`` rebuildable by ``factory(params) -> Job``.

    Registering a kind twice with different factories is an error unless
    ``replace`` is true; registering the same factory again is harmless (a
    module imported twice).
    """
    if not _KIND_RE.match(kind):
        raise ValueError(f"job kind {kind!r} must be lower-case letters, digits, '_', '-', '.'")
    with _lock:
        known = _registry.get(kind)
        if known is not None and known != factory and not replace:
            raise JobError(f"job kind {kind!r} is already registered")
        _registry[kind] = factory


def unregister_job_kind(kind: str) -> None:
    """Forget ``kind`` (tests use this to stay independent)."""
    with _lock:
        _registry.pop(kind, None)


def registered_kinds() -> list[str]:
    with _lock:
        return sorted(_registry)


def job_factory(kind: str) -> JobFactory:
    """The factory of ``kind``, loading its module or entry point on first use."""
    with _lock:
        factory = _registry.get(kind)
    if factory is not None:
        return factory
    module = BUILTIN_KINDS.get(kind)
    if module is not None:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise JobError(f"job kind {kind!r} needs module {module}: {exc}") from exc
    else:
        for entry in entry_points(group=ENTRY_POINT_GROUP, name=kind):
            register_job_kind(kind, entry.load())
            break
    with _lock:
        factory = _registry.get(kind)
    if factory is None:
        raise JobError(f"unknown job kind {kind!r}; register it with register_job_kind()")
    return factory


def build_job(kind: str, params: Mapping[str, Any]) -> Job:
    """Rebuild a job of ``kind`` from its stored parameters."""
    job = job_factory(kind)(dict(params))
    if not isinstance(job, Job):
        raise JobError(f"the factory of job kind {kind!r} returned {type(job).__name__}")
    return job
