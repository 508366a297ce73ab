"""The spool's public API: layout, publishing, claims, moving, recovery."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from entrepot import durable
from entrepot.errors import (
    ClaimLost,
    EntryNotFound,
    InvalidName,
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


# -- consuming ------------------------------------------------------------------


def test_list_is_oldest_first(spool: Spool) -> None:
    for name, age in (("c", 30), ("a", 10), ("b", 20)):
        spool.publish_bytes(name.encode(), name)
        stamp = time.time() - age
        os.utime(spool.root / "new" / name, (stamp, stamp))
    entries = spool.list()
    assert [entry.name for entry in entries] == ["c", "b", "a"]
    assert entries[0].size == 1 and entries[0].area == "new"


def test_list_hides_dot_files_and_folders(spool: Spool) -> None:
    (spool.root / "new" / ".hidden").write_text("x")
    (spool.root / "new" / "sub").mkdir()
    assert spool.list() == []


def test_claim_done_release_cycle(spool: Spool) -> None:
    spool.publish_bytes(b"1", "one")
    spool.publish_bytes(b"2", "two")
    first = spool.claim()
    assert first is not None and first.name == "one"
    assert first.path.read_bytes() == b"1"
    assert spool.names() == ["two"]
    assert first.done() == spool.root / "cur" / "one"
    second = spool.claim()
    assert second is not None
    second.release()
    assert spool.names() == ["two"]
    assert spool.claim("missing") is None


def test_claim_is_exclusive(spool: Spool) -> None:
    spool.publish_bytes(b"x", "only")
    assert spool.claim("only") is not None
    assert spool.claim("only") is None
    assert spool.claim() is None


def test_claim_context_releases_on_error(spool: Spool) -> None:
    spool.publish_bytes(b"x", "job")
    with pytest.raises(ValueError), spool.claim("job") as claim:  # type: ignore[union-attr]
        assert claim.path.exists()
        raise ValueError("processing failed")
    assert spool.names() == ["job"]


def test_done_into_other_area_and_name_conflicts_get_a_suffix(spool: Spool) -> None:
    for _ in range(3):
        spool.publish_bytes(b"daily", "daily.csv")
        claim = spool.claim("daily.csv")
        assert claim is not None
        claim.done("archive")
    assert spool.names("archive") == ["daily.csv", "daily.csv~2", "daily.csv~3"]


def test_claims_iterates_until_empty(spool: Spool) -> None:
    names = {spool.publish_bytes(b"%d" % n) for n in range(25)}
    seen = set()
    for claim in spool.claims():
        seen.add(claim.name)
        claim.done()
    assert seen == names
    assert spool.names() == []


def test_claims_limit(spool: Spool) -> None:
    for n in range(5):
        spool.publish_bytes(b"x", f"f{n}")
    assert len(list(spool.claims(limit=2))) == 2


def test_claim_by_id_round_trip(spool: Spool) -> None:
    spool.publish_bytes(b"x", "x")
    claim = spool.claim()
    assert claim is not None
    again = spool.claim_by_id(claim.id)
    assert again.name == "x" and again.path == claim.path
    again.done()
    with pytest.raises(ClaimLost):
        spool.claim_by_id(claim.id)
    with pytest.raises(InvalidName):
        spool.claim_by_id("../../etc/passwd")


def test_expired_claim_is_recovered_and_the_late_owner_loses(tmp_path: Path) -> None:
    now = [time.time()]
    spool = Spool(tmp_path / "s", lease=60, clock=lambda: now[0]).prepare()
    spool.publish_bytes(b"x", "slow")
    stuck = spool.claim()
    assert stuck is not None
    assert spool.recover().claims_released == []  # lease not over yet
    now[0] += 61
    assert spool.recover().claims_released == ["slow"]
    taker = spool.claim()
    assert taker is not None and taker.name == "slow"
    with pytest.raises(ClaimLost):
        stuck.done()
    taker.done()
    assert spool.names("cur") == ["slow"]


def test_renew_extends_the_lease(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", lease=3600).prepare()
    spool.publish_bytes(b"x", "f")
    claim = spool.claim()
    assert claim is not None
    before = claim.path.stat().st_ctime_ns
    time.sleep(0.01)
    claim.renew()
    assert claim.path.stat().st_ctime_ns > before
    claim.done()
    with pytest.raises(ClaimLost):
        claim.renew()


def test_recover_removes_only_stale_tmp_files(spool: Spool) -> None:
    old = spool.root / "tmp" / "old"
    old.write_text("abandoned")
    stamp = time.time() - 37 * 3600
    os.utime(old, (stamp, stamp))
    (spool.root / "tmp" / "fresh").write_text("being written")
    report = spool.recover()
    assert report.tmp_removed == ["old"]
    assert spool.names("tmp") == ["fresh"]


def test_recover_removes_leftover_of_a_half_done_link_publish(spool: Spool) -> None:
    leftover = spool.root / "tmp" / "leftover"
    leftover.write_text("complete")
    os.link(leftover, spool.root / "new" / "published")
    assert spool.recover().tmp_removed == ["leftover"]
    assert spool.names() == ["published"]


def test_rename_noreplace_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(durable, "_noreplace_supported", False)
    (tmp_path / "a").write_text("a")
    (tmp_path / "b").write_text("b")
    with pytest.raises(FileExistsError):
        durable.rename_noreplace(tmp_path / "a", tmp_path / "b")
    durable.rename_noreplace(tmp_path / "a", tmp_path / "c")
    assert listing(tmp_path) == ["b", "c"]


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


def test_claims_of_a_dead_local_consumer_come_back_before_the_lease(tmp_path: Path) -> None:
    import subprocess
    import sys

    spool = Spool(tmp_path / "s").prepare()  # default lease: 15 minutes
    spool.publish_bytes(b"x", "orphan")
    spool.publish_bytes(b"y", "mine")
    code = (
        "import sys; from entrepot.spool import Spool; "
        "c = Spool(sys.argv[1]).claim('orphan'); print(c.id)"
    )
    child = subprocess.run(
        [sys.executable, "-c", code, str(spool.root)], capture_output=True, text=True, check=True
    )
    assert spool.claim_by_id(child.stdout.strip()).name == "orphan"  # still held
    mine = spool.claim("mine")
    assert mine is not None
    report = spool.recover()
    # The child has exited: its claim returns; ours, held by a live process, stays.
    assert report.claims_released == ["orphan"]
    assert spool.names() == ["orphan"]
    mine.done()


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
