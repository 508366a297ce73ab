"""What the data center pages show, as plain functions over a data center."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from entrepot.datacenter import DataCenter
from entrepot.jobs import Ledger, Runner
from entrepot.service.config import DataCenterConfig
from entrepot.web import dc_imports, dc_listing, dc_log
from entrepot.web.dc_paths import Missing
from tests.web._dc import STUDENTS, make_center


@pytest.fixture
def center(tmp_path: Path) -> DataCenter:
    return make_center(tmp_path)


def test_a_listing_shows_sizes_dates_and_line_counts(center: DataCenter) -> None:
    (center.root / "b.csv").write_text("a,b\n1,2\n3,4")  # no line end at the end
    with gzip.open(center.root / "a.csv.gz", "wt") as handle:
        handle.write("x\n" * 1000)
    (center.root / ".hidden.csv").write_text("x\n")
    (center.root / "notes.txt").write_text("x\n")
    page = dc_listing.area_page(center, "pending")
    assert [(row.name, row.lines) for row in page.items] == [("a.csv.gz", 1000), ("b.csv", 3)]
    row = page.items[1]
    assert (row.size, row.human_size) == (11, "11 bytes")
    assert row.date.endswith("+00:00") and len(row.local_date) == 19
    assert row.as_json()["lines"] == 3
    assert dc_listing.area_page(center, "finished").items == []


def test_a_listing_is_paginated(center: DataCenter) -> None:
    for number in range(dc_listing.PAGE_SIZE + 3):
        (center.root / f"f{number:03}.csv").write_text("x\n")
    first = dc_listing.area_page(center, "pending", 1)
    last = dc_listing.area_page(center, "pending", 2)
    assert (len(first.items), first.pages, first.total, first.next) == (50, 2, 53, 2)
    assert [row.name for row in last.items] == ["f050.csv", "f051.csv", "f052.csv"]
    assert (last.previous, last.next) == (1, None)
    # A page past the end is the last one; a page before the start the first.
    assert dc_listing.area_page(center, "pending", 99).number == 2
    assert dc_listing.area_page(center, "pending", -3).number == 1


def test_a_listing_leaves_links_out_and_never_reads_through_them(
    center: DataCenter, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.csv"
    outside.write_text("secret\n" * 7)
    (center.root / "planted.csv").symlink_to(outside)
    assert dc_listing.area_page(center, "pending").items == []
    assert dc_listing.count_lines(center.root / "planted.csv") is None


def test_large_files_are_not_counted(center: DataCenter) -> None:
    path = center.root / "big.csv"
    path.write_bytes(b"x\n" * 5000)
    assert dc_listing.count_lines(path, limit=10_000) == 5000
    assert dc_listing.count_lines(path, limit=9_999) is None


def test_the_log_is_searched_literally_newest_first_a_page_at_a_time(
    center: DataCenter,
) -> None:
    for number in range(120):
        center.log.write("import", file=f"f{number}.csv", failed=number % 2)
    page = dc_log.search_log(center, "failed=1")
    assert (page.total, page.pages) == (60, 2)
    assert page.items[0].fields["file"] == "f119.csv"
    second = dc_log.search_log(center, "failed=1", 2)
    assert [item.fields["file"] for item in second.items] == [f"f{n}.csv" for n in range(19, 0, -2)]
    assert dc_log.search_log(center, "failed=1", 3).items == []
    everything = dc_log.search_log(center)
    assert everything.total == 120 and everything.items[-1].fields["file"] == "f70.csv"
    # Regular expression characters are taken as they are, case does not matter.
    assert dc_log.search_log(center, "F1.CSV").total == 1
    assert dc_log.search_log(center, "f1.*").total == 0
    with pytest.raises(dc_log.BadQuery):
        dc_log.search_log(center, "x" * (dc_log.MAX_QUERY + 1))


def _section(center: DataCenter) -> DataCenterConfig:
    return DataCenterConfig(root=center.root)


def test_an_import_is_queued_as_a_job_then_its_progress_read(
    center: DataCenter, tmp_path: Path
) -> None:
    (center.root / "students.csv").write_text(STUDENTS)
    with Ledger.open(tmp_path / "state") as ledger:
        job_id = dc_imports.submit_import(
            ledger, _section(center), "students.csv", "students", mode="create", user="web"
        )
        queued = dc_imports.progress(ledger, center, job_id)
        assert (queued.state, queued.rows_ok, queued.done) == ("queued", 0, False)
        assert queued.rows_expected == 4
        # Nothing ran in the call: the file still waits.
        assert (center.root / "students.csv").is_file()
        (result,) = Runner(ledger).run_due()
        assert result.ok
        done = dc_imports.progress(ledger, center, job_id)
    assert (done.state, done.rows_ok, done.rows_failed, done.percent) == ("finished", 2, 2, 100)
    assert done.pending_file == "students.create.pending.csv"
    assert (center.root / done.pending_file).is_file()
    (recent,) = dc_imports.recent_imports(center)
    assert (recent.job_id, recent.rows_failed, recent.stage) == (job_id, 2, "done")
    (line,) = center.log.search("students.csv")
    assert "user=web" in line and f"job={job_id}" in line


def test_a_failed_import_shows_its_error(center: DataCenter, tmp_path: Path) -> None:
    (center.root / "bad.csv").write_text("nope\nx\n")
    with Ledger.open(tmp_path / "state") as ledger:
        job_id = dc_imports.submit_import(
            ledger, _section(center), "bad.csv", "students", mode="create"
        )
        Runner(ledger).run_due()
        failed = dc_imports.progress(ledger, center, job_id)
    assert failed.state == "failed" and failed.done
    assert failed.error is not None and "nope" in failed.error


def test_progress_of_an_unknown_import_or_another_data_center(
    center: DataCenter, tmp_path: Path
) -> None:
    other = make_center(tmp_path / "other")
    (other.root / "students.csv").write_text(STUDENTS)
    with Ledger.open(tmp_path / "state") as ledger:
        elsewhere = dc_imports.submit_import(
            ledger, _section(other), "students.csv", "students", mode="create"
        )
        with pytest.raises(Missing):
            dc_imports.progress(ledger, center, "20261205T000000.000Z-000000-00000000")
        with pytest.raises(Missing):
            dc_imports.progress(ledger, center, elsewhere)


@pytest.mark.parametrize(
    ("file", "table", "mode", "empty", "says"),
    [
        ("../students.csv", "students", "create", "keep", "path separator"),
        ("gone.csv", "students", "create", "keep", "no file 'gone.csv'"),
        ("students.csv", "teachers", "create", "keep", "no table 'teachers'"),
        ("students.csv", "students", "upsert", "keep", "unknown mode"),
        ("students.csv", "students", "update", "wipe", "empty cells"),
    ],
)
def test_an_import_of_what_does_not_exist_is_refused(
    center: DataCenter, file: str, table: str, mode: str, empty: str, says: str
) -> None:
    (center.root / "students.csv").write_text(STUDENTS)
    with pytest.raises(dc_imports.BadImport, match=says):
        dc_imports.check_request(center, file, table, mode, empty)


def test_an_import_of_a_link_is_refused(center: DataCenter, tmp_path: Path) -> None:
    (tmp_path / "outside.csv").write_text(STUDENTS)
    os.symlink(tmp_path / "outside.csv", center.root / "linked.csv")
    with pytest.raises(dc_imports.BadImport, match="no file"):
        dc_imports.check_request(center, "linked.csv", "students", "create", "keep")


def test_one_page_counts_a_bounded_number_of_bytes_the_next_view_the_rest(
    center: DataCenter, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a.csv", "b.csv", "c.csv"):
        (center.root / name).write_bytes(b"x,y\n" * 100)  # 400 bytes each
    monkeypatch.setattr(dc_listing, "PAGE_BUDGET", 900)
    first = [row.lines for row in dc_listing.area_page(center, "pending").items]
    assert first == [100, 100, None]
    second = [row.lines for row in dc_listing.area_page(center, "pending").items]
    assert second == [100, 100, 100]
