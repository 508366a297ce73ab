"""The filestore facade with links planted in its areas, and given the full paths of ``list()``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from entrepot.compat.filestore import FileStore
from entrepot.errors import InvalidName, SpoolLayoutError, UnsafeEntry


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    filestore = FileStore(tmp_path / "store")
    filestore.prepare()
    return filestore


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside.txt"
    path.write_text("ORIGINAL")
    return path


def put(store: FileStore, name: str, text: str, area: str = "new") -> None:
    with store.create(name) as f:
        f.write(text)
    store.move(name, "tmp", area)


@pytest.mark.parametrize("mode", ["w", "wb", "w+"])
def test_create_replaces_a_planted_link_and_never_writes_through_it(
    store: FileStore, outside: Path, mode: str
) -> None:
    planted = Path(store.path, "tmp", "victim")
    planted.symlink_to(outside)
    with store.create("victim", mode) as f:
        f.write(b"mine" if "b" in mode else "mine")
    assert outside.read_text() == "ORIGINAL"
    assert not planted.is_symlink() and planted.read_text() == "mine"


@pytest.mark.parametrize("mode", ["a", "r", "x"])
def test_create_in_another_mode_refuses_a_planted_link(
    store: FileStore, outside: Path, mode: str
) -> None:
    Path(store.path, "tmp", "victim").symlink_to(outside)
    with pytest.raises((UnsafeEntry, FileExistsError)):
        store.create("victim", mode)
    assert outside.read_text() == "ORIGINAL"


def test_create_still_replaces_a_plain_file_left_in_tmp(store: FileStore) -> None:
    Path(store.path, "tmp", "f").write_text("left over from a crash")
    with store.create("f") as f:
        f.write("new")
    assert Path(store.path, "tmp", "f").read_text() == "new"


def _swap_for_link(store: FileStore, area: str, tmp_path: Path) -> Path:
    elsewhere = tmp_path / f"elsewhere-{area}"
    elsewhere.mkdir()
    shutil.rmtree(Path(store.path, area))
    Path(store.path, area).symlink_to(elsewhere)
    return elsewhere


def test_create_refuses_a_tmp_area_that_is_a_link(store: FileStore, tmp_path: Path) -> None:
    elsewhere = _swap_for_link(store, "tmp", tmp_path)
    with pytest.raises(SpoolLayoutError, match="symbolic link"):
        store.create("z")
    assert os.listdir(elsewhere) == []


def test_move_and_copy_refuse_an_area_that_is_a_link(store: FileStore, tmp_path: Path) -> None:
    put(store, "z", "z", area="cur")
    elsewhere = _swap_for_link(store, "new", tmp_path)
    with pytest.raises(SpoolLayoutError, match="symbolic link"):
        store.move("z", "cur", "new")
    with pytest.raises(SpoolLayoutError, match="symbolic link"):
        store.copy("z", "cur", "new")
    assert os.listdir(elsewhere) == []
    assert Path(store.path, "cur", "z").read_text() == "z"


def test_the_full_paths_list_gives_can_be_moved_copied_and_removed(store: FileStore) -> None:
    put(store, "a-file", "A")
    put(store, "b-file", "B")
    for path in store.list("new"):
        store.move(path, "new", "cur")
    assert [os.path.basename(p) for p in store.list("cur")] == ["a-file", "b-file"]
    for path in store.list("cur"):
        store.copy(path, "cur", "tmp")
    assert Path(store.path, "tmp", "b-file").read_text() == "B"
    for path in store.list("tmp"):
        store.remove(path, "tmp")
    assert store.list("tmp") == []


def test_a_full_path_works_whatever_the_store_path_looks_like(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = FileStore("legacy")
    relative.prepare()
    put(relative, "a-file", "A")
    assert relative.list("new") == ["legacy/new/a-file"]
    relative.move("legacy/new/a-file", "new", "cur")
    relative.move(str(tmp_path / "legacy" / "cur" / "a-file"), "cur", "new")
    assert relative.list("new") == ["legacy/new/a-file"]


@pytest.mark.parametrize(
    "path",
    [
        "{store}/cur/a-file",  # another area than the one named
        "{outside}/a-file",  # another folder altogether
        "new/a-file",  # relative to the current folder, not to the store
        "{store}/new/",  # no file name
        "{store}/new/..",
    ],
)
def test_a_path_outside_the_area_named_is_refused(
    store: FileStore, tmp_path: Path, path: str
) -> None:
    put(store, "a-file", "A")
    given = path.format(store=store.path, outside=tmp_path)
    with pytest.raises(InvalidName):
        store.move(given, "new", "cur")
    with pytest.raises(InvalidName):
        store.copy(given, "new", "cur")
    with pytest.raises(InvalidName):
        store.remove(given, "new")
    assert store.list("new") == [os.path.join(store.path, "new", "a-file")]
