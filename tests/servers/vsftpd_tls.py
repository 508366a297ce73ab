"""vsftpd over explicit TLS (FTPS), as Debian ships it: data connections must resume
the control connection's TLS session (``require_ssl_reuse=YES``, vsftpd's default).

Fixture ``vsftpd_ftps_server`` (function-scoped, on session-scoped daemons)
yields a :class:`~tests.servers.ftp.FTPFolder` like ``vsftpd_server``'s
(see :mod:`tests.servers.vsftpd`) with an ``ftps://`` URL and ``ca_file``,
the server's self-signed certificate (made as the pyftpdlib FTPS fixture
makes it).  It is parametrized over the TLS version: ``tls1.3`` (what
client and server agree on by themselves) and ``tls1.2`` (the daemon's
OpenSSL is capped at TLS 1.2 through ``OPENSSL_CONF``; ``tls_version``
on the folder's server says which).

Needs root and the ``vsftpd`` program, as the plain vsftpd fixture does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers._common import account_folder, sbin_command, serve_as_accounts
from tests.servers.ftp import FTPFolder, make_self_signed_cert
from tests.servers.vsftpd import VsftpdServer

_TLS = """\
ssl_enable=YES
rsa_cert_file={cert}
rsa_private_key_file={cert}
force_local_logins_ssl=YES
force_local_data_ssl=YES
require_ssl_reuse=YES
ssl_ciphers=HIGH
"""

#: An OpenSSL configuration that caps the daemon's TLS at 1.2.
_TLS12_ONLY = """\
openssl_conf = init
[init]
ssl_conf = ssl
[ssl]
system_default = caps
[caps]
MaxProtocol = TLSv1.2
"""


class VsftpdTLSServer(VsftpdServer):
    """vsftpd with ``ssl_enable=YES`` and session reuse required."""

    def __init__(self, base: Path, vsftpd: str, tls_version: str) -> None:
        super().__init__(base, vsftpd)
        self.tls_version = tls_version
        self.certfile = make_self_signed_cert(base / "cert.pem")  # type: ignore[assignment]

    def _command(self, port: int) -> list[str]:
        command = super()._command(port)
        config = Path(command[-1])
        config.write_text(config.read_text() + _TLS.format(cert=self.certfile))
        if self.tls_version == "tls1.3":
            return command
        capped = self.base / "openssl-tls12.cnf"
        capped.write_text(_TLS12_ONLY)
        return ["/usr/bin/env", f"OPENSSL_CONF={capped}", *command]


def _serve(tls_version: str) -> Iterator[VsftpdTLSServer]:
    program = sbin_command("vsftpd")
    yield from serve_as_accounts(
        f"entrepot-vsftpd-{tls_version}-", lambda base: VsftpdTLSServer(base, program, tls_version)
    )


@pytest.fixture(scope="session")
def vsftpd_tls13_service() -> Iterator[VsftpdTLSServer]:
    yield from _serve("tls1.3")


@pytest.fixture(scope="session")
def vsftpd_tls12_service() -> Iterator[VsftpdTLSServer]:
    yield from _serve("tls1.2")


@pytest.fixture(params=["tls1.3", "tls1.2"])
def vsftpd_ftps_server(request: pytest.FixtureRequest) -> Iterator[FTPFolder]:
    name = "vsftpd_tls13_service" if request.param == "tls1.3" else "vsftpd_tls12_service"
    service: VsftpdTLSServer = request.getfixturevalue(name)
    try:
        folder = FTPFolder(service, scheme="ftps", **account_folder(service.home))  # type: ignore[arg-type]
        yield folder
    finally:
        service.start()
