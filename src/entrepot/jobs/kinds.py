"""Job kinds: how a job is rebuilt from the JSON parameters in the ledger.

A job that fails waits in the backlog as a row: its kind and its parameters.
To re-run it — maybe from another process, days later — the kind's factory
turns the parameters back into a :class:`~entrepot.jobs.lifecycle.Job`::

    register_job_kind("ship", ShipJob.from_params)

Kinds are found through one :class:`~entrepot.plugins.PluginRegistry`: those
registered in this process; the built-in kinds of Entrepôt, whose factory is
imported on first use; and the ``entrepot.jobs`` entry-point group, whose
entries name a factory (``kind = "package.module:factory"``) for third-party
jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from entrepot.errors import JobError
from entrepot.jobs.lifecycle import Job
from entrepot.plugins import PluginRegistry

#: Rebuilds a job from its parameters.
JobFactory = Callable[[dict[str, Any]], Job]

#: Entry-point group for job kinds from other packages.
ENTRY_POINT_GROUP = "entrepot.jobs"


def _factory(value: Any) -> JobFactory:
    if not callable(value):
        raise TypeError(f"{value!r} is not callable")
    return value  # type: ignore[no-any-return]


#: Kind → factory: built-ins (imported on first use), then plug-ins.
KINDS: PluginRegistry[JobFactory] = PluginRegistry(
    "job kind",
    ENTRY_POINT_GROUP,
    {
        # Rebuilt by the service's module: a job made from configured names is
        # rebuilt from the configuration file as it is at the re-run.
        "ship": "entrepot.service.named:ship_from_params",
        "fetch": "entrepot.service.named:fetch_from_params",
        "import": "entrepot.datacenter.imports.import_job:ImportJob.from_params",
        "scripted": "entrepot.jobs.testing:ScriptedJob.from_params",
    },
    check=_factory,
    error=JobError,
    hint="register it with register_job_kind()",
    name_pattern=r"[a-z][a-z0-9_.-]{0,63}",
)


def register_job_kind(kind: str, factory: JobFactory, *, replace: bool = False) -> None:
    """Make ``kind`` rebuildable by ``factory(params) -> Job``.

    Registering a kind twice with different factories is an error unless
    ``replace`` is true; registering the same factory again is harmless.
    """
    KINDS.register(kind, factory, replace=replace)


def unregister_job_kind(kind: str) -> None:
    """Forget a registered ``kind`` (tests use this to stay independent)."""
    KINDS.unregister(kind)


def registered_kinds() -> list[str]:
    """Every kind that can be rebuilt: built-ins, registered and plug-ins."""
    return KINDS.names()


def job_factory(kind: str) -> JobFactory:
    """The factory of ``kind``, importing its module or entry point on first use."""
    return KINDS.load(kind)


def build_job(kind: str, params: Mapping[str, Any]) -> Job:
    """Rebuild a job of ``kind`` from its stored parameters."""
    job = job_factory(kind)(dict(params))
    if not isinstance(job, Job):
        raise JobError(f"the factory of job kind {kind!r} returned {type(job).__name__}")
    return job
