"""Jobs: one lifecycle, one retry policy, one ledger and one backlog for all work.

A job is prepared, produces a number of items, sends them and cleans up
(:mod:`.lifecycle`).  A :class:`Runner` runs it under a :class:`RetryPolicy`
(:mod:`.retry`) on a :class:`Clock` (:mod:`.clock`), recording every run in a
:class:`Ledger` (:mod:`.ledger`, its tables in :mod:`.schema`, its records in
:mod:`.records` and :mod:`.states`, read-only summaries in :mod:`.summary`).  Jobs that keep
failing wait in the :class:`Backlog` (:mod:`.backlog`) and are rebuilt from
their JSON parameters by their registered kind (:mod:`.kinds`).  Job ids
sort by time (:mod:`.ids`); :mod:`.testing` has a job that fails on cue.
See ``docs/jobs.md``.

The names below are imported from their modules on first use: a command
that runs a job without a ledger, or only reads one, never imports
SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from entrepot.jobs.backlog import BACKLOG_STATES, Backlog, JobDetail
    from entrepot.jobs.clock import SYSTEM_CLOCK, Clock, FakeClock, SystemClock
    from entrepot.jobs.ids import JobIdFactory, job_id_time, new_job_id
    from entrepot.jobs.kinds import (
        JobFactory,
        build_job,
        job_factory,
        register_job_kind,
        registered_kinds,
        unregister_job_kind,
    )
    from entrepot.jobs.ledger import Ledger, ledger_url
    from entrepot.jobs.lifecycle import (
        STEP_CODES,
        Job,
        JobContext,
        LifecycleResult,
        Step,
        error_code,
        execute,
    )
    from entrepot.jobs.records import JobRecord, RunRecord
    from entrepot.jobs.retry import (
        DEFAULT_RERUNS,
        DEFAULT_RETRY,
        RetryDecision,
        RetryPolicy,
        RetryRecord,
    )
    from entrepot.jobs.runner import Runner, RunResult
    from entrepot.jobs.states import OPEN, WAITING, JobState, Outcome

#: Each public name → the module of this package that defines it.
_MODULES = {
    "backlog": ("BACKLOG_STATES", "Backlog", "JobDetail"),
    "clock": ("SYSTEM_CLOCK", "Clock", "FakeClock", "SystemClock"),
    "ids": ("JobIdFactory", "job_id_time", "new_job_id"),
    "kinds": (
        "JobFactory",
        "build_job",
        "job_factory",
        "register_job_kind",
        "registered_kinds",
        "unregister_job_kind",
    ),
    "ledger": ("Ledger", "ledger_url"),
    "lifecycle": (
        "STEP_CODES",
        "Job",
        "JobContext",
        "LifecycleResult",
        "Step",
        "error_code",
        "execute",
    ),
    "records": ("JobRecord", "RunRecord"),
    "states": ("OPEN", "WAITING", "JobState", "Outcome"),
    "retry": ("DEFAULT_RERUNS", "DEFAULT_RETRY", "RetryDecision", "RetryPolicy", "RetryRecord"),
    "runner": ("Runner", "RunResult"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "BACKLOG_STATES",
    "DEFAULT_RERUNS",
    "DEFAULT_RETRY",
    "OPEN",
    "STEP_CODES",
    "SYSTEM_CLOCK",
    "WAITING",
    "Backlog",
    "Clock",
    "FakeClock",
    "Job",
    "JobContext",
    "JobDetail",
    "JobFactory",
    "JobIdFactory",
    "JobRecord",
    "JobState",
    "Ledger",
    "LifecycleResult",
    "Outcome",
    "RetryDecision",
    "RetryPolicy",
    "RetryRecord",
    "RunRecord",
    "RunResult",
    "Runner",
    "Step",
    "SystemClock",
    "build_job",
    "error_code",
    "execute",
    "job_factory",
    "job_id_time",
    "ledger_url",
    "new_job_id",
    "register_job_kind",
    "registered_kinds",
    "unregister_job_kind",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
