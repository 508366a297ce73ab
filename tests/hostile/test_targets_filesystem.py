"""A ``file://`` target against a full disk and symbolic links.

Issue 10 items covered here:

* 6 — ENOSPC while uploading leaves no hidden temporary file behind: the
  clean-up of a failed upload runs even though the error closed the
  target's connection (shown on a real 1 MiB tmpfs, and for every backend
  on the base class);
* 10b — ``get`` (and the listing ``fetch`` works from) never follows a
  symbolic link in a ``file://`` source;
* 10c — ``put --name linked/x`` never writes through a symbolic link in a
  sub-folder of the target folder, even one swapped in between the folder
  check and the write.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from entrepot.errors import PermissionDenied, TransientTargetError
from entrepot.targets import RemoteInfo, open_target
from entrepot.targets.file import FileTarget
from entrepot.targets.transfer import Progress
from entrepot.targets.url import parse_url
from tests.hostile._targets import entrepot
from tests.servers._common import server_unavailable


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a real file system that really fills up."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        server_unavailable(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


# -- item 6 ----------------------------------------------------------------------------------


def test_full_disk_leaves_no_hidden_partial(small_disk: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024))
    for attempt in range(2):  # the next attempt must not add another either
        with open_target(small_disk.as_uri()) as target, pytest.raises(TransientTargetError):
            target.upload(big, "big.bin")
        assert sorted(os.listdir(small_disk)) == [], attempt
    assert os.statvfs(small_disk).f_bfree == os.statvfs(small_disk).f_blocks
    done = entrepot("put", big, small_disk.as_uri())
    assert done.returncode == 5, done.stderr
    assert os.listdir(small_disk) == []


def test_clean_up_after_a_failure_that_closed_the_connection(tmp_path: Path) -> None:
    class FullDisk(FileTarget):
        def _put(
            self, path: str, src: IO[bytes], size: int, progress: Progress
        ) -> RemoteInfo | None:
            with self._folder(path) as (folder, base):
                fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL, dir_fd=folder)
                os.write(fd, src.read(size // 2))
                os.close(fd)
            raise OSError(28, "No space left on device")

    remote = tmp_path / "remote"
    remote.mkdir()
    local = tmp_path / "a.csv"
    local.write_bytes(b"0123456789" * 100)
    target = FullDisk(parse_url(remote.as_uri()))
    with pytest.raises(TransientTargetError):
        target.upload(local, "a.csv")
    assert target._connections == 2  # the failure closed it; the clean-up reopened it
    assert os.listdir(remote) == []


# -- item 10b --------------------------------------------------------------------------------


def test_links_in_a_source_folder_are_neither_listed_nor_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for you\n")
    source = tmp_path / "source"
    source.mkdir()
    (source / "data.csv").write_text("1\n")
    (source / "leak.csv").symlink_to(secret)
    (source / "dir-link").symlink_to(tmp_path)
    with open_target(source.as_uri()) as target:
        assert [e.name for e in target.list()] == ["data.csv"]
        with pytest.raises(PermissionDenied):
            target.download("leak.csv", tmp_path / "got.csv")
        with pytest.raises(PermissionDenied):
            target.read_bytes("dir-link/secret.txt")
        with pytest.raises(PermissionDenied):
            target.stat("leak.csv")
    assert not (tmp_path / "got.csv").exists()
    done = entrepot("get", (source / "leak.csv").as_uri(), tmp_path / "got.csv")
    assert done.returncode == 6, done.stderr
    assert "symbolic link" in done.stderr
    assert not (tmp_path / "got.csv").exists()


# -- item 10c --------------------------------------------------------------------------------


def test_put_never_writes_through_a_linked_sub_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target_folder = tmp_path / "target"
    target_folder.mkdir()
    (target_folder / "linked").symlink_to(outside)
    local = tmp_path / "x.csv"
    local.write_text("1\n")
    done = entrepot("put", local, target_folder.as_uri(), "--name", "linked/x")
    assert done.returncode == 6, done.stderr
    assert "symbolic link" in done.stderr
    assert os.listdir(outside) == []
    with open_target(target_folder.as_uri()) as target:
        for call in (
            lambda: target.upload(local, "linked/deeper/x"),
            lambda: target.makedirs("linked/sub"),
            lambda: target.rename("x", "linked/x"),
            lambda: target.delete("linked/x"),
        ):
            with pytest.raises(PermissionDenied):
                call()
    assert os.listdir(outside) == []


def test_a_sub_folder_swapped_for_a_link_mid_upload_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    remote = tmp_path / "remote"
    remote.mkdir()

    class Swapped(FileTarget):
        def _put(
            self, path: str, src: IO[bytes], size: int, progress: Progress
        ) -> RemoteInfo | None:
            # The folder was made and checked; someone replaces it with a link now.
            (remote / "in").rmdir()
            (remote / "in").symlink_to(outside)
            return super()._put(path, src, size, progress)

    target = Swapped(parse_url(remote.as_uri()))
    with pytest.raises(PermissionDenied):
        target.upload_bytes(b"payload", "in/x.csv")
    assert os.listdir(outside) == []
