"""An SFTP server (asyncssh) on loopback, for any test that needs one.

Fixture ``sftp_server`` (function-scoped, on a session-scoped server) yields
an :class:`SFTPFolder` with

* ``url`` — ``sftp://test@127.0.0.1:PORT/<folder>``, an existing empty folder
  (paths are inside the server's chroot, whose top is ``/``);
* ``options`` — keywords for :func:`entrepot.targets.open_target`:
  ``password``, ``known_hosts`` (a file naming this server's host key) and
  ``timeout``; ``open(**more)`` opens a target with them;
* ``user``, ``password``, ``key_file`` (a private key the server also
  accepts for ``user``), ``known_hosts``, ``host``, ``port``, ``folder``;
* ``readonly_user``/``readonly_password`` — may read and list, not write;
* ``root`` — the folder on local disk;
* ``stop()`` / ``start()`` — stop (open connections are cut) and start again
  on the same port with the same host key;
* ``drop_after(n)`` — cut the connection right after the n-th completed
  upload (a file opened for writing and closed) from now, once;
* ``server.connections`` — SSH connections accepted so far;
* ``server.posix_rename = False`` — answer the ``posix-rename`` extension
  with "unsupported" (reset after each test);
* ``lose_next_close()`` — when the next file written is closed, hang up
  without answering; a truncation of that file, left over from the dead
  connection, is carried out when the same file is next written and closed
  (as by a server that works off a dead connection's requests late);
* ``lose_next_rename_reply()`` — carry out the next rename, then hang up
  before its reply goes out;
* ``drop_next_writes(n)`` — acknowledge the next n writes without writing them.

The server runs on its own event loop in a thread; it accepts any user name
listed in its table and chroots every session to the server root.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers._common import DropCountdown, port_open, server_unavailable, wait_until

USER, PASSWORD = "test", "sftp-pw-Ünï"
READONLY_USER, READONLY_PASSWORD = "reader", "reader-pw"


class SFTPServer:
    """An asyncssh SFTP server on its own loop; restartable on the same port."""

    def __init__(self, root: Path, keys: Path) -> None:
        import asyncssh

        self.root = root
        self.port = 0
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.key_file = keys / "client_key"
        self.client_key.write_private_key(str(self.key_file))
        self.key_file.chmod(0o600)
        self.known_hosts = keys / "known_hosts"
        self.users = {USER: PASSWORD, READONLY_USER: READONLY_PASSWORD}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._acceptor: Any = None
        self._connections: set[Any] = set()
        self._drops = DropCountdown()
        #: SSH connections accepted so far (to check connection reuse).
        self.connections = 0
        #: Set to False to answer posix-rename@openssh.com with "unsupported".
        self.posix_rename = True
        self._lose_close = threading.Event()
        self._lose_rename_reply = threading.Event()
        self._writes_to_drop = 0
        #: The file a dead connection's late truncation will hit.
        self.stale_truncation: str | None = None

    def drop_after(self, n: int) -> None:
        self._drops.arm(n)

    def lose_next_close(self) -> None:
        self._lose_close.set()

    def lose_next_rename_reply(self) -> None:
        self._lose_rename_reply.set()

    def drop_next_writes(self, n: int = 1) -> None:
        self._writes_to_drop = n

    def _upload_done(self) -> bool:
        return self._drops.upload_done()

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    @property
    def running(self) -> bool:
        return self._acceptor is not None

    def start(self) -> None:
        if self._acceptor is None:
            self._acceptor = self._run(self._listen())
            self.port = self._acceptor.sockets[0].getsockname()[1]
            public = self.host_key.export_public_key().decode().strip()
            self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {public}\n")
            wait_until(lambda: port_open(self.port), timeout=10, what="SFTP server")

    def stop(self) -> None:
        acceptor, self._acceptor = self._acceptor, None
        if acceptor is not None:
            self._run(self._close(acceptor))
            wait_until(lambda: not port_open(self.port), timeout=10, what="SFTP server stop")

    def shutdown(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _close(self, acceptor: Any) -> None:
        acceptor.close()
        await acceptor.wait_closed()
        for conn in list(self._connections):
            conn.abort()
        self._connections.clear()

    async def _listen(self) -> Any:
        import asyncssh

        owner = self

        class Server(asyncssh.SSHServer):  # type: ignore[misc]
            def connection_made(self, conn: Any) -> None:
                owner._connections.add(conn)
                owner.connections += 1

            def connection_lost(self, exc: Exception | None) -> None:
                owner._connections.difference_update(
                    {c for c in owner._connections if c.is_closed()}
                )

            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                return owner.users.get(username) == password

            def public_key_auth_supported(self) -> bool:
                return True

            def validate_public_key(self, username: str, key: Any) -> bool:
                wanted = owner.client_key.export_public_key()
                return username == USER and key.export_public_key() == wanted

        class SFTP(asyncssh.SFTPServer):  # type: ignore[misc]
            def __init__(self, chan: Any) -> None:
                super().__init__(chan, chroot=str(owner.root))
                self._readonly = chan.get_extra_info("username") == READONLY_USER
                self._conn = chan.get_connection()

            def _deny(self) -> None:
                if self._readonly:
                    raise asyncssh.SFTPPermissionDenied("read-only user")

            def open(self, path: bytes, pflags: int, attrs: Any) -> Any:
                if pflags & 0x1E:  # FXF_WRITE, FXF_APPEND, FXF_CREAT, FXF_TRUNC
                    self._deny()
                return super().open(path, pflags, attrs)

            def write(self, file_obj: Any, offset: int, data: bytes) -> Any:
                if owner._writes_to_drop:
                    owner._writes_to_drop -= 1
                    return None
                return super().write(file_obj, offset, data)

            def close(self, file_obj: Any) -> None:
                writing = getattr(file_obj, "mode", "r") != "rb"
                if writing and owner._lose_close.is_set():
                    owner._lose_close.clear()
                    owner.stale_truncation = file_obj.name
                    super().close(file_obj)
                    # Gone before the reply to this close can go out.
                    self._conn.abort()
                    return
                super().close(file_obj)
                if writing and owner.stale_truncation == file_obj.name:
                    owner.stale_truncation = None
                    os.truncate(file_obj.name, 0)
                if writing and owner._upload_done():
                    # Let the reply to this close go out first, then hang up.
                    asyncio.get_running_loop().call_later(0.01, self._conn.abort)

            def remove(self, path: bytes) -> None:
                self._deny()
                super().remove(path)

            def rename(self, old: bytes, new: bytes) -> None:
                self._deny()
                super().rename(old, new)
                self._maybe_hang_up()

            def posix_rename(self, old: bytes, new: bytes) -> None:
                self._deny()
                if not owner.posix_rename:
                    raise asyncssh.SFTPOpUnsupported("posix-rename is switched off")
                super().posix_rename(old, new)
                self._maybe_hang_up()

            def _maybe_hang_up(self) -> None:
                if owner._lose_rename_reply.is_set():
                    owner._lose_rename_reply.clear()
                    self._conn.abort()

            def mkdir(self, path: bytes, attrs: Any) -> None:
                self._deny()
                super().mkdir(path, attrs)

        return await asyncssh.listen(
            "127.0.0.1",
            self.port,
            server_host_keys=[self.host_key],
            server_factory=Server,
            sftp_factory=SFTP,
            allow_scp=False,
            reuse_address=True,
        )


@dataclass
class SFTPFolder:
    """A fresh remote folder on the shared SFTP server; see the module docstring."""

    server: SFTPServer
    folder: str
    user: str = USER
    password: str = PASSWORD
    readonly_user: str = READONLY_USER
    readonly_password: str = READONLY_PASSWORD
    host: str = "127.0.0.1"

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return f"sftp://{self.user}@{self.host}:{self.port}/{self.folder}"

    @property
    def root(self) -> Path:
        return self.server.root / self.folder

    @property
    def key_file(self) -> str:
        return str(self.server.key_file)

    @property
    def known_hosts(self) -> str:
        return str(self.server.known_hosts)

    @property
    def options(self) -> dict[str, Any]:
        return {"password": self.password, "known_hosts": self.known_hosts, "timeout": 30}

    def open(self, **more: Any) -> Any:
        from entrepot.targets import open_target

        return open_target(self.url, **{**self.options, **more})

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()

    def drop_after(self, n: int) -> None:
        self.server.drop_after(n)

    def lose_next_close(self) -> None:
        self.server.lose_next_close()

    def lose_next_rename_reply(self) -> None:
        self.server.lose_next_rename_reply()

    def drop_next_writes(self, n: int = 1) -> None:
        self.server.drop_next_writes(n)


@pytest.fixture(scope="session")
def sftp_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SFTPServer]:
    try:
        import asyncssh  # noqa: F401
    except ImportError as exc:
        server_unavailable(f"asyncssh is not installed: {exc}")
    # The server logs from its own thread at any moment: keep it out of the log
    # lines other tests capture.
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    base = tmp_path_factory.mktemp("sftp")
    (base / "root").mkdir()
    (base / "keys").mkdir()
    server = SFTPServer(base / "root", base / "keys")
    server.start()
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture
def sftp_server(sftp_service: SFTPServer) -> Iterator[SFTPFolder]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    (sftp_service.root / name).mkdir()
    try:
        yield SFTPFolder(sftp_service, name)
    finally:
        sftp_service._drops.arm(None)
        sftp_service._lose_close.clear()
        sftp_service._lose_rename_reply.clear()
        sftp_service._writes_to_drop = 0
        sftp_service.stale_truncation = None
        sftp_service.posix_rename = True
        sftp_service.start()
