"""The target contract as pytest mixins: what every backend must do, tested the same way.

A backend (ours or a third party's) runs the contract by subclassing the
mixins and providing one fixture, ``remote``: a fresh, *empty* remote folder
for each test, as a :class:`RemoteFolder` (its URL and the options to open
it).  Every built-in target — file, memory, FTP, FTPS, SFTP, S3 — passes it
against real servers; so should yours::

    import pytest
    from entrepot.testing.targets import RemoteFolder, TargetContract

    class TestMyTarget(TargetContract):
        @pytest.fixture
        def remote(self, my_server):
            return RemoteFolder(my_server.url, {"password": my_server.password})

The mixins can also be taken one by one (:class:`UploadContract`,
:class:`ConflictContract`, :class:`ListingContract`,
:class:`PartialsContract`, :class:`ConnectionContract`).  Two class
attributes describe what a backend cannot show: ``streams_uploads = False``
for one that writes a file in one step (nothing to observe half-way), and
``large_upload_options`` for the options under which a large upload is sent
in pieces (S3: a low multipart threshold).
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

from entrepot.errors import InvalidName, RemoteExists, RemoteNotFound
from entrepot.targets import RemoteInfo, Target, open_target, upload_many
from entrepot.targets.info import partial_name

__all__ = [
    "ConflictContract",
    "ConnectionContract",
    "ListingContract",
    "PartialsContract",
    "RemoteFolder",
    "TargetContract",
    "TargetFixtures",
    "UploadContract",
]

MiB = 1024 * 1024


@dataclass
class RemoteFolder:
    """A fresh, empty remote folder: its URL and the options to open it."""

    url: str
    options: dict[str, Any] = field(default_factory=dict)

    def open(self, **more: Any) -> Target:
        """A target on the folder (``more`` options win)."""
        return open_target(self.url, **{**self.options, **more})


class TargetFixtures:
    """The fixture a backend provides, and what it cannot show; see the module docstring."""

    #: False for a backend that writes a file in one step.
    streams_uploads: ClassVar[bool] = True
    #: Options under which a large upload goes in pieces, reporting progress as it goes.
    large_upload_options: ClassVar[dict[str, Any]] = {}

    @pytest.fixture
    def remote(self) -> RemoteFolder:
        """A fresh, empty remote folder for each test."""
        raise NotImplementedError("a backend's test class must define the 'remote' fixture")


def _local(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


class UploadContract(TargetFixtures):
    """Uploads and downloads: atomic, verified, with progress."""

    def test_upload_then_read_back(self, remote: RemoteFolder, tmp_path: Path) -> None:
        data = os.urandom(70_000)
        local = _local(tmp_path, "data.csv", data)
        with remote.open() as target:
            info = target.upload(local, "data.csv")
            assert (info.name, info.size) == ("data.csv", len(data))
            stat = target.stat("data.csv")
            assert stat is not None and stat.size == len(data)
            assert target.exists("data.csv")
            assert [e.name for e in target.list()] == ["data.csv"]
            target.download("data.csv", tmp_path / "back.csv")
        assert (tmp_path / "back.csv").read_bytes() == data
        assert local.read_bytes() == data

    def test_upload_bytes_and_read_bytes(self, remote: RemoteFolder) -> None:
        with remote.open() as target:
            target.upload_bytes(b"lock", "write")
            assert target.read_bytes("write") == b"lock"
            target.upload_bytes(b"", "empty")
            empty = target.stat("empty")
            assert empty is not None
            assert (empty.name, empty.size, empty.is_dir) == ("empty", 0, False)
            assert target.read_bytes("empty") == b""

    def test_partial_uploads_are_hidden_and_never_under_the_final_name(
        self, remote: RemoteFolder, tmp_path: Path
    ) -> None:
        size = (11 if self.large_upload_options else 3) * MiB + 17
        data = os.urandom(size)
        local = _local(tmp_path, "big.bin", data)
        seen: list[RemoteInfo | None] = []
        listed: list[list[str]] = []
        lock = threading.Lock()
        with remote.open(**self.large_upload_options) as target, remote.open() as observer:

            def look(_: int) -> None:
                with lock:  # progress may come from several threads (S3 parts)
                    if not seen:
                        seen.append(observer.stat("big.bin"))
                        listed.append([e.name for e in observer.list()])

            info = target.upload(local, "big.bin", progress=look, verify="content")
            assert info.size == len(data)
            if self.streams_uploads:
                assert seen == [None]
                assert listed == [[]]
            back = target.read_bytes("big.bin")
        assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest()

    def test_progress_adds_up(self, remote: RemoteFolder, tmp_path: Path) -> None:
        local = _local(tmp_path, "p.bin", os.urandom(2 * MiB + 5))
        total = 0
        lock = threading.Lock()

        def count(n: int) -> None:
            nonlocal total
            with lock:
                total += n

        with remote.open() as target:
            target.upload(local, "p.bin", progress=count)
        assert total == local.stat().st_size

    def test_hostile_names_are_refused(self, remote: RemoteFolder) -> None:
        with remote.open() as target:
            for bad in ["../x", "a/../../x", "a//b", "/abs", ".hidden", "x\x00y", "a\nb"]:
                with pytest.raises(InvalidName):
                    target.upload_bytes(b"x", bad)

    def test_names_with_spaces_accents_brackets_and_sub_folders(
        self, remote: RemoteFolder, tmp_path: Path
    ) -> None:
        name = "données été [1]/rapport de Zoë 2024.csv"
        local = _local(tmp_path, "x.csv", b"caf\xc3\xa9\n")
        with remote.open() as target:
            target.upload(local, name)
            target.upload_bytes(b"1", "a/b/c.txt")
            assert [e.name for e in target.list("données été [1]")] == [name]
            assert [e.name for e in target.list("a/b")] == ["a/b/c.txt"]
            assert target.read_bytes(name) == b"caf\xc3\xa9\n"
            assert {"données été [1]", "a"} <= {e.name for e in target.list()}


class ConflictContract(TargetFixtures):
    """The conflict policies: replace, skip, fail, rename."""

    def test_conflict_replace(self, remote: RemoteFolder) -> None:
        with remote.open() as target:
            target.upload_bytes(b"old", "f.txt")
            assert target.upload_bytes(b"newer", "f.txt", conflict="replace").size == 5
            assert target.read_bytes("f.txt") == b"newer"
            assert [e.name for e in target.list()] == ["f.txt"]

    def test_conflict_skip_identical_only(self, remote: RemoteFolder) -> None:
        with remote.open() as target:
            first = target.upload_bytes(b"same", "f.txt")
            kept = target.upload_bytes(b"same", "f.txt", conflict="skip")
            assert kept.size == first.size == 4
            target.upload_bytes(b"other!", "f.txt", conflict="skip")
            assert target.read_bytes("f.txt") == b"other!"

    def test_conflict_fail(self, remote: RemoteFolder) -> None:
        with remote.open() as target:
            target.upload_bytes(b"first", "f.txt")
            with pytest.raises(RemoteExists) as caught:
                target.upload_bytes(b"second", "f.txt", conflict="fail")
            assert caught.value.path is not None
            assert caught.value.path.endswith("f.txt")
            assert target.read_bytes("f.txt") == b"first"
            assert [e.name for e in target.list()] == ["f.txt"]

    def test_conflict_rename(self, remote: RemoteFolder) -> None:
        with remote.open() as target:
            target.upload_bytes(b"1", "f.tar.gz")
            second = target.upload_bytes(b"2", "f.tar.gz", conflict="rename")
            third = target.upload_bytes(b"3", "f.tar.gz", conflict="rename")
            assert (second.name, third.name) == ("f-1.tar.gz", "f-2.tar.gz")
            assert target.read_bytes("f-2.tar.gz") == b"3"


class ListingContract(TargetFixtures):
    """Listings, folders, renames, deletes, and what is missing."""

    def test_rename_delete_and_missing(self, remote: RemoteFolder, tmp_path: Path) -> None:
        with remote.open() as target:
            target.upload_bytes(b"x", "a.txt")
            target.rename("a.txt", "sub/b.txt")
            assert target.stat("a.txt") is None
            assert target.read_bytes("sub/b.txt") == b"x"
            target.delete("sub/b.txt")
            assert not target.exists("sub/b.txt")
            with pytest.raises(RemoteNotFound):
                target.delete("sub/b.txt")
            target.delete("sub/b.txt", missing_ok=True)
            (tmp_path / "local").mkdir()
            with pytest.raises(RemoteNotFound):
                target.download("nothing.csv", tmp_path / "local" / "n.csv")
            assert list((tmp_path / "local").iterdir()) == []

    def test_missing_folder_is_not_found(self, remote: RemoteFolder) -> None:
        with remote.open() as target:
            target.upload_bytes(b"x", "present.csv")
            with pytest.raises(RemoteNotFound):
                target.list("no-such-folder")
            with pytest.raises(RemoteNotFound):
                target.list("present.csv/inside")

    def test_makedirs_is_idempotent(self, remote: RemoteFolder) -> None:
        with remote.open() as target:
            target.makedirs("x/y")
            target.makedirs("x/y")
            target.upload_bytes(b"1", "x/y/z")
            assert [e.name for e in target.list("x/y")] == ["x/y/z"]
            assert [(e.name, e.is_dir) for e in target.list()] == [("x", True)]

    def test_listing_tells_files_from_folders(self, remote: RemoteFolder) -> None:
        with remote.open() as target:
            target.upload_bytes(b"12345", "data[1]")
            target.upload_bytes(b"1", "box[2]/in.csv")
            entries = {e.name: (e.is_dir, e.size) for e in target.list()}
            assert entries == {"box[2]": (True, 0), "data[1]": (False, 5)}
            assert [e.name for e in target.list("box[2]")] == ["box[2]/in.csv"]

    def test_listing_gives_times(self, remote: RemoteFolder) -> None:
        import time

        with remote.open() as target:
            target.upload_bytes(b"1", "timed.csv")
            (entry,) = target.list()
        assert entry.mtime is not None
        assert abs(entry.mtime - time.time()) < 3600


class PartialsContract(TargetFixtures):
    """Temporary names left by uploads that died are hidden and can be swept."""

    def test_remove_partials_sweeps_leftovers_only(self, remote: RemoteFolder) -> None:
        with remote.open() as target:
            target.upload_bytes(b"kept", "sub/keep.csv")
            stale = partial_name("sub/died.csv")
            # Written as an upload that died would leave it.
            target._call(stale, target._put, stale, io.BytesIO(b"half"), 4, target._progress(None))
            assert [e.name for e in target.list("sub")] == ["sub/keep.csv"]
            assert target.remove_partials("sub", older_than=3600) == []  # too recent
            assert target.remove_partials("sub", older_than=-60) == [stale]
            assert [e.name for e in target.list("sub")] == ["sub/keep.csv"]
            assert target.read_bytes("sub/keep.csv") == b"kept"


class ConnectionContract(TargetFixtures):
    """One connection for many files, parallel uploads, secrets never shown."""

    def test_connection_is_reused_and_url_is_masked(self, remote: RemoteFolder) -> None:
        target = remote.open()
        try:
            for n in range(20):
                target.upload_bytes(str(n).encode(), f"f{n:02}.txt")
            assert len(target.list()) == 20
            assert target._connections == 1
        finally:
            target.close()
        secret = remote.options.get("password") or remote.options.get("secret_key")
        if secret:
            assert secret not in target.url
            assert secret not in repr(target)

    def test_upload_many_in_parallel(self, remote: RemoteFolder, tmp_path: Path) -> None:
        files = [_local(tmp_path, f"n{n:03}.csv", os.urandom(4096)) for n in range(30)]
        results = upload_many(remote.url, files, parallel=3, **remote.options)
        assert all(r.ok for r in results), [r.error for r in results if not r.ok]
        assert [r.name for r in results] == [f.name for f in files]
        with remote.open() as target:
            assert [e.name for e in target.list()] == [f.name for f in files]
            assert target.read_bytes("n007.csv") == files[7].read_bytes()


class TargetContract(
    UploadContract, ConflictContract, ListingContract, PartialsContract, ConnectionContract
):
    """The whole target contract."""
