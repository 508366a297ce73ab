"""FTP and FTPS servers (pyftpdlib) on loopback, for any test that needs one.

Fixtures (the servers are session-scoped and shared; every test gets its own
empty remote folder):

``ftp_server`` / ``ftps_server``
    a :class:`FTPFolder` with

    * ``url`` — ``ftp://test@127.0.0.1:PORT/<folder>`` (``ftps://`` for FTPS),
      an existing, empty folder; no password in it;
    * ``options`` — keywords for :func:`entrepot.targets.open_target`
      (``password``, and for FTPS ``ca_file``, the self-signed certificate);
      ``open(**more)`` opens a target with them;
    * ``user``, ``password``, ``host``, ``port``, ``folder`` (the remote path);
    * ``readonly_user``/``readonly_password`` — a user who may list and read
      but not write (for permission tests);
    * ``root`` — the folder on local disk, to check files directly;
    * ``stop()`` / ``start()`` — stop the server (open connections are cut)
      and start it again on the same port;
    * ``drop_after(n)`` — cut the client's control connection right after the
      n-th completed upload (``STOR``) from now, once;
    * ``server.connections`` — control connections accepted so far;
    * ``server`` — the shared :class:`FTPServer` (``FTPServer(root, mlsd=False)``
      starts one without ``MLSD``/``MLST``, like vsftpd; ``glob_nlst=True`` one
      that expands an ``NLST`` argument as a pattern, like ProFTPD);
    * ``ca_file`` (FTPS only) — the certificate to trust.

Bad passwords are answered at once (``auth_failed_timeout = 0``).
"""

from __future__ import annotations

import datetime
import errno
import glob
import ipaddress
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.servers._common import DropCountdown, port_open, server_unavailable, wait_until

USER, PASSWORD = "test", "test-pw-Ünï"
READONLY_USER, READONLY_PASSWORD = "reader", "reader-pw"


