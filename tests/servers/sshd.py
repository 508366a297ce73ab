"""OpenSSH's sshd (Debian's package) on loopback: a second SFTP implementation.

sshd serves SFTP through ``internal-sftp``, as most real servers do; unlike
the asyncssh test server it has the local file system's permissions and
OpenSSH's own answers.

Fixture ``sshd_server`` (function-scoped, on a session-scoped daemon) yields
a :class:`~tests.servers.sftp.SFTPFolder` whose ``url`` names a fresh empty
folder (absolute path) owned by the local account
:data:`~tests.servers._common.SYSTEM_USER`, with ``password``, ``key_file``
(an ed25519 key sshd accepts for that account), ``known_hosts`` (the
daemon's own host key), ``readonly_user``/``readonly_password`` (may read,
not write: file permissions), ``root`` (the folder on disk) and
``stop()``/``start()`` (sessions are cut; same port, same host key).
Connection drops and lost replies are the asyncssh server's tricks only.

sshd needs root (it logs local accounts in); without it, or without
``sshd``, the tests skip locally and fail in CI.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers._common import (
    SYSTEM_READER,
    SYSTEM_USER,
    Daemon,
    account_folder,
    sbin_command,
    serve_as_accounts,
)
from tests.servers.sftp import SFTPFolder

_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {base}/host_key
PidFile {base}/sshd-{port}.pid
AuthorizedKeysFile {base}/authorized_keys_%u
StrictModes no
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin no
AllowUsers {users}
Subsystem sftp internal-sftp
LogLevel ERROR
"""


class SSHDServer:
    """sshd as our child process; the shape :class:`SFTPFolder` expects of a server."""

    def __init__(self, base: Path, sshd: str) -> None:
        self.base = base
        #: Test folders live under ``home``; URLs name them by their absolute path.
        self.root = Path("/")
        self.home = base / "root"
        self.key_file = base / "client_key"
        self.known_hosts = base / "known_hosts"
        self._sshd = sshd
        self._daemon = Daemon("sshd", self._command, str(base / "sshd.log"))
        keygen = sbin_command("ssh-keygen")
        for key in (base / "host_key", self.key_file):
            subprocess.run(
                [keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                check=True,
                capture_output=True,
            )
        public = self.key_file.with_suffix(".pub").read_text()
        (base / f"authorized_keys_{SYSTEM_USER}").write_text(public)

    def _command(self, port: int) -> list[str]:
        config = self.base / f"sshd-{port}.conf"
        users = f"{SYSTEM_USER} {SYSTEM_READER}"
        config.write_text(_CONFIG.format(port=port, base=self.base, users=users))
        return [self._sshd, "-D", "-e", "-f", str(config)]

    @property
    def port(self) -> int:
        return self._daemon.port

    def start(self) -> None:
        if self._daemon.running:
            return
        self._daemon.start()
        host_key = (self.base / "host_key.pub").read_text().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_key[0]} {host_key[1]}\n")

    def stop(self) -> None:
        self._daemon.stop()


@pytest.fixture(scope="session")
def sshd_service() -> Iterator[SSHDServer]:
    program = sbin_command("sshd")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege-separation folder
    yield from serve_as_accounts("entrepot-sshd-", lambda base: SSHDServer(base, program))


@pytest.fixture
def sshd_server(sshd_service: SSHDServer) -> Iterator[SFTPFolder]:
    try:
        yield SFTPFolder(sshd_service, **account_folder(sshd_service.home))  # type: ignore[arg-type]
    finally:
        sshd_service.start()
