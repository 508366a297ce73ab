"""Job ids: sortable by creation time, unique in one millisecond and across threads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from entrepot.jobs import FakeClock, JobIdFactory, job_id_time, new_job_id
from entrepot.names import check_name


def test_ids_read_as_their_creation_time() -> None:
    clock = FakeClock(datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=UTC))
    job_id = JobIdFactory(clock)()
    assert job_id.startswith("20260304T050607.891Z-000000-")
    assert job_id_time(job_id) == datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)
    assert check_name(job_id) == job_id


def test_hundred_thousand_ids_made_quickly_are_unique_and_sorted() -> None:
    ids = [new_job_id() for _ in range(100_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


def test_same_millisecond_counts_up() -> None:
    clock = FakeClock()
    make = JobIdFactory(clock)
    ids = [make() for _ in range(1000)]
    assert [i.split("-")[1] for i in ids[:3]] == ["000000", "000001", "000002"]
    assert ids == sorted(ids) and len(set(ids)) == 1000
    clock.advance(0.001)
    later = make()
    assert later > ids[-1]
    assert later.split("-")[1] == "000000"


def test_a_clock_stepping_back_never_breaks_the_order() -> None:
    clock = FakeClock(datetime(2026, 1, 1, 12, tzinfo=UTC))
    make = JobIdFactory(clock)
    first = make()
    stepped_back = FakeClock(datetime(2026, 1, 1, 11, tzinfo=UTC))
    make._clock = stepped_back  # the system clock was set back an hour
    second = make()
    assert second > first


def test_sequence_overflow_carries_into_the_next_millisecond() -> None:
    make = JobIdFactory(FakeClock())
    make()
    make._seq = 999_999
    carried = make()
    assert carried.split("-")[1] == "000000"
    assert job_id_time(carried) - datetime(2026, 1, 1, tzinfo=UTC) == timedelta(milliseconds=1)


def test_ids_from_many_threads_are_unique_and_each_thread_sees_them_sorted() -> None:
    per_thread: list[list[str]] = [[] for _ in range(8)]
    start = threading.Barrier(8)

    def make(out: list[str]) -> None:
        start.wait()
        out.extend(new_job_id() for _ in range(12_500))

    threads = [threading.Thread(target=make, args=(out,)) for out in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [job_id for out in per_thread for job_id in out]
    assert len(everything) == 100_000
    assert len(set(everything)) == 100_000
    for out in per_thread:
        assert out == sorted(out)


def test_ids_are_computed_when_asked() -> None:
    clock = FakeClock()
    make = JobIdFactory(clock)
    first = make()
    clock.advance(3600)
    assert job_id_time(make()) - job_id_time(first) == timedelta(hours=1)


def test_foreign_ids_have_no_time() -> None:
    with pytest.raises(ValueError, match="not an entrepot job id"):
        job_id_time("150619170736")
