"""The target contract (:mod:`entrepot.testing.targets`) run against every built-in backend.

File and memory run in-process; FTP, FTPS, SFTP and S3 against real servers
on loopback: pyftpdlib, asyncssh and SeaweedFS, and as second
implementations vsftpd and OpenSSH's sshd (see ``tests/servers``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from entrepot.targets import memory as memory_backend
from entrepot.testing.targets import RemoteFolder, TargetContract

pytestmark = pytest.mark.server


class ServedContract(TargetContract):
    """The contract against the server of the fixture named ``server``."""

    server: ClassVar[str]

    @pytest.fixture
    def remote(self, request: pytest.FixtureRequest) -> RemoteFolder:
        served = request.getfixturevalue(self.server)
        return RemoteFolder(served.url, dict(served.options))


class TestFileTarget(TargetContract):
    @pytest.fixture
    def remote(self, tmp_path: Path) -> RemoteFolder:
        folder = tmp_path / "remote"
        folder.mkdir()
        return RemoteFolder(folder.as_uri())


class TestMemoryTarget(TargetContract):
    streams_uploads = False  # the whole file is stored in one step

    @pytest.fixture
    def remote(self) -> Iterator[RemoteFolder]:
        yield RemoteFolder(f"memory://contract-{uuid.uuid4().hex[:8]}/drop")
        memory_backend.reset()


@pytest.mark.xdist_group("targets-ftp")
class TestFTPTarget(ServedContract):
    server = "ftp_server"


@pytest.mark.xdist_group("targets-ftps")
class TestFTPSTarget(ServedContract):
    server = "ftps_server"


@pytest.mark.xdist_group("targets-vsftpd")
class TestFTPTargetOnVsftpd(ServedContract):
    server = "vsftpd_server"


@pytest.mark.xdist_group("targets-sftp")
class TestSFTPTarget(ServedContract):
    server = "sftp_server"


@pytest.mark.xdist_group("targets-sshd")
class TestSFTPTargetOnSshd(ServedContract):
    server = "sshd_server"


@pytest.mark.xdist_group("targets-s3")
class TestS3Target(ServedContract):
    server = "s3_server"
    # A single PUT reports its progress only once it is done: parts show it.
    large_upload_options: ClassVar[dict[str, Any]] = {
        "multipart_threshold": 5 * 1024 * 1024,
        "multipart_chunksize": 5 * 1024 * 1024,
    }
