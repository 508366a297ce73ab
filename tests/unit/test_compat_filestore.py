"""The filestore scenario of the old system, step by step, against the facade."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from entrepot.compat.filestore import FileStore
from entrepot.errors import InvalidName, NameExists


def test_filestore_scenario(tmp_path: Path) -> None:
    store_dir = str(tmp_path / "store")
    os.mkdir(store_dir)
    filestore = FileStore(store_dir)
    # Nothing happens until the store is prepared.
    assert os.listdir(store_dir) == []
    filestore.prepare()
    assert sorted(os.listdir(store_dir)) == ["cur", "new", "tmp"]
    filestore.prepare()
    assert sorted(os.listdir(store_dir)) == ["cur", "new", "tmp"]

    # create() opens a text file in tmp/ with mode "w".
    f = filestore.create("a-file")
    assert f.mode == "w"
    assert f.name == os.path.join(store_dir, "tmp", "a-file")
    assert filestore.list("tmp") == [os.path.join(store_dir, "tmp", "a-file")]
    f.write("Die Ente bleibt draussen!")
    f.close()

    filestore.move("a-file", "tmp", "new")
    assert filestore.list("tmp") == []
    assert filestore.list("new") == [os.path.join(store_dir, "new", "a-file")]

    filestore.move("a-file", "new", "cur")
    assert filestore.list("new") == []
    assert filestore.list("cur") == [os.path.join(store_dir, "cur", "a-file")]

    filestore.copy("a-file", "cur", "tmp")
    assert filestore.list("cur") == [os.path.join(store_dir, "cur", "a-file")]
    assert filestore.list("tmp") == [os.path.join(store_dir, "tmp", "a-file")]
    with open(filestore.list("tmp")[0]) as copied:
        assert copied.read() == "Die Ente bleibt draussen!"

    filestore.remove("a-file", "tmp")
    assert filestore.list("tmp") == []


def test_filestore_drops_the_hazards(tmp_path: Path) -> None:
    filestore = FileStore(tmp_path)
    filestore.prepare()
    with pytest.raises(InvalidName):
        filestore.create("../outside")
    with pytest.raises(InvalidName):
        filestore.move("a", "tmp", "../../elsewhere")
    with filestore.create("a") as f:
        f.write("one")
    filestore.move("a", "tmp", "new")
    with filestore.create("a") as f:
        f.write("two")
    # The original silently replaced new/a; the facade refuses.
    with pytest.raises(NameExists):
        filestore.move("a", "tmp", "new")
    assert (tmp_path / "new" / "a").read_text() == "one"


def test_filestore_binary_mode(tmp_path: Path) -> None:
    filestore = FileStore(tmp_path)
    filestore.prepare()
    with filestore.create("b", "wb") as f:
        f.write(b"\x00\x01")
    assert (tmp_path / "tmp" / "b").read_bytes() == b"\x00\x01"