def make_self_signed_cert(path: Path) -> Path:
    """Write a PEM with a key and a certificate for 127.0.0.1 (SAN included)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ) + cert.public_bytes(serialization.Encoding.PEM)
    path.write_bytes(pem)
    return path


class FTPServer:
    """One pyftpdlib server in a thread; restartable on the same port."""

    def __init__(
        self,
        root: Path,
        *,
        certfile: Path | None = None,
        mlsd: bool = True,
        glob_nlst: bool = False,
    ) -> None:
        self.root = root
        self.certfile = certfile
        self.mlsd = mlsd
        self.glob_nlst = glob_nlst
        self.port = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._drops = DropCountdown()
        #: Control connections accepted so far (to check connection reuse).
        self.connections = 0

    @property
    def running(self) -> bool:
        return self._server is not None

    def drop_after(self, n: int) -> None:
        self._drops.arm(n)

    def _upload_done(self) -> bool:
        return self._drops.upload_done()

    def _handler_class(self) -> type:
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.filesystems import AbstractedFS
        from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler

        authorizer = DummyAuthorizer()
        authorizer.add_user(USER, PASSWORD, str(self.root), perm="elradfmwMT")
        authorizer.add_user(READONLY_USER, READONLY_PASSWORD, str(self.root), perm="elr")
        server = self
        base: Any = TLS_FTPHandler if self.certfile else FTPHandler

        class FS(AbstractedFS):  # type: ignore[misc]
            def chdir(self, path: str) -> None:
                # pyftpdlib checks a CWD by changing the *process's* folder and back,
                # which races between the threads of a threaded server (and with
                # the tests themselves).  Check it without touching the process.
                if not os.path.isdir(path):
                    raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
                if not os.access(path, os.X_OK):
                    raise PermissionError(errno.EACCES, "Permission denied", path)
                self.cwd = self.fs2ftp(path)

        class Handler(base):  # type: ignore[misc, valid-type]
            abstracted_fs = FS
            auth_failed_timeout = 0
            timeout = 60
            banner = "entrepot test server"
            passive_ports = None
            use_encoding = "utf8"

            def on_connect(self) -> None:
                with server._lock:
                    server.connections += 1

            def ftp_CWD(self, path: str) -> str | None:
                try:
                    self.run_as_current_user(self.fs.chdir, path)
                except OSError as exc:
                    self.respond(f"550 {exc.strerror}.")
                    return None
                self.respond(f'250 "{self.fs.cwd}" is the current directory.')
                return path

            def ftp_NLST(self, path: str) -> str | None:
                if server.glob_nlst and glob.has_magic(os.path.basename(path)):
                    # As ProFTPD does: the argument is a pattern; no match lists it as is.
                    found = sorted(glob.glob(path)) or [path]
                    names = "".join(os.path.basename(name) + "\r\n" for name in found)
                    self.push_dtp_data(names.encode(self.encoding), cmd="NLST")
                    return path
                return super().ftp_NLST(path)  # type: ignore[no-any-return]

            def on_file_received(self, file: str) -> None:
                if server._upload_done():
                    # The 226 reply is already queued: flush it, then hang up.
                    self.close_when_done()

        Handler.authorizer = authorizer
        if not self.mlsd:
            # Like vsftpd: no MLSD/MLST, so clients must fall back to NLST and SIZE.
            Handler.proto_cmds = {
                k: v for k, v in base.proto_cmds.items() if k not in {"MLSD", "MLST"}
            }
        if self.certfile:
            Handler.certfile = str(self.certfile)
            Handler.tls_control_required = True
            Handler.tls_data_required = True
        return Handler

    def start(self) -> None:
        from pyftpdlib.ioloop import IOLoop
        from pyftpdlib.servers import ThreadedFTPServer

        if self._server is not None:
            return
        # An event loop of its own: pyftpdlib's default is one per process, so
        # stopping one server would close every other server's sockets too.
        server = ThreadedFTPServer(("127.0.0.1", self.port), self._handler_class(), ioloop=IOLoop())
        # pyftpdlib keeps the threaded server's stop flag and lock on the class:
        # stopping one server would stop every other one's sessions.
        server._exit = threading.Event()
        server._lock = threading.Lock()
        server.max_cons = 256
        self.port = server.socket.getsockname()[1]
        self._server = server
        self._thread = threading.Thread(
            target=self._serve,
            args=(server,),
            name=f"ftp-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        wait_until(lambda: port_open(self.port), timeout=10, what="FTP server")

    def _serve(self, server: Any) -> None:
        try:
            server.serve_forever(timeout=0.05, handle_exit=False)
        except (OSError, ValueError):
            if server is self._server:
                raise  # only a loop that was asked to stop may die of a closed socket

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        # Closing from the loop's own thread: pyftpdlib's loop is not thread-safe.
        server.ioloop.call_later(0, server.close_all)
        if self._thread is not None:
            self._thread.join(timeout=10)
        wait_until(lambda: not port_open(self.port), timeout=10, what="FTP server stop")


@dataclass
class FTPFolder:
    """A fresh remote folder on a shared server; see the module docstring."""

    server: FTPServer
    folder: str
    scheme: str = "ftp"
    user: str = USER
    password: str = PASSWORD
    readonly_user: str = READONLY_USER
    readonly_password: str = READONLY_PASSWORD
    host: str = "127.0.0.1"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.user}@{self.host}:{self.port}/{self.folder}"

    @property
    def root(self) -> Path:
        return self.server.root / self.folder

    @property
    def ca_file(self) -> str | None:
        return str(self.server.certfile) if self.server.certfile else None

    @property
    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"password": self.password, "timeout": 30, **self.extra}
        if self.ca_file:
            opts["ca_file"] = self.ca_file
        return opts

    def open(self, **more: Any) -> Any:
        from entrepot.targets import open_target

        return open_target(self.url, **{**self.options, **more})

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()

    def drop_after(self, n: int) -> None:
        self.server.drop_after(n)


def _serve(tmp_path_factory: pytest.TempPathFactory, tls: bool) -> Iterator[FTPServer]:
    try:
        import pyftpdlib.servers  # noqa: F401

        if tls:
            import OpenSSL  # noqa: F401
    except ImportError as exc:
        server_unavailable(f"pyftpdlib (with pyopenssl for FTPS) is not installed: {exc}")
    logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
    base = tmp_path_factory.mktemp("ftps" if tls else "ftp")
    root = base / "root"
    root.mkdir()
    cert = make_self_signed_cert(base / "cert.pem") if tls else None
    server = FTPServer(root, certfile=cert)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _folder(server: FTPServer, scheme: str) -> Iterator[FTPFolder]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    (server.root / name).mkdir()
    try:
        yield FTPFolder(server, name, scheme=scheme)
    finally:
        server._drops.arm(None)
        server.start()


@pytest.fixture(scope="session")
def ftp_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FTPServer]:
    yield from _serve(tmp_path_factory, tls=False)


@pytest.fixture(scope="session")
def ftps_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FTPServer]:
    yield from _serve(tmp_path_factory, tls=True)


@pytest.fixture
def ftp_server(ftp_service: FTPServer) -> Iterator[FTPFolder]:
    yield from _folder(ftp_service, "ftp")


@pytest.fixture
def ftps_server(ftps_service: FTPServer) -> Iterator[FTPFolder]:
    yield from _folder(ftps_service, "ftps")
