"""Protocol fallbacks: FTP servers without MLSD (like vsftpd), SFTP servers without posix-rename."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from entrepot.errors import RemoteExists, RemoteNotFound
from entrepot.targets import open_target
from tests.servers.ftp import PASSWORD, USER, FTPServer

pytestmark = pytest.mark.server


@pytest.fixture
def plain_ftp(tmp_path: Path) -> Iterator[FTPServer]:
    pytest.importorskip("pyftpdlib")
    root = tmp_path / "root"
    (root / "drop").mkdir(parents=True)
    server = FTPServer(root, mlsd=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_ftp_without_mlsd_lists_with_list_and_mdtm(plain_ftp: FTPServer, tmp_path: Path) -> None:
    url = f"ftp://{USER}@127.0.0.1:{plain_ftp.port}/drop"
    with open_target(url, password=PASSWORD, timeout=30) as target:
        assert "mlsd" not in target._features  # type: ignore[attr-defined]
        assert target.list() == []
        target.upload_bytes(b"12345", "a.csv")
        target.upload_bytes(b"x", "sub dir/é b.csv")
        stat = target.stat("a.csv")
        assert stat is not None
        assert stat.size == 5
        assert target.stat("missing.csv") is None
        names = [(e.name, e.size, e.is_dir) for e in target.list()]
        assert names == [("a.csv", 5, False), ("sub dir", 0, True)]
        assert all(e.mtime is not None for e in target.list() if not e.is_dir)
        folder = target.stat("sub dir")
        assert folder is not None and folder.is_dir
        assert [e.name for e in target.list("sub dir")] == ["sub dir/é b.csv"]
        assert target.upload_bytes(b"12345", "a.csv", conflict="skip").size == 5
        with pytest.raises(RemoteExists):
            target.upload_bytes(b"1", "a.csv", conflict="fail")
        target.delete("a.csv")
        with pytest.raises(RemoteNotFound):
            target.delete("a.csv")
    assert sorted(p.name for p in (plain_ftp.root / "drop").iterdir()) == ["sub dir"]


@pytest.mark.xdist_group("targets-sftp")
def test_sftp_without_posix_rename_still_replaces(sftp_server: Any) -> None:
    sftp_server.server.posix_rename = False
    with sftp_server.open() as target:
        target.upload_bytes(b"first", "a.csv")
        target.upload_bytes(b"second", "a.csv")
        assert target.read_bytes("a.csv") == b"second"
        assert target._posix_rename is False  # type: ignore[attr-defined]
    assert sorted(p.name for p in sftp_server.root.iterdir()) == ["a.csv"]
