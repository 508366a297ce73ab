"""Rolling series: policies, names, compression, spool hand-off, hooks and crash recovery."""

from __future__ import annotations

import gc
import logging
import time
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from entrepot import plugins
from entrepot.archive import (
    AgePolicy,
    AnyOf,
    ArchiveReader,
    ArchiveSet,
    ArchiveWriter,
    CountPolicy,
    IdlePolicy,
    NeverPolicy,
    RollingWriter,
    SizePolicy,
    Template,
    load_policy,
    policies,
    verify,
)
from entrepot.archive import format as fmt
from entrepot.archive.naming import candidates
from entrepot.errors import ConfigError, InvalidName


class State:
    def __init__(self, size: int = 0, records: int = 0, opened_at: float = 0.0, last: float = 0.0):
        self.size = size
        self.records = records
        self.opened_at = opened_at
        self.last_write_at = last


class EveryThird:
    """A third-party policy, loaded through the entry-point group in a test."""

    def __init__(self, every: int = 3) -> None:
        self.every = every

    def should_roll(self, state: Any, now: float) -> bool:
        return bool(state.records >= self.every)


def payloads(directory: Path, pattern: str = "*") -> list[Any]:
    return [record.payload for record in ArchiveSet(str(directory / pattern))]


# -- policies -------------------------------------------------------------------


def test_each_policy_rolls_on_its_own_measure():
    assert SizePolicy(100).should_roll(State(size=100), 0)
    assert not SizePolicy(100).should_roll(State(size=99), 0)
    assert CountPolicy(3).should_roll(State(records=3), 0)
    assert AgePolicy(10).should_roll(State(opened_at=5), 15)
    assert not AgePolicy(10).should_roll(State(opened_at=5), 14)
    assert IdlePolicy(2).should_roll(State(records=1, last=1), 3)
    assert not IdlePolicy(2).should_roll(State(records=0, last=1), 3)
    assert not NeverPolicy().should_roll(State(size=10**12, records=10**9), 10**9)


def test_policies_compose_whichever_comes_first():
    combined = SizePolicy(1000) | CountPolicy(2) | IdlePolicy(5)
    assert isinstance(combined, AnyOf) and len(combined.policies) == 3
    assert combined.idle_after == 5
    assert combined.should_roll(State(records=2), 0)
    assert combined.should_roll(State(size=1000), 0)
    assert not combined.should_roll(State(size=10, records=1, last=0), 1)


def test_policies_load_by_name_and_from_the_entry_point_group(monkeypatch):
    assert load_policy("size", max_bytes=5) == SizePolicy(5)
    plugin = EntryPoint(
        name="every-third",
        value="tests.unit.test_archive_rolling:EveryThird",
        group=policies.ENTRY_POINT_GROUP,
    )
    monkeypatch.setattr(plugins, "entry_points", lambda group: [plugin])
    loaded = load_policy("every-third", every=4)
    assert isinstance(loaded, EveryThird) and loaded.every == 4
    with pytest.raises(ConfigError, match="unknown roll policy 'nope'"):
        load_policy("nope")
    with pytest.raises(ConfigError):
        load_policy("size", wrong=1)


def test_a_plugged_in_policy_drives_a_rolling_writer(tmp_path: Path):
    with RollingWriter(tmp_path, "p-{seq}.events", policy=EveryThird()) as writer:
        for i in range(7):
            writer.write({}, i)
    assert len(writer.finished) == 3
    assert payloads(tmp_path) == list(range(7))


# -- names --------------------------------------------------------------------------


def test_templates_fill_strftime_fields_host_seq_and_uuid():
    template = Template("ev-%Y%m%d-{host}-{seq:04d}-{uuid}.events", host="web/1")
    name = template.render(7, when=0)
    assert name.startswith("ev-19700101-web_1-0007-") and name.endswith(".events")
    assert len(name.split("-")[4].split(".")[0]) == 32
    assert template.matches(name)
    assert not template.matches("other.events")


def test_a_template_must_name_a_file():
    with pytest.raises(ConfigError):
        Template("sub/dir-%Y.events")
    with pytest.raises((ConfigError, InvalidName)):
        Template("..")


@pytest.mark.parametrize("text", ["ev-{start:%Y}.events", "ev-{sequence}.events", "ev-{seq.events"])
def test_a_field_the_language_does_not_have_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="unknown field"):
        Template(text)


def test_taken_names_get_numbered_variants():
    names = candidates("a.events")
    assert [next(names) for _ in range(3)] == ["a.events", "a-1.events", "a-2.events"]


def test_files_rolled_in_the_same_second_get_distinct_names(tmp_path: Path):
    (tmp_path / "fixed.events").write_bytes(b"an earlier archive")
    with RollingWriter(tmp_path, "fixed.events", policy=CountPolicy(1)) as writer:
        for i in range(4):
            writer.write({}, i)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["fixed-1.events", "fixed-2.events", "fixed-3.events", "fixed-4.events",
                     "fixed.events"]  # fmt: skip
    assert (tmp_path / "fixed.events").read_bytes() == b"an earlier archive"
    assert payloads(tmp_path, "fixed-*") == [0, 1, 2, 3]


