"""The shoebox facade: the seed's usage example, roll checkers, callbacks and uploads."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from entrepot.compat import shoebox
from entrepot.compat.shoebox import (
    ArchiveCallback,
    CallbackList,
    ChangeExtensionCallback,
    DeleteFileCallback,
    MoveFileCallback,
    NeverRollChecker,
    NoMoreFiles,
    ReadingRollManager,
    RollChecker,
    SizeRollChecker,
    TimeRollChecker,
    UploadCallback,
    WritingRollManager,
    roll_checker,
    roll_manager,
)
from entrepot.errors import ConfigError
from tests.unit.test_archive_shoebox_v1 import shoebox_archive


def read_all(manager: ReadingRollManager) -> list[tuple[dict[str, str], Any]]:
    events = []
    while True:
        try:
            events.append(manager.read())
        except NoMoreFiles:
            return events


class Recorder(ArchiveCallback):
    """Notes every call (configured by keywords, like any shoebox callback)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[tuple[str, str]] = []

    def on_open(self, filename: str) -> None:
        self.calls.append(("open", filename))

    def on_close(self, filename: str) -> str:
        self.calls.append(("close", filename))
        return filename


class Broken(ArchiveCallback):
    def on_open(self, filename: str) -> None:
        raise RuntimeError("open hook broke")

    def on_close(self, filename: str) -> str:
        raise RuntimeError("close hook broke")


def test_the_seed_usage_example_runs_as_written(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # --- the seed's example, ported to Python 3 (only the import is new) ---
    checker = roll_checker.SizeRollChecker(roll_size_mb=100)  # 100mb files
    x = roll_manager.WritingRollManager("test_%c.events", checker)
    for index in range(10):
        x.write({"index": str(index)}, "payload_%d" % index)  # noqa: UP031 - as written
    x.close()

    manager = roll_manager.ReadingRollManager("test_*.events")
    seen = []
    while True:
        try:
            metadata, json_payload = manager.read()
        except roll_manager.NoMoreFiles:
            break
        seen.append((metadata, json_payload))
    # --- end of the example ---
    assert seen == [({"index": str(i)}, f"payload_{i}") for i in range(10)]
    assert len(list(tmp_path.glob("test_*.events"))) == 1
    assert not list(tmp_path.glob("*.open"))


def test_size_checker_rolls_and_files_are_read_back_in_order(tmp_path: Path):
    writer = WritingRollManager("ev-%Y%m%d-{seq}.events", SizeRollChecker(roll_size_mb=0.0002),
                                directory=str(tmp_path))  # fmt: skip
    for index in range(40):
        writer.write({"index": str(index)}, f'{{"n": {index}}}')
    writer.close()
    assert len(writer.finished) > 3
    reader = ReadingRollManager("ev-*.events", directory=str(tmp_path))
    assert [m["index"] for m, _ in read_all(reader)] == [str(i) for i in range(40)]


def test_time_and_never_checkers(tmp_path: Path):
    timed = WritingRollManager("t-{seq}.ev", TimeRollChecker(roll_minutes=0), str(tmp_path))
    for _ in range(3):
        timed.write({}, "x")
    timed.close()
    assert len(timed.finished) == 3
    never = WritingRollManager("n-{seq}.ev", NeverRollChecker(), str(tmp_path))
    for _ in range(3):
        never.write({}, "x")
    never.close()
    assert len(never.finished) == 1


def test_a_custom_checker_is_started_for_each_archive(tmp_path: Path):
    class EveryTwo(RollChecker):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.starts = 0

        def start(self, archive: Any) -> None:
            self.starts += 1

        def check(self, archive: Any) -> bool:
            return bool(archive.records >= 2)

    checker = EveryTwo()
    writer = WritingRollManager("c-{seq}.ev", checker, str(tmp_path))
    for _ in range(5):
        writer.write({}, "x")
    writer.close()
    assert checker.starts == 3 and len(writer.finished) == 3


def test_callbacks_see_files_opened_and_closed_when_writing_and_reading(tmp_path: Path):
    recorder = Recorder()
    writer = WritingRollManager("w-{seq}.ev", NeverRollChecker(), str(tmp_path), recorder)
    writer.write({"a": "b"}, "p")
    writer.close()
    final = str(tmp_path / "w-0.ev")
    assert recorder.calls == [("open", final + ".open"), ("close", final)]
    reading = Recorder()
    assert read_all(ReadingRollManager("w-*.ev", str(tmp_path), reading)) == [({"a": "b"}, "p")]
    assert reading.calls == [("open", final), ("close", final)]


def test_a_callback_list_is_built_from_names_and_chains_the_file_name(tmp_path: Path):
    done = tmp_path / "done"
    done.mkdir()
    callbacks = CallbackList(
        callback_list="entrepot.compat.shoebox:ChangeExtensionCallback, "
        "entrepot.compat.shoebox.MoveFileCallback",
        new_extension=".ready",
        destination_folder=str(done),
    )
    writer = WritingRollManager("m-{seq}.ev", NeverRollChecker(), str(tmp_path), callbacks)
    writer.write({}, "moved")
    writer.close()
    assert [p.name for p in done.iterdir()] == ["m-0.ev.ready"]
    assert read_all(ReadingRollManager("*.ready", str(done))) == [({}, "moved")]


def test_a_failing_callback_is_logged_and_the_others_still_run(tmp_path: Path, caplog):
    recorder = Recorder()
    callbacks = CallbackList(callbacks=[Broken(), recorder])
    with caplog.at_level(logging.ERROR, logger="entrepot"):
        writer = WritingRollManager("f-{seq}.ev", NeverRollChecker(), str(tmp_path), callbacks)
        writer.write({}, "kept")
        writer.close()
    assert [call for call, _ in recorder.calls] == ["open", "close"]
    assert "close hook broke" in caplog.text and "open hook broke" in caplog.text
    assert read_all(ReadingRollManager("f-*.ev", str(tmp_path))) == [({}, "kept")]


def test_delete_callback_removes_the_closed_file(tmp_path: Path):
    callbacks = CallbackList(callbacks=[DeleteFileCallback()])
    writer = WritingRollManager("d-{seq}.ev", NeverRollChecker(), str(tmp_path), callbacks)
    writer.write({}, "gone")
    writer.close()
    assert list(tmp_path.iterdir()) == []


def test_move_never_replaces_an_existing_file(tmp_path: Path):
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "x.ev").write_text("older")
    source = tmp_path / "x.ev"
    source.write_text("newer")
    with pytest.raises(FileExistsError):
        MoveFileCallback(destination_folder=str(dest)).on_close(str(source))
    assert (dest / "x.ev").read_text() == "older"
    assert ChangeExtensionCallback().on_close(str(source)).endswith("x.ev.done")


