"""The contract every target passes: one suite, run against file, memory and real servers.

The ``remote`` fixture gives, for each backend, a fresh empty remote folder
and the options to open it; FTP, FTPS, SFTP and S3 run against real servers
on loopback (see ``tests/servers``).
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from entrepot.errors import InvalidName, RemoteExists, RemoteNotFound
from entrepot.targets import RemoteInfo, Target, open_target, upload_many
from entrepot.targets import memory as memory_backend
from entrepot.targets.info import partial_name

MiB = 1024 * 1024
BACKENDS = ["file", "memory", "ftp", "ftps", "sftp", "s3"]
pytestmark = pytest.mark.server


@dataclass
class Remote:
    """A fresh remote folder and how to open it."""

    kind: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)
    server: Any = None

    def open(self, **more: Any) -> Target:
        return open_target(self.url, **{**self.options, **more})


def _grouped(kinds: list[str]) -> list[Any]:
    """One xdist group per server kind, so each worker starts as few servers as it can."""
    return [
        pytest.param(kind, marks=pytest.mark.xdist_group(f"targets-{kind}"))
        if kind not in {"file", "memory"}
        else kind
        for kind in kinds
    ]


@pytest.fixture(params=_grouped(BACKENDS))
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> Remote:
    kind = request.param
    if kind == "file":
        folder = tmp_path / "remote"
        folder.mkdir()
        return Remote(kind, folder.as_uri())
    if kind == "memory":
        return Remote(kind, f"memory://contract-{uuid.uuid4().hex[:8]}/drop")
    server = request.getfixturevalue(f"{kind}_server")
    return Remote(kind, server.url, dict(server.options), server)


@pytest.fixture(autouse=True)
def _forget_memory_stores() -> Any:
    yield
    memory_backend.reset()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_upload_then_read_back(remote: Remote, tmp_path: Path) -> None:
    data = os.urandom(70_000)
    local = write(tmp_path / "data.csv", data)
    with remote.open() as target:
        info = target.upload(local, "data.csv")
        assert info.name == "data.csv"
        assert info.size == len(data)
        assert target.stat("data.csv") is not None
        assert target.stat("data.csv").size == len(data)  # type: ignore[union-attr]
        assert target.exists("data.csv")
        assert [e.name for e in target.list()] == ["data.csv"]
        target.download("data.csv", tmp_path / "back.csv")
    assert (tmp_path / "back.csv").read_bytes() == data
    assert local.read_bytes() == data


def test_upload_bytes_and_read_bytes(remote: Remote) -> None:
    with remote.open() as target:
        target.upload_bytes(b"lock", "write")
        assert target.read_bytes("write") == b"lock"
        target.upload_bytes(b"", "empty")
        empty = target.stat("empty")
        assert empty is not None
        assert (empty.name, empty.size, empty.is_dir) == ("empty", 0, False)
        assert target.read_bytes("empty") == b""


def test_names_with_spaces_and_accents_and_sub_folders(remote: Remote, tmp_path: Path) -> None:
    name = "données été/rapport de Zoë 2024.csv"
    local = write(tmp_path / "x.csv", b"caf\xc3\xa9\n")
    with remote.open() as target:
        target.upload(local, name)
        target.upload_bytes(b"1", "a/b/c.txt")
        assert [e.name for e in target.list("données été")] == [name]
        assert [e.name for e in target.list("a/b")] == ["a/b/c.txt"]
        assert target.read_bytes(name) == b"caf\xc3\xa9\n"
        top = {e.name for e in target.list()}
        assert {"données été", "a"} <= top


def test_hostile_names_are_refused(remote: Remote) -> None:
    with remote.open() as target:
        for bad in ["../x", "a/../../x", "a//b", "/abs", ".hidden", "x\x00y"]:
            with pytest.raises(InvalidName):
                target.upload_bytes(b"x", bad)


def test_conflict_replace(remote: Remote) -> None:
    with remote.open() as target:
        target.upload_bytes(b"old", "f.txt")
        info = target.upload_bytes(b"newer", "f.txt", conflict="replace")
        assert info.size == 5
        assert target.read_bytes("f.txt") == b"newer"
        assert [e.name for e in target.list()] == ["f.txt"]


def test_conflict_skip_identical_only(remote: Remote) -> None:
    with remote.open() as target:
        first = target.upload_bytes(b"same", "f.txt")
        kept = target.upload_bytes(b"same", "f.txt", conflict="skip")
        assert kept.size == first.size == 4
        target.upload_bytes(b"other!", "f.txt", conflict="skip")
        assert target.read_bytes("f.txt") == b"other!"


def test_conflict_fail(remote: Remote) -> None:
    with remote.open() as target:
        target.upload_bytes(b"first", "f.txt")
        with pytest.raises(RemoteExists) as caught:
            target.upload_bytes(b"second", "f.txt", conflict="fail")
        assert caught.value.path is not None
        assert caught.value.path.endswith("f.txt")
        assert target.read_bytes("f.txt") == b"first"
        assert [e.name for e in target.list()] == ["f.txt"]


def test_conflict_rename(remote: Remote) -> None:
    with remote.open() as target:
        target.upload_bytes(b"1", "f.tar.gz")
        second = target.upload_bytes(b"2", "f.tar.gz", conflict="rename")
        third = target.upload_bytes(b"3", "f.tar.gz", conflict="rename")
        assert (second.name, third.name) == ("f-1.tar.gz", "f-2.tar.gz")
        assert target.read_bytes("f-2.tar.gz") == b"3"


def test_rename_delete_and_missing(remote: Remote, tmp_path: Path) -> None:
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
        local = tmp_path / "local"
        local.mkdir()
        with pytest.raises(RemoteNotFound):
            target.download("nothing.csv", local / "n.csv")
        assert list(local.iterdir()) == []
        with pytest.raises(RemoteNotFound):
            target.list("no-such-folder")


def test_makedirs_is_idempotent(remote: Remote) -> None:
    with remote.open() as target:
        target.makedirs("x/y")
        target.makedirs("x/y")
        target.upload_bytes(b"1", "x/y/z")
        assert [e.name for e in target.list("x/y")] == ["x/y/z"]


def test_partial_uploads_are_hidden_and_never_under_the_final_name(
    remote: Remote, tmp_path: Path
) -> None:
    more: dict[str, Any] = {}
    size = 3 * MiB + 17
    if remote.kind == "s3":  # a single PUT reports progress only once it is done
        more = {"multipart_threshold": 5 * MiB, "multipart_chunksize": 5 * MiB}
        size = 11 * MiB + 17
    data = os.urandom(size)
    local = write(tmp_path / "big.bin", data)
    seen: list[RemoteInfo | None] = []
    listed: list[list[str]] = []
    with remote.open(**more) as target, remote.open() as observer:
        lock = threading.Lock()

        def look(_: int) -> None:
            with lock:  # S3 parts report progress from several threads
                if not seen:
                    seen.append(observer.stat("big.bin"))
                    listed.append([e.name for e in observer.list()])

        info = target.upload(local, "big.bin", progress=look, verify="content")
        assert info.size == len(data)
        if remote.kind != "memory":  # memory writes in one step, then reports progress
            assert seen == [None]
            assert listed == [[]]
        back = target.read_bytes("big.bin")
    assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest()


def test_progress_adds_up(remote: Remote, tmp_path: Path) -> None:
    data = os.urandom(2 * 1024 * 1024 + 5)
    local = write(tmp_path / "p.bin", data)
    total = 0
    lock = threading.Lock()

    def count(n: int) -> None:
        nonlocal total
        with lock:
            total += n

    with remote.open() as target:
        target.upload(local, "p.bin", progress=count)
    assert total == len(data)


def test_connection_is_reused_and_url_is_masked(remote: Remote) -> None:
    target = remote.open()
    try:
        for n in range(20):
            target.upload_bytes(str(n).encode(), f"f{n:02}.txt")
        assert len(target.list()) == 20
    finally:
        target.close()
    password = remote.options.get("password")
    if password:
        assert password not in target.url
        assert password not in repr(target)


def test_upload_many_in_parallel(remote: Remote, tmp_path: Path) -> None:
    files = [write(tmp_path / f"n{n:03}.csv", os.urandom(4096)) for n in range(30)]
    results = upload_many(remote.url, files, parallel=3, **remote.options)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert [r.name for r in results] == [f.name for f in files]
    with remote.open() as target:
        assert [e.name for e in target.list()] == [f.name for f in files]
        assert target.read_bytes("n007.csv") == files[7].read_bytes()


def test_remove_partials_sweeps_leftovers_only(remote: Remote) -> None:
    with remote.open() as target:
        target.upload_bytes(b"kept", "sub/keep.csv")
        stale = partial_name("sub/died.csv")
        target._call(stale, target._put, stale, io.BytesIO(b"half"), 4, target._progress(None))
        assert [e.name for e in target.list("sub")] == ["sub/keep.csv"]
        assert target.remove_partials("sub", older_than=3600) == []  # too recent
        assert target.remove_partials("sub", older_than=-60) == [stale]
        assert target.stat(stale.replace("/.", "/x")) is None
        assert [e.name for e in target.list("sub")] == ["sub/keep.csv"]
        assert target.read_bytes("sub/keep.csv") == b"kept"