# -- writing and rolling ------------------------------------------------------------------


def test_records_roll_by_size_into_sealed_files(tmp_path: Path):
    with RollingWriter(tmp_path, "s-{seq:03d}.events", policy=SizePolicy(2_000)) as writer:
        for i in range(100):
            writer.write({"i": str(i)}, "x" * 100)
            assert writer.current_path is None or writer.current_path.name.endswith(".open")
    files = sorted(tmp_path.iterdir())
    assert len(files) > 4 and all(verify(p).ok for p in files)
    assert all(p.stat().st_size < 2_000 + 200 for p in files)
    assert [r.metadata["i"] for r in ArchiveSet(str(tmp_path / "s-*"))] == [
        str(i) for i in range(100)
    ]


@pytest.mark.parametrize(("compression", "suffix"), [("zstd", ".zst"), ("gzip", ".gz")])
def test_sealed_archives_are_compressed(tmp_path: Path, compression: str, suffix: str):
    with RollingWriter(tmp_path, "c-{seq}.events", policy=CountPolicy(10),
                       compression=compression) as writer:  # fmt: skip
        for i in range(25):
            writer.write({}, {"i": i})
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"c-{n}.events{suffix}" for n in range(3)]
    with ArchiveReader(tmp_path / files[0]) as reader:
        assert len(list(reader)) == 10
        assert reader.compression == compression and reader.sealed
    assert payloads(tmp_path) == [{"i": i} for i in range(25)]


def test_idle_and_age_policies_roll_on_tick(tmp_path: Path):
    writer = RollingWriter(tmp_path, "t-{seq}.events", policy=IdlePolicy(0.05))
    writer.write({}, b"a")
    assert writer.tick() is None
    time.sleep(0.06)
    rolled = writer.tick()
    assert rolled is not None and rolled.exists()
    writer.write({}, b"b")
    time.sleep(0.06)
    writer.write({}, b"c")  # an idle file is rolled before the next event goes in
    writer.close()
    assert [len(list(ArchiveReader(p))) for p in writer.finished] == [1, 1, 1]
    aged = RollingWriter(tmp_path / "age", "a-{seq}.events", policy=AgePolicy(0.0))
    aged.write({}, b"x")
    assert len(aged.finished) == 1


def test_hooks_are_called_and_a_failing_hook_loses_nothing(tmp_path: Path, caplog):
    opened: list[Path] = []
    closed: list[Path] = []

    def broken(path: Path) -> None:
        raise RuntimeError("hook failure")

    with caplog.at_level(logging.ERROR, logger="entrepot.archive"):
        writer = RollingWriter(
            tmp_path, "h-{seq}.events", policy=CountPolicy(2),
            on_open=[broken, opened.append], on_close=[broken, closed.append],
        )  # fmt: skip
        for i in range(4):
            writer.write({}, i)
        writer.close()
    assert [p.name for p in opened] == ["h-0.events.open", "h-1.events.open"]
    assert [p.name for p in closed] == ["h-0.events", "h-1.events"]
    assert all(p.exists() for p in closed)
    failures = [r for r in caplog.records if getattr(r, "event", "") == "archive.hook_failed"]
    assert len(failures) == 4
    assert "hook failure" in failures[0].getMessage()


def test_finished_archives_are_delivered_into_a_spool(tmp_path: Path):
    from entrepot.spool import Spool

    spool_dir = tmp_path / "spool"
    local = tmp_path / "local"
    closed: list[Path] = []
    with RollingWriter(local, "d-{seq}.events", policy=CountPolicy(3), compression="zstd",
                       spool=spool_dir, on_close=[closed.append]) as writer:  # fmt: skip
        for i in range(7):
            writer.write({"i": str(i)}, i)
    assert list(local.iterdir()) == []
    entries = Spool(spool_dir).list("new")
    assert sorted(e.name for e in entries) == [f"d-{n}.events.zst" for n in range(3)]
    assert all(p.parent == spool_dir / "new" for p in closed)
    assert payloads(spool_dir / "new") == list(range(7))


def test_a_failed_delivery_keeps_the_archive_locally(tmp_path: Path):
    class Refusing:
        path = None

        def publish_file(self, *args: Any, **kwargs: Any) -> str:
            raise OSError("disk full")

    with RollingWriter(tmp_path, "k-{seq}.events", spool=Refusing()) as writer:
        writer.write({}, b"kept")
    assert payloads(tmp_path) == [b"kept"]


def test_a_closed_writer_refuses_events(tmp_path: Path):
    writer = RollingWriter(tmp_path)
    writer.close()
    with pytest.raises(fmt.ArchiveError):
        writer.write({}, b"late")


def test_a_writer_dropped_without_close_leaves_its_events_for_recovery(tmp_path: Path):
    writer = RollingWriter(tmp_path, "d-{seq}.events")
    for number in range(10):
        writer.write({}, {"n": number})
    del writer
    gc.collect()
    RollingWriter(tmp_path, "d-{seq}.events").close()  # recovers the released file
    assert [p["n"] for p in payloads(tmp_path)] == list(range(10))


