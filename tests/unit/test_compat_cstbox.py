"""The pycstbox export API over entrepot.jobs: the seed's return codes and its backlog."""

from __future__ import annotations

import json
import logging
import os
import pickle
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from entrepot.compat import cstbox
from entrepot.compat.cstbox import (
    ERR_EXPORT_EVENTS,
    ERR_NONE,
    ERR_PREPARE,
    ERR_SEND,
    Backlog,
    EventsExportJob,
    ExportError,
)
from entrepot.jobs import FakeClock


class RecordingJob(EventsExportJob):
    """An export job whose steps fail on cue and which notes every call."""

    def __init__(
        self,
        *,
        events: int = 10,
        fail_prepare: ExportError | None = None,
        fail_export: Exception | None = None,
        send_failures: list[Exception] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        super().__init__("test-export", "150619170736", {"target": "x"}, logger)
        self.clock = FakeClock()
        self.events = events
        self.fail_prepare = fail_prepare
        self.fail_export = fail_export
        self.send_failures = list(send_failures or [])
        self.calls: list[str] = []
        self.cleanups: list[tuple[Any, ...]] = []

    def prepare(self) -> None:
        self.calls.append("prepare")
        if self.fail_prepare:
            raise self.fail_prepare

    def export_events(self) -> int:
        self.calls.append("export")
        if self.fail_export:
            raise self.fail_export
        return self.events

    def send_data(self) -> None:
        self.calls.append("send")
        if self.send_failures:
            raise self.send_failures.pop(0)

    def cleanup(self, *args: Any) -> None:
        self.cleanups.append(args)


def test_the_codes_are_the_seeds() -> None:
    assert (ERR_NONE, ERR_PREPARE, ERR_EXPORT_EVENTS, ERR_SEND) == (0, 100, 200, 300)
    assert EventsExportJob.ERR_SEND == 300 and EventsExportJob.ERR_PREPARE == 100


def test_success() -> None:
    job = RecordingJob()
    assert job.run() == ERR_NONE
    assert job.calls == ["prepare", "export", "send"]
    assert job.cleanups == [()]  # cleanup() with no error
    assert job.last_error is None
    assert job.job_id == "150619170736"


def test_no_events_ends_well_without_sending() -> None:
    job = RecordingJob(events=0)
    assert job.run() == ERR_NONE
    assert job.calls == ["prepare", "export"]
    assert job.cleanups == [()]


@pytest.mark.parametrize("events", [-1, 0.5, True])
def test_a_count_that_is_not_null_is_sent(events: Any) -> None:
    """ "send_data … called if export_events() returns a not null event count"."""
    job = RecordingJob(events=events)
    assert job.run() == ERR_NONE
    assert job.calls == ["prepare", "export", "send"]


def test_prepare_failure_returns_its_code_plus_subcode() -> None:
    error = ExportError("no disk", 3)
    job = RecordingJob(fail_prepare=error)
    assert job.run(max_try=5, retry_delay=1) == 103
    assert job.calls == ["prepare"]  # only sending is retried
    assert job.last_error is error
    assert job.cleanups == [(error,)]
    assert job.clock.sleeps == []


def test_export_failure_returns_its_code() -> None:
    error = ExportError("bad query")
    job = RecordingJob(fail_export=error)
    assert job.run(max_try=3) == ERR_EXPORT_EVENTS
    assert job.calls == ["prepare", "export"]
    assert job.cleanups == [(error,)]


def test_send_is_retried_max_try_times_retry_delay_apart() -> None:
    failures: list[Exception] = [ExportError("down", 42) for _ in range(3)]
    job = RecordingJob(send_failures=failures[:])
    assert job.run(max_try=3, retry_delay=7) == 342
    assert job.calls == ["prepare", "export", "send", "send", "send"]
    assert job.clock.sleeps == [7, 7]
    assert job.last_error is failures[2]
    assert job.cleanups == [(failures[2],)]


def test_send_succeeding_on_a_later_try_is_a_success() -> None:
    job = RecordingJob(send_failures=[ExportError("blip")])
    assert job.run(max_try=2, retry_delay=10) == ERR_NONE
    assert job.calls.count("send") == 2
    assert job.clock.sleeps == [10]
    assert job.last_error is None
    assert job.cleanups == [()]


def test_one_try_by_default() -> None:
    job = RecordingJob(send_failures=[ExportError("blip")])
    assert job.run() == ERR_SEND
    assert job.calls.count("send") == 1 and job.clock.sleeps == []


def test_last_error_is_reset_by_a_new_run() -> None:
    job = RecordingJob(send_failures=[ExportError("blip")])
    assert job.run() == ERR_SEND
    assert job.run() == ERR_NONE
    assert job.last_error is None


def test_subcodes_stay_below_one_hundred() -> None:
    assert ExportError("x", 105).subcode == 5
    assert ExportError("x").subcode == 0
    assert str(ExportError("the message")) == "the message"


def test_other_exceptions_still_reach_cleanup_then_propagate() -> None:
    bug = KeyError("oops")
    job = RecordingJob(fail_export=bug)
    with pytest.raises(KeyError):
        job.run(max_try=3)
    assert job.cleanups == [(bug,)]
    assert job.last_error is bug


@pytest.mark.parametrize(
    ("max_try", "retry_delay"), [(0, 10), (-1, 10), (1.5, 10), (1, 0), (1, 2.5), ("2", 10)]
)
def test_invalid_run_parameters(max_try: Any, retry_delay: Any) -> None:
    with pytest.raises(ValueError):
        RecordingJob().run(max_try=max_try, retry_delay=retry_delay)


@pytest.mark.parametrize(
    ("name", "jobid", "parms"), [("", "1", {}), ("n", "", {}), ("n", "1", None)]
)
def test_mandatory_constructor_parameters(name: str, jobid: str, parms: Any) -> None:
    with pytest.raises(ValueError):
        EventsExportJob(name, jobid, parms)


def test_abstract_steps_must_be_written() -> None:
    job = EventsExportJob("n", "1", {})
    with pytest.raises(NotImplementedError):
        job.run()


def test_make_jobid_formats_and_reads_the_clock_when_called() -> None:
    assert EventsExportJob.make_jobid(datetime(2015, 6, 19, 17, 7, 36, 658131)) == "150619170736"
    paris = timezone(timedelta(hours=2))
    assert EventsExportJob.make_jobid(datetime(2015, 6, 19, 19, 7, 36, tzinfo=paris)) == (
        "150619170736"
    )
    before = datetime.now(UTC).replace(microsecond=0)
    made = EventsExportJob.make_jobid()
    after = datetime.now(UTC)
    stamp = datetime.strptime(made, "%y%m%d%H%M%S").replace(tzinfo=UTC)
    assert before <= stamp <= after


def test_the_given_logger_gets_the_lifecycle_lines(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("my.export")
    with caplog.at_level(logging.INFO, logger="my.export"):
        RecordingJob(events=0, logger=log).run()
    events = [getattr(r, "event", None) for r in caplog.records if r.name == "my.export"]
    assert events[0] == "cstbox.job_created"
    assert "cstbox.no_events" in events and events[-1] == "cstbox.job_completed"


# -- Backlog -----------------------------------------------------------------------


def test_backlog_is_a_mapping_persisted_as_json(tmp_path: Path) -> None:
    backlog = Backlog("exports", root=tmp_path)
    assert backlog.is_empty() and len(backlog) == 0
    backlog["150619170736"] = {"from": "2015-06-19", "count": 3}
    backlog["150619170500"] = ["a", 1]
    assert len(backlog) == 2 and not backlog.is_empty()
    assert list(backlog) == ["150619170500", "150619170736"]  # chronological
    assert backlog["150619170736"] == {"from": "2015-06-19", "count": 3}
    assert "150619170500" in backlog and "nope" not in backlog
    stored = tmp_path / "exports" / "150619170736.blog"
    assert json.loads(stored.read_text()) == {"count": 3, "from": "2015-06-19"}
    reopened = Backlog("exports", root=tmp_path)
    assert dict(reopened.iteritems()) == {
        "150619170500": ["a", 1],
        "150619170736": {"from": "2015-06-19", "count": 3},
    }
    reopened["150619170500"] = "updated"
    assert backlog["150619170500"] == "updated"
    del backlog["150619170500"]
    assert list(reopened) == ["150619170736"]
    assert [p.name for p in (tmp_path / "exports").iterdir()] == ["150619170736.blog"]


def test_missing_entries_raise_key_error(tmp_path: Path) -> None:
    backlog = Backlog("b", root=tmp_path)
    with pytest.raises(KeyError):
        backlog["150619170736"]
    with pytest.raises(KeyError):
        del backlog["150619170736"]


@pytest.mark.parametrize(
    "job_id",
    [
        "../escape",
        "..",
        ".",
        "a/b",
        "a\\b",
        ".hidden",
        "",
        "x\x00y",
        "id with space",
        "é",
        42,
        None,
    ],
)
def test_unsafe_job_ids_are_refused(tmp_path: Path, job_id: Any) -> None:
    backlog = Backlog("b", root=tmp_path)
    with pytest.raises(ValueError):
        backlog[job_id] = {}
    with pytest.raises(ValueError):
        backlog[job_id]
    assert list(tmp_path.rglob("*")) == [tmp_path / "b"]


def test_data_that_is_not_json_is_refused(tmp_path: Path) -> None:
    backlog = Backlog("b", root=tmp_path)
    with pytest.raises((TypeError, ValueError)):
        backlog["1"] = {"when": datetime(2015, 1, 1)}
    assert len(backlog) == 0
    assert os.listdir(tmp_path / "b") == []  # no temporary left behind


def test_a_pickle_planted_in_the_backlog_is_never_unpickled(tmp_path: Path) -> None:
    class Boom:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    backlog = Backlog("b", root=tmp_path)
    (tmp_path / "b" / "1.blog").write_bytes(pickle.dumps(Boom()))
    with pytest.raises(ValueError):
        backlog["1"]
    assert not (tmp_path / "pwned").exists()


def test_clear_and_delete(tmp_path: Path) -> None:
    backlog = Backlog("b", root=tmp_path)
    for n in range(5):
        backlog[f"job-{n}"] = n
    with pytest.raises(OSError):
        backlog.delete()  # not empty
    (tmp_path / "b" / "notes.txt").write_text("not an entry")
    backlog.clear()
    assert backlog.is_empty()
    assert os.listdir(tmp_path / "b") == ["notes.txt"]  # only entries are cleared
    with pytest.raises(OSError):
        backlog.delete()
    (tmp_path / "b" / "notes.txt").unlink()
    backlog.delete()
    assert not (tmp_path / "b").exists()
    with pytest.raises(OSError):
        len(backlog)
    with pytest.raises(OSError):
        backlog["x"] = 1


@pytest.mark.parametrize("name", ["", "..", "a/b", ".hidden"])
def test_unsafe_backlog_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        Backlog(name, root=tmp_path)


def test_a_root_that_is_not_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "taken").write_text("")
    with pytest.raises(ValueError):
        Backlog("taken", root=tmp_path / "root")


def test_default_root_is_the_seeds() -> None:
    assert Backlog.DEFAULT_LOCATION_ROOT == "/var/spool/cstbox/export"
    assert cstbox.Backlog.FILE_EXTENSION == ".blog"


def test_failed_jobs_go_to_the_backlog_and_are_rerun_later(tmp_path: Path) -> None:
    """The seed's two-step retry: retry now, else put aside and re-run next time slot."""
    backlog = Backlog("exports", root=tmp_path)
    job = RecordingJob(send_failures=[ExportError("down")] * 2)
    if job.run(max_try=2, retry_delay=1) != ERR_NONE:
        backlog[job.job_id] = {"parms": job.parms}
    assert list(backlog) == ["150619170736"]
    for job_id, data in list(Backlog("exports", root=tmp_path).iteritems()):
        again = RecordingJob()
        assert again.parms == data["parms"]
        if again.run() == ERR_NONE:
            del backlog[job_id]
    assert backlog.is_empty()
