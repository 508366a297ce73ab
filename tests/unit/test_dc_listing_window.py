"""A page of the data center's files, picked without sorting the whole folder.

The dashboard's ``/datacenter`` listed, looked at (three times each) and
sorted every file of an area to show 50 of them: 0.5–0.8 s a request in a
folder of 30,000 files.  Now the folder's entries tell which are regular
files, a page by name is picked from them and only its files are looked
at (by date, each file's time is read once); the page, its number and the
total are what the whole sort gave, and links, folders, FIFOs and hidden
files stay out.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from entrepot.datacenter import DataCenter
from entrepot.datacenter.listing import FileInfo, SortKey, regular_files, sort_files, window
from entrepot.web import dc_listing

FILES = 230


@pytest.fixture
def center(tmp_path: Path) -> DataCenter:
    center = DataCenter(tmp_path / "dc", create=True)
    for n in range(FILES):
        path = center.root / f"f-{(n * 37) % FILES:04d}.csv"
        path.write_bytes(b"a\n" * (n % 5))
        # Dates in an order unlike the names', some of them equal.
        os.utime(path, (1_700_000_000 + n // 2, 1_700_000_000 + n // 2))
    (center.root / ".hidden.csv").write_text("x\n")
    (center.root / "folder.csv").mkdir()
    os.mkfifo(center.root / "pipe.csv")
    (center.root / "link.csv").symlink_to(center.root / "f-0000.csv")
    (center.root / "notes.txt").write_text("x\n")
    return center


def _whole(root: Path, sort: SortKey) -> list[str]:
    """The listing as a sort of every regular file gives it."""
    infos = [
        FileInfo(root / name, stat.st_size, stat.st_mtime)
        for name in os.listdir(root)
        if name.endswith(".csv") and not name.startswith(".")
        for stat in [os.lstat(root / name)]
        if not os.path.islink(root / name) and os.path.isfile(root / name)
    ]
    return [info.name for info in sort_files(infos, sort)]


@pytest.mark.parametrize("sort", ["name", "date"])
def test_every_page_is_the_slice_the_whole_sort_gives(center: DataCenter, sort: SortKey) -> None:
    whole = _whole(center.root, sort)
    assert len(whole) == FILES
    shown = []
    for number in range(1, 6):
        page = dc_listing.area_page(center, "pending", number, sort=sort)
        assert (page.number, page.pages, page.total) == (number, 5, FILES)
        shown += [row.name for row in page.items]
    assert shown == whole
    last = dc_listing.area_page(center, "pending", 99, sort=sort)
    assert last.number == 5 and [row.name for row in last.items] == whole[200:]
    assert [info.name for info in dc_listing.area_files(center, "pending", sort=sort)] == whole


def test_an_empty_or_missing_area_is_one_empty_page(center: DataCenter) -> None:
    for area in ("finished", "exports"):
        page = dc_listing.area_page(center, area, 3, sort="date")
        assert (list(page.items), page.number, page.pages, page.total) == ([], 1, 1, 0)


class _Entry:
    """A folder's entry that counts how often its file is looked at."""

    looked = 0

    def __init__(self, name: str, mtime: float) -> None:
        self.name, self.path, self.mtime = name, f"/nowhere/{name}", mtime

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        assert not follow_symlinks
        _Entry.looked += 1
        return os.stat_result((0o100644, 0, 0, 1, 0, 0, 3, 0, int(self.mtime), 0))


def test_a_page_by_name_looks_at_its_files_only_by_date_at_each_once() -> None:
    entries = [_Entry(f"f-{(n * 7919) % 30_000:05d}.csv", n) for n in range(30_000)]
    _Entry.looked = 0
    page = window(entries, 100, 50, "name")  # type: ignore[arg-type]
    assert [info.name for info in page] == [f"f-{n:05d}.csv" for n in range(100, 150)]
    assert _Entry.looked == 50
    _Entry.looked = 0
    newest = window(entries, 0, 50, "date")  # type: ignore[arg-type]
    assert [info.mtime for info in newest] == [float(n) for n in range(29_999, 29_949, -1)]
    assert _Entry.looked == 30_000 + 50  # each time; a real entry keeps what it read


def test_the_folder_s_entries_leave_out_what_is_no_regular_file(center: DataCenter) -> None:
    names = {entry.name for entry in regular_files(center.root)}
    assert len(names) == FILES
    assert not names & {".hidden.csv", "folder.csv", "pipe.csv", "link.csv", "notes.txt"}
    with pytest.raises(ValueError, match="unknown sort"):
        window([], 0, 50, "size")  # type: ignore[arg-type]
