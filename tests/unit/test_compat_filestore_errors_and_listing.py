"""The filestore facade's listings and errors, held to what gocept.filestore's code does.

gocept.filestore (``src/gocept/filestore/filestore.py``) lists an area with
``os.listdir`` (every entry, folders included, and OSError for an area that
is not there), moves with ``os.rename`` and copies with ``shutil.copy`` (an
OSError into an area that is not there), and ``prepare()`` makes folders
with ``os.mkdir`` (an OSError when a file is in the way).  The facade hid
folders from ``list()``, returned ``[]`` for a missing area, made a missing
destination area on a move or copy, and raised errors that were no OSError
where it refuses to replace a file or finds a file in the way.  Now it lists
folders, and every such failure is an OSError of the kind the original
raised, still a :class:`~entrepot.errors.SpoolError` as well.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from entrepot.compat.filestore import AreaNotFound, FileStore, FolderInTheWay, NameTaken
from entrepot.errors import NameExists, SpoolLayoutError


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    filestore = FileStore(tmp_path / "store")
    filestore.prepare()
    return filestore


def put(store: FileStore, name: str, text: str, area: str = "new") -> None:
    with store.create(name) as f:
        f.write(text)
    store.move(name, "tmp", area)


def test_list_shows_folders_as_the_original_did(store: FileStore, tmp_path: Path) -> None:
    """The original returns every name ``os.listdir`` gives, a folder's among them.
    Links (their path leads out of the store) and dot-files (the spool's own)
    are still left out."""
    put(store, "a-file", "A")
    Path(store.path, "new", "sub").mkdir()
    Path(store.path, "new", "link").symlink_to(tmp_path)
    Path(store.path, "new", ".hidden").write_text("spool's own")
    new = os.path.join(store.path, "new")
    assert store.list("new") == [os.path.join(new, "a-file"), os.path.join(new, "sub")]


def test_list_of_a_missing_area_is_an_os_error(store: FileStore) -> None:
    """``os.listdir`` of a folder that is not there raises FileNotFoundError."""
    with pytest.raises(AreaNotFound) as raised:
        store.list("nonexistent")
    assert isinstance(raised.value, FileNotFoundError)
    assert not Path(store.path, "nonexistent").exists()


@pytest.mark.parametrize("operation", ["move", "copy"])
def test_moving_or_copying_into_a_missing_area_makes_none(store: FileStore, operation: str) -> None:
    """``os.rename`` and ``shutil.copy`` into a folder that is not there raise
    FileNotFoundError; no folder is made and the file stays where it was."""
    put(store, "a-file", "A")
    with pytest.raises(FileNotFoundError) as raised:
        getattr(store, operation)("a-file", "new", "elsewhere")
    assert isinstance(raised.value, AreaNotFound)
    assert not Path(store.path, "elsewhere").exists()
    assert Path(store.path, "new", "a-file").read_text() == "A"


@pytest.mark.parametrize("operation", ["move", "copy"])
def test_a_file_in_the_destination_is_kept_and_the_error_is_an_os_error(
    store: FileStore, operation: str
) -> None:
    """The original's rename and ``shutil.copy`` replace the file already there.
    The facade keeps it, and says so with a FileExistsError (an OSError, which
    the original's callers catch), that is also the spool's NameExists."""
    put(store, "a-file", "kept", area="cur")
    put(store, "a-file", "newer")
    with pytest.raises(FileExistsError) as raised:
        getattr(store, operation)("a-file", "new", "cur")
    assert isinstance(raised.value, NameTaken) and isinstance(raised.value, NameExists)
    assert Path(store.path, "cur", "a-file").read_text() == "kept"
    assert Path(store.path, "new", "a-file").read_text() == "newer"


@pytest.mark.parametrize("in_the_way", ["tmp", "cur"])
def test_prepare_with_a_file_in_the_way_of_an_area_is_an_os_error(
    tmp_path: Path, in_the_way: str
) -> None:
    """The original's ``os.mkdir`` fails with an OSError when a file has the name;
    the facade raises FolderInTheWay, a FileExistsError and a SpoolLayoutError."""
    root = tmp_path / "store"
    root.mkdir()
    (root / in_the_way).write_text("a file")
    with pytest.raises(FileExistsError) as raised:
        FileStore(root).prepare()
    assert isinstance(raised.value, FolderInTheWay)
    assert isinstance(raised.value, SpoolLayoutError)
    assert (root / in_the_way).read_text() == "a file"


def test_prepare_with_a_file_for_the_store_itself_is_an_os_error(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.write_text("a file")
    with pytest.raises(OSError):
        FileStore(root).prepare()
    assert root.read_text() == "a file"