def test_an_unknown_callback_name_is_a_config_error():
    with pytest.raises(ConfigError):
        CallbackList(callback_list="no.such.module:Thing")


def test_the_upload_callback_ships_closed_archives_to_a_target_url(tmp_path: Path):
    pytest.importorskip("entrepot.targets")
    remote = tmp_path / "remote"
    remote.mkdir()
    upload = UploadCallback(url=f"file://{remote}")
    writer = WritingRollManager("u-{seq}.ev", SizeRollChecker(roll_size_mb=0.0005),
                                str(tmp_path / "local"), upload)  # fmt: skip
    for index in range(20):
        writer.write({"i": str(index)}, "x" * 50)
    writer.close()
    names = sorted(p.name for p in remote.iterdir())
    assert names == sorted(p.name for p in writer.finished) and len(names) > 1
    assert [m["i"] for m, _ in read_all(ReadingRollManager("u-*.ev", str(remote)))] == [
        str(i) for i in range(20)
    ]
    with pytest.raises(ConfigError):
        UploadCallback()


def test_files_written_by_shoebox_are_read_through_the_facade(tmp_path: Path):
    events = [({"index": "0", "région": "Genève"}, "payload_0 ☕".encode()), ({}, b"")]
    (tmp_path / "old_1.events").write_bytes(shoebox_archive(events))
    reader = ReadingRollManager("old_*.events", directory=str(tmp_path))
    assert read_all(reader) == [({"index": "0", "région": "Genève"}, "payload_0 ☕"), ({}, "")]


def test_json_payloads_come_back_as_json_text(tmp_path: Path):
    writer = WritingRollManager("j-{seq}.ev", NeverRollChecker(), str(tmp_path))
    writer.write({}, {"a": [1, 2]})
    writer.write({}, b"\xff\xfe")
    writer.close()
    payloads = [p for _, p in read_all(ReadingRollManager("j-*.ev", str(tmp_path)))]
    assert payloads == ['{"a": [1, 2]}', b"\xff\xfe"]
    assert shoebox.roll_manager.NoMoreFiles is NoMoreFiles
