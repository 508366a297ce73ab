"""What every target gets from the base class, shown on the memory and file backends."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import IO

import pytest

from entrepot.errors import (
    ConfigError,
    ConnectionFailed,
    InvalidName,
    RemoteNotFound,
    VerificationFailed,
)
from entrepot.targets import RemoteInfo, is_partial, open_target, upload_many
from entrepot.targets import memory as memory_backend
from entrepot.targets.info import partial_name, split_name
from entrepot.targets.memory import MemoryTarget, get_store
from entrepot.targets.transfer import Progress
from entrepot.targets.url import parse_url


@pytest.fixture(autouse=True)
def _reset() -> object:
    yield
    memory_backend.reset()


def test_partial_names() -> None:
    tmp = partial_name("a/b.csv")
    assert tmp.startswith("a/.b.csv.")
    assert is_partial(tmp)
    assert not is_partial("a/b.csv")
    long = partial_name("x" * 250)
    assert len(long.encode()) <= 255


def test_split_name_checks_every_component() -> None:
    assert split_name("a/b/c.csv") == ["a", "b", "c.csv"]
    for bad in ("", "a/", "/a", "a/../b", "a/.b", "a\\b"):
        with pytest.raises((InvalidName, ConfigError)):
            split_name(bad)


def test_unknown_conflict_policy() -> None:
    with open_target("memory://p/x") as target, pytest.raises(ConfigError):
        target.upload_bytes(b"1", "a", conflict="overwrite")  # type: ignore[arg-type]


def test_upload_publishes_through_a_temporary_name() -> None:
    store = get_store("t1")
    seen: list[set[str]] = []

    class Spy(MemoryTarget):
        def _rename(self, src: str, dst: str) -> None:
            seen.append(set(store.files))
            super()._rename(src, dst)

    target = Spy(parse_url("memory://t1/drop"))
    target.upload_bytes(b"data", "a.csv")
    (before,) = seen
    assert "drop/a.csv" not in before
    assert any(is_partial(key) for key in before)
    assert set(store.files) == {"drop/a.csv"}


class HalfThenDrop(MemoryTarget):
    """Writes half the data, then loses its connection; counts its connections."""

    connects = 0
    cleanup_fails = False

    def _connect(self) -> None:
        type(self).connects += 1

    def _put(self, path: str, src: IO[bytes], size: int, progress: Progress) -> RemoteInfo | None:
        super()._put(path, src, size // 2, progress)
        raise ConnectionResetError("dropped")

    def _delete(self, path: str) -> None:
        if self.cleanup_fails:
            raise ConnectionRefusedError(111, "refused")
        super()._delete(path)


def test_failed_upload_is_cleaned_up_on_a_new_connection(tmp_path: Path) -> None:
    # Issue 10 item 6: the failure closes the connection; the clean-up opens another.
    local = tmp_path / "a.csv"
    local.write_bytes(b"0123456789")
    HalfThenDrop.connects = 0
    target = HalfThenDrop(parse_url("memory://t2/drop"))
    with pytest.raises(ConnectionFailed) as caught:
        target.upload(local, "a.csv")
    assert caught.value.transient
    assert isinstance(caught.value.__cause__, ConnectionResetError)
    assert get_store("t2").files == {}
    assert HalfThenDrop.connects == 2
    assert local.read_bytes() == b"0123456789"


def test_partial_that_cannot_be_cleaned_up_is_hidden_and_swept(tmp_path: Path) -> None:
    local = tmp_path / "a.csv"
    local.write_bytes(b"0123456789")
    target = HalfThenDrop(parse_url("memory://t2b/drop"))
    target.cleanup_fails = True
    with pytest.raises(ConnectionFailed):
        target.upload(local, "a.csv")
    assert "drop/a.csv" not in get_store("t2b").files
    assert target.list() == []  # the temporary copy is hidden...
    (leftover,) = get_store("t2b").files
    assert is_partial(leftover)
    target.cleanup_fails = False
    assert target.remove_partials(older_than=0) == [leftover.removeprefix("drop/")]
    assert get_store("t2b").files == {}  # ...and can be swept away


def test_short_write_fails_verification() -> None:
    class Short(MemoryTarget):
        def _put(
            self, path: str, src: IO[bytes], size: int, progress: Progress
        ) -> RemoteInfo | None:
            return super()._put(path, src, size - 1, progress)

    target = Short(parse_url("memory://t3/drop"))
    with pytest.raises(VerificationFailed):
        target.upload_bytes(b"abcdef", "a.csv")
    assert get_store("t3").files == {}
    target.upload_bytes(b"abcdef", "b.csv", verify=False)  # nobody checks: it is published
    assert get_store("t3").files["drop/b.csv"][0] == b"abcde"


def test_stale_connection_is_reopened_once() -> None:
    calls: list[str] = []

    class Flaky(MemoryTarget):
        drops = 1

        def _connect(self) -> None:
            calls.append("connect")

        def _stat(self, path: str) -> RemoteInfo | None:
            if self.drops:
                self.drops -= 1
                raise BrokenPipeError("stale")
            return super()._stat(path)

    target = Flaky(parse_url("memory://t4/drop"))
    target.connect()
    assert target.stat("x") is None
    assert calls == ["connect", "connect"]


def test_no_reconnect_when_disabled() -> None:
    class Dead(MemoryTarget):
        def _stat(self, path: str) -> RemoteInfo | None:
            raise BrokenPipeError("gone")

    target = Dead(parse_url("memory://t5/drop"), reconnect=False)
    target.connect()
    with pytest.raises(ConnectionFailed):
        target.stat("x")


def test_errors_name_the_place_and_never_the_password() -> None:
    target = open_target("memory://t6/drop", password="hunter2")
    with pytest.raises(RemoteNotFound) as caught:
        target.read_bytes("missing.csv")
    exc = caught.value
    assert exc.path == "/drop/missing.csv"
    assert "hunter2" not in str(exc) + repr(exc) + repr(target)


def test_lifecycle_lines_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="entrepot.targets")
    with open_target("memory://t7/drop", password="hunter2") as target:
        target.upload_bytes(b"x", "a.csv")
    events = [getattr(r, "event", None) for r in caplog.records]
    assert "targets.uploaded" in events
    assert "hunter2" not in caplog.text


def test_upload_many_reports_each_file(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_bytes(b"1")
    results = upload_many(
        "memory://t8/drop", [good, (good, "sub/renamed.csv"), (good, "../escape")], parallel=2
    )
    assert [r.ok for r in results] == [True, True, False]
    assert isinstance(results[2].error, InvalidName)
    assert sorted(get_store("t8").files) == ["drop/good.csv", "drop/sub/renamed.csv"]


def test_upload_many_rejects_a_bad_url_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        upload_many("nope://x", [tmp_path / "a"], parallel=2)


def test_file_target_writes_durably_and_maps_errors(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    with open_target(remote.as_uri()) as target:
        info = target.upload_bytes(b"hello", "x/y.csv")
        assert info.size == 5
        assert (remote / "x" / "y.csv").read_bytes() == b"hello"
        assert sorted(os.listdir(remote / "x")) == ["y.csv"]
    if os.geteuid() != 0:  # root ignores permission bits
        remote.chmod(0o500)
        try:
            with open_target(remote.as_uri()) as target, pytest.raises(Exception) as caught:
                target.upload_bytes(b"1", "z.csv")
            assert type(caught.value).__name__ == "PermissionDenied"
        finally:
            remote.chmod(0o700)


def test_file_target_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(RemoteNotFound):
        open_target(tmp_path / "absent").connect()
    assert not (tmp_path / "absent").exists()  # never created by a sub-folder upload
    target = open_target(tmp_path / "absent")
    with pytest.raises(RemoteNotFound):
        target.upload_bytes(b"1", "a/b.csv")
    assert not (tmp_path / "absent").exists()


def test_download_replaces_atomically(tmp_path: Path) -> None:
    with open_target("memory://t9/drop") as target:
        target.upload_bytes(b"new content", "a.csv")
        local = tmp_path / "a.csv"
        local.write_bytes(b"old")
        target.download("a.csv", local)
    assert local.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]