def test_a_file_that_is_no_archive_is_passed_over_by_a_set(tmp_path: Path):
    with RollingWriter(tmp_path, "s-{seq}.events") as writer:
        writer.write({}, b"kept")
    (tmp_path / "notes.events").write_text("not an archive")
    archives = ArchiveSet(str(tmp_path / "*.events"))
    assert [r.payload for r in archives] == [b"kept"]
    assert [(p.name, d.offset) for p, d in archives.damage] == [("notes.events", 0)]
    with pytest.raises(fmt.UnknownFormat):
        list(ArchiveSet(str(tmp_path / "*.events"), strict=True))


# -- recovery -------------------------------------------------------------------------


def abandoned(directory: Path, name: str, count: int, tail: bytes = b"") -> Path:
    """An archive whose writer died: records flushed, never sealed, maybe a torn tail."""
    directory.mkdir(parents=True, exist_ok=True)
    writer = ArchiveWriter(directory / name)
    for i in range(count):
        writer.write({"i": str(i)}, f"event {i}")
    writer.abort()
    with open(writer.open_path, "ab") as raw:
        raw.write(tail)
    return writer.open_path


def test_an_abandoned_file_is_cut_after_its_last_good_record_sealed_and_handed_on(tmp_path):
    torn = fmt.encode_record({"i": "late"}, "never finished")[:-7]
    open_path = abandoned(tmp_path, "r-0.events", 5, tail=torn)
    closed: list[Path] = []
    writer = RollingWriter(tmp_path, "r-{seq}.events", compression="gzip", on_close=[closed.append])
    assert not open_path.exists()
    assert [p.name for p in closed] == ["r-0.events.gz"] == [p.name for p in writer.finished]
    report = verify(closed[0])
    assert report.ok and report.sealed and report.records == 5
    writer.close()


def test_a_file_held_by_a_live_writer_is_left_alone(tmp_path: Path):
    live = ArchiveWriter(tmp_path / "live-0.events")
    live.write({}, b"busy")
    RollingWriter(tmp_path, "live-{seq}.events").close()
    assert live.open_path.exists()
    live.seal()


def test_files_of_other_templates_are_left_alone(tmp_path: Path):
    other = abandoned(tmp_path, "other.log", 1)
    RollingWriter(tmp_path, "mine-{seq}.events").close()
    assert other.exists()


def test_leftovers_of_an_interrupted_compression_are_settled(tmp_path: Path):
    source = abandoned(tmp_path, "z-0.events", 3)
    (tmp_path / "z-0.events.zst.open").write_bytes(b"\x28\xb5\x2f\xfd partial")
    writer = RollingWriter(tmp_path, "z-{seq}.events", compression="zstd")
    writer.close()
    assert not source.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["z-0.events.zst"]
    assert payloads(tmp_path) == ["event 0", "event 1", "event 2"]


def test_an_open_file_already_published_is_not_published_twice(tmp_path: Path):
    writer = ArchiveWriter(tmp_path / "dup-0.events")
    writer.write({}, b"once")
    writer.finish()
    # A crash between the final rename's link and unlink leaves both names.
    (tmp_path / "dup-0.events").hardlink_to(writer.open_path)
    writer.release()
    RollingWriter(tmp_path, "dup-{seq}.events").close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dup-0.events"]
    assert payloads(tmp_path) == [b"once"]


def test_an_open_file_without_a_header_is_removed(tmp_path: Path):
    (tmp_path / "e-0.events.open").write_bytes(b"")
    RollingWriter(tmp_path, "e-{seq}.events").close()
    assert list(tmp_path.iterdir()) == []


def test_a_failed_compression_leaves_the_sealed_file_for_the_next_start(tmp_path, monkeypatch):
    from entrepot.archive import compress

    def disk_full(src: Path, dst: Path, kind: str, *, durable: bool = True) -> int:
        dst.write_bytes(b"\x28\xb5\x2f\xfd partial")
        raise OSError(28, "No space left on device")

    writer = RollingWriter(tmp_path, "f-{seq}.events", compression="zstd")
    writer.write({}, b"precious")
    with monkeypatch.context() as patch:
        patch.setattr(compress, "compress_file", disk_full)
        with pytest.raises(OSError, match="No space"):
            writer.roll()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f-0.events.open"]
    RollingWriter(tmp_path, "f-{seq}.events", compression="zstd").close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f-0.events.zst"]
    assert payloads(tmp_path) == [b"precious"]


def test_interval_sync_writes_through_once_the_interval_has_passed(tmp_path: Path):
    every_time = ArchiveWriter(tmp_path / "a.events", sync=0)
    lazy = ArchiveWriter(tmp_path / "b.events", sync=3_600_000)
    for writer in (every_time, lazy):
        writer.write({}, b"one")
        writer.write({}, b"two")
    assert len(list(ArchiveReader(every_time.open_path))) == 2
    assert len(list(ArchiveReader(lazy.open_path))) == 0  # still in the write buffer
    lazy.flush()
    assert len(list(ArchiveReader(lazy.open_path))) == 2
    every_time.seal()
    lazy.seal()
