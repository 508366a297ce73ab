"""vsftpd (Debian's package) on loopback: a second FTP implementation for the tests.

It is not our test server and behaves like the servers users have: no
``MLSD``/``MLST`` (listings come from ``LIST``, with no usable times),
``NLST`` hides dot-files, ``STOR`` into a folder it may not write answers
``553`` and ``MKD`` ``550 Create directory operation failed``.

Fixture ``vsftpd_server`` (function-scoped, on a session-scoped daemon)
yields a :class:`~tests.servers.ftp.FTPFolder` whose ``url`` names a fresh
empty folder (absolute path) owned by the local account
:data:`~tests.servers._common.SYSTEM_USER`; ``readonly_user`` may read it but
not write (file permissions); ``root`` is the folder on disk; ``stop()`` /
``start()`` stop the daemon (cutting its sessions) and start it again on the
same port.  ``drop_after`` is not available.

vsftpd needs root (it logs local accounts in); without it, or without the
``vsftpd`` program, the tests skip locally and fail in CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers._common import Daemon, account_folder, sbin_command, serve_as_accounts
from tests.servers.ftp import FTPFolder

_CONFIG = """\
listen=YES
listen_address=127.0.0.1
listen_port={port}
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
local_root=/
pasv_enable=YES
pasv_address=127.0.0.1
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
delay_failed_login=0
pam_service_name=vsftpd
secure_chroot_dir={empty}
userlist_enable=NO
utf8_filesystem=YES
xferlog_enable=NO
use_localtime=NO
"""


class VsftpdServer:
    """vsftpd as our child process; the shape :class:`FTPFolder` expects of a server."""

    certfile = None

    def __init__(self, base: Path, vsftpd: str) -> None:
        self.base = base
        #: Test folders live here; URLs name them by their absolute path.
        self.root = Path("/")
        self.home = base / "root"
        empty = base / "empty"
        empty.mkdir()
        self._daemon = Daemon("vsftpd", self._command, str(base / "vsftpd.log"))
        self._vsftpd = vsftpd
        self._empty = empty

    def _command(self, port: int) -> list[str]:
        config = self.base / f"vsftpd-{port}.conf"
        config.write_text(_CONFIG.format(port=port, empty=self._empty))
        return [self._vsftpd, str(config)]

    @property
    def port(self) -> int:
        return self._daemon.port

    def start(self) -> None:
        self._daemon.start()

    def stop(self) -> None:
        self._daemon.stop()

    def drop_after(self, n: int) -> None:
        raise NotImplementedError("vsftpd cannot be told to drop a connection")


@pytest.fixture(scope="session")
def vsftpd_service() -> Iterator[VsftpdServer]:
    program = sbin_command("vsftpd")
    yield from serve_as_accounts("entrepot-vsftpd-", lambda base: VsftpdServer(base, program))


@pytest.fixture
def vsftpd_server(vsftpd_service: VsftpdServer) -> Iterator[FTPFolder]:
    try:
        yield FTPFolder(vsftpd_service, **account_folder(vsftpd_service.home))  # type: ignore[arg-type]
    finally:
        vsftpd_service.start()
