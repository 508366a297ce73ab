"""The spool's public API: layout, publishing, moving (claims: test_spool_claims.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from entrepot.errors import (
    EntryNotFound,
    NameExists,
    SpoolLayoutError,
)
from entrepot.spool import Spool, unique_name


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "spool").prepare()


def listing(path: Path) -> list[str]:
    return sorted(os.listdir(path))


# -- layout ---------------------------------------------------------------------


def test_prepare_creates_areas_and_parents(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b" / "spool"
    Spool(root).prepare()
    assert listing(root) == ["cur", "new", "tmp"]


def test_prepare_is_idempotent_and_keeps_files(spool: Spool) -> None:
    name = spool.publish_bytes(b"x")
    spool.prepare()
    assert spool.names() == [name]


def test_prepare_refuses_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "spool").mkdir()
    (tmp_path / "spool" / "new").write_text("not a folder")
    with pytest.raises(SpoolLayoutError, match="in the way"):
        Spool(tmp_path / "spool").prepare()


def test_prepare_refuses_a_file_as_root(tmp_path: Path) -> None:
    (tmp_path / "spool").write_text("oops")
    with pytest.raises(SpoolLayoutError):
        Spool(tmp_path / "spool").prepare()


def test_publishing_into_an_unprepared_spool_is_a_clear_error(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        spool.publish_bytes(b"x")


# -- writing --------------------------------------------------------------------


def test_writer_publishes_on_success(spool: Spool) -> None:
    with spool.writer("report.csv") as handle:
        handle.write(b"a,b\n")
        # While the block runs, the file is only in tmp/.
        assert spool.names("new") == []
        assert len(spool.names("tmp")) == 1
    assert handle.path == spool.root / "new" / "report.csv"
    assert handle.path.read_bytes() == b"a,b\n"
    assert spool.names("tmp") == []


def test_writer_exception_removes_tmp_and_publishes_nothing(spool: Spool) -> None:
    with pytest.raises(RuntimeError, match="boom"), spool.writer("half.csv") as handle:
        handle.write(b"partial")
        raise RuntimeError("boom")
    assert spool.names("new") == []
    assert spool.names("tmp") == []


def test_writer_with_generated_name(spool: Spool) -> None:
    with spool.writer() as handle:
        handle.write(b"data")
    assert spool.names() == [handle.name]


def test_caller_chosen_name_that_exists_is_refused(spool: Spool) -> None:
    spool.publish_bytes(b"first", "daily.csv")
    with pytest.raises(NameExists, match=r"daily\.csv"):
        spool.publish_bytes(b"second", "daily.csv")
    # The first file is untouched and no tmp file is left behind.
    assert (spool.root / "new" / "daily.csv").read_bytes() == b"first"
    assert spool.names("tmp") == []


def test_publish_file_copies(spool: Spool, tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    source.write_bytes(b"1,2,3")
    assert spool.publish_file(source) == "export.csv"
    published = spool.root / "new" / "export.csv"
    assert published.read_bytes() == b"1,2,3"
    assert published.stat().st_ino != source.stat().st_ino
    assert source.exists()


def test_publish_file_links(spool: Spool, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(b"x" * 1000)
    name = spool.publish_file(source, "renamed.bin", link=True)
    assert (spool.root / "new" / name).stat().st_ino == source.stat().st_ino


def test_publish_file_missing_source_leaves_nothing(spool: Spool, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        spool.publish_file(tmp_path / "nope")
    assert spool.names("tmp") == [] and spool.names("new") == []


def test_unique_names_are_unique_and_ordered() -> None:
    names = [unique_name() for _ in range(10_000)]
    assert len(set(names)) == len(names)
    stamps = [name.split(".")[0] for name in names]
    assert stamps == sorted(stamps)


def test_unique_names_across_threads() -> None:
    found: list[str] = []
    lock = threading.Lock()

    def make() -> None:
        mine = [unique_name() for _ in range(2_000)]
        with lock:
            found.extend(mine)

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 16_000


def test_durable_mode_syncs_file_and_folder(spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append("fsync"), real_fsync(fd))[1])
    spool.publish_bytes(b"x", "a")
    # The file, then the new/ folder holding the rename.
    assert synced == ["fsync", "fsync"]


def test_non_durable_mode_never_syncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = Spool(tmp_path / "s", durable=False).prepare()
    monkeypatch.setattr(os, "fsync", lambda fd: pytest.fail("fsync called"))
    spool.publish_bytes(b"x", "a")
    with spool.writer("b") as handle:
        handle.write(b"y")
    claim = spool.claim("a")
    assert claim is not None
    claim.done()
    assert spool.names("new") == ["b"]


def test_batch_publishes_all_with_one_folder_sync(
    spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(
        "entrepot.spool.writing.fsync_dir", lambda path: calls.append(Path(path).name)
    )
    monkeypatch.setattr("entrepot.spool.writing.syncfs", lambda path: calls.append("syncfs"))
    with spool.batch() as batch:
        for number in range(50):
            batch.add_bytes(b"row %d" % number, f"part-{number:03d}")
        assert spool.names("new") == []
    assert calls == ["syncfs", "new"]
    assert sorted(spool.names()) == [f"part-{n:03d}" for n in range(50)]


def test_batch_discarded_on_exception(spool: Spool, tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"f")
    with pytest.raises(KeyError), spool.batch() as batch:
        batch.add_bytes(b"a", "a")
        batch.add_file(source)
        raise KeyError("stop")
    assert spool.names("new") == [] and spool.names("tmp") == []


def test_batch_name_conflict_reports_and_keeps_the_rest(spool: Spool) -> None:
    spool.publish_bytes(b"old", "taken")
    with pytest.raises(NameExists, match="taken"), spool.batch() as batch:
        batch.add_bytes(b"new", "taken")
        batch.add_bytes(b"free", "free")
    assert (spool.root / "new" / "taken").read_bytes() == b"old"
    assert (spool.root / "new" / "free").read_bytes() == b"free"
    assert spool.names("tmp") == []


# -- moving ---------------------------------------------------------------------


def test_move_copy_remove(spool: Spool) -> None:
    spool.publish_bytes(b"data", "f")
    spool.move("f", "new", "cur")
    spool.copy("f", "cur", "backup")
    assert spool.names("cur") == ["f"] and spool.names("backup") == ["f"]
    with pytest.raises(NameExists):
        spool.copy("f", "cur", "backup")
    spool.remove("f", "backup")
    assert spool.names("backup") == []
    with pytest.raises(EntryNotFound):
        spool.remove("f", "backup")
    with pytest.raises(EntryNotFound):
        spool.move("nope", "new", "cur")
    with pytest.raises(EntryNotFound):
        spool.copy("nope", "new", "cur")


def test_move_never_overwrites(spool: Spool) -> None:
    spool.publish_bytes(b"one", "f")
    spool.move("f", "new", "cur")
    spool.publish_bytes(b"two", "f")
    with pytest.raises(NameExists):
        spool.move("f", "new", "cur")
    assert (spool.root / "cur" / "f").read_bytes() == b"one"
    assert (spool.root / "new" / "f").read_bytes() == b"two"


def test_stats(spool: Spool) -> None:
    spool.publish_bytes(b"12345", "a")
    spool.publish_bytes(b"123", "b")
    claim = spool.claim("a")
    assert claim is not None
    claim.done()
    stats = spool.stats()
    assert (stats["new"].files, stats["new"].bytes) == (1, 3)
    assert (stats["cur"].files, stats["cur"].bytes) == (1, 5)
    assert stats["tmp"].files == 0


def test_the_spool_modules_import_each_other_without_a_cycle() -> None:
    """Claims, writing and the rest build on the folder primitives, never on the Spool
    class: no cycle, not even one hidden behind ``TYPE_CHECKING``."""
    import ast

    import entrepot.spool

    package = Path(entrepot.spool.__file__).parent
    graph: dict[str, set[str]] = {}
    for source in package.glob("*.py"):
        module = f"entrepot.spool.{source.stem}" if source.stem != "__init__" else "entrepot.spool"
        edges = graph.setdefault(module, set())
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "entrepot.spool"
            ):
                edges.add(node.module or "")
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        assert module not in visiting, f"import cycle: {' -> '.join([*visiting, module])}"
        if module in done:
            return
        visiting.append(module)
        for other in sorted(graph.get(module, ())):
            visit(other)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
