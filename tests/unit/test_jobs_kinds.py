"""Job kinds: rebuilding jobs from their JSON parameters, found lazily."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from entrepot.errors import BackendUnavailable, JobError
from entrepot.jobs import (
    build_job,
    job_factory,
    register_job_kind,
    registered_kinds,
    unregister_job_kind,
)
from entrepot.jobs.kinds import KINDS
from entrepot.jobs.testing import ScriptedJob


@pytest.fixture(autouse=True)
def _forget():  # type: ignore[no-untyped-def]
    yield
    for kind in ("t-one", "t-lazy"):
        unregister_job_kind(kind)


def test_register_and_rebuild() -> None:
    register_job_kind("t-one", ScriptedJob.from_params)
    assert "t-one" in registered_kinds()
    job = build_job("t-one", {"items": 5, "label": "x"})
    assert isinstance(job, ScriptedJob) and job.items == 5 and job.name == "x"
    assert build_job("t-one", job.params()).params() == job.params()


def test_registering_twice() -> None:
    register_job_kind("t-one", ScriptedJob.from_params)
    register_job_kind("t-one", ScriptedJob.from_params)  # same factory: harmless
    with pytest.raises(JobError, match="already registered"):
        register_job_kind("t-one", lambda params: ScriptedJob())
    register_job_kind("t-one", lambda params: ScriptedJob(items=9), replace=True)
    assert build_job("t-one", {}).params()["items"] == 9


@pytest.mark.parametrize("kind", ["", "Ship", "a b", "../x", "x" * 65])
def test_kind_names_are_plain(kind: str) -> None:
    with pytest.raises(ValueError):
        register_job_kind(kind, ScriptedJob.from_params)


def test_unknown_kinds_say_how_to_fix_it() -> None:
    with pytest.raises(JobError, match="register_job_kind"):
        job_factory("t-missing")


def test_a_factory_must_return_a_job() -> None:
    register_job_kind("t-one", lambda params: "not a job")  # type: ignore[arg-type,return-value]
    with pytest.raises(JobError, match="returned str"):
        build_job("t-one", {})


def test_builtin_kinds_are_imported_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lazy_jobs_mod.py").write_text(
        "from entrepot.jobs.testing import ScriptedJob\nfactory = ScriptedJob.from_params\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(KINDS._builtins, "t-lazy", "lazy_jobs_mod:factory")
    try:
        assert "lazy_jobs_mod" not in sys.modules
        assert isinstance(build_job("t-lazy", {}), ScriptedJob)
        assert "lazy_jobs_mod" in sys.modules
    finally:
        sys.modules.pop("lazy_jobs_mod", None)


def test_a_builtin_kind_whose_module_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(KINDS._builtins, "t-lazy", "no_such_module_here:factory")
    with pytest.raises(BackendUnavailable, match="needs no_such_module_here"):
        job_factory("t-lazy")


def test_builtin_kinds_are_not_registered_twice_on_import() -> None:
    # Importing a kind's module registers nothing: the duplicate check stays armed.
    import entrepot.datacenter
    import entrepot.ship  # noqa: F401

    with pytest.raises(JobError, match="already registered"):
        register_job_kind("t-one", ScriptedJob.from_params)
        register_job_kind("t-one", lambda params: ScriptedJob())
    assert job_factory("ship") == job_factory("ship")
