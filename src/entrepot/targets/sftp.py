"""``sftp://`` targets, on paramiko.

``sftp://user@host:22/path`` connects over SSH, checks the server's host key
against a known_hosts file (an unknown or changed key is refused — there is
no "accept anything" switch), authenticates with a private key and/or a
password, and works in ``/path`` (absolute on the server; no path means the
login folder).

Options: ``known_hosts`` (default ``~/.ssh/known_hosts``), ``key_file`` and
``passphrase`` (key authentication; the key file must be private to its
owner, as ssh insists), ``password`` (or ``password_env`` /
``password_file``), ``timeout`` (connect, banner, authentication, every
channel read, and a call's deadline without progress), ``blocksize``,
``request_size`` (bytes per SFTP write request, 128 KiB; OpenSSH accepts up
to 256 KiB — lower it to 32768 for a server that refuses large writes).
Neither a password nor a key is a configuration error, raised when the
target is opened: the agent and default keys are never tried.

Symbolic links in the folder are not listed (``targets.symlink_skipped``;
a listing carries each entry's own attributes), and a name is looked at
(``lstat``) before it is opened: a link is never followed to read, since
SFTP has no way to open a file without following one.  A file name that
is not UTF-8 fails the listing as a connection failure.

Uploads are pipelined (writes are sent without waiting for each reply and
checked on close), encrypted with AES-GCM where the server offers it, and
published with the ``posix-rename@openssh.com``
extension, which replaces the target atomically; servers without it get a
remove followed by a rename.

paramiko was chosen over asyncssh by measurement (``bench/
bench_targets_sftp_clients.py``, written up in ``docs/benchmarks.md``): over
one connection it moved 4 KiB files nearly twice as fast (626 against 333
files/s) and a 128 MiB file about 40 % faster (93 against 66 MiB/s).
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import logging
import socket
import stat as stat_module
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar

from entrepot import errors
from entrepot.logs import log_event
from entrepot.targets.base import Target
from entrepot.targets.deadline import hang_up
from entrepot.targets.info import RemoteInfo
from entrepot.targets.options import check_private_file
from entrepot.targets.transfer import Progress, copy_stream
from entrepot.targets.url import TargetURL

if TYPE_CHECKING:
    import paramiko
elif importlib.util.find_spec("paramiko") is None:
    # paramiko itself is imported on connecting (it takes longer than a short
    # command); a missing one still fails here, where the install hint is given.
    raise ImportError("No module named 'paramiko'", name="paramiko")

logger = logging.getLogger(__name__)
_DEFAULT_BLOCK = 256 * 1024
_DEFAULT_REQUEST = 128 * 1024
_CLOSED_WORDS = ("closed", "eof", "reset", "broken pipe", "not open", "dropped")


class SymlinkRefused(OSError):
    """A remote name is a symbolic link, which is never followed."""


class SFTPTarget(Target):
    """A folder on an SFTP server; see the module docstring."""

    scheme = "sftp"
    default_port = 22
    put_reports_size = True
    option_types: ClassVar[dict[str, type]] = {
        "known_hosts": str,
        "key_file": str,
        "passphrase": str,
        "blocksize": int,
        "request_size": int,
    }

    def __init__(self, url: TargetURL, **options: Any) -> None:
        super().__init__(url, **options)
        opts = self.options
        self.blocksize: int = opts.get("blocksize") or _DEFAULT_BLOCK
        self.request_size: int = opts.get("request_size") or _DEFAULT_REQUEST
        self.known_hosts = Path(opts.get("known_hosts") or "~/.ssh/known_hosts").expanduser()
        self.key_file = Path(opts["key_file"]).expanduser() if opts.get("key_file") else None
        if self.key_file is not None:
            check_private_file(self.key_file, "key_file")
        elif not self.password:
            raise errors.ConfigError(
                f"{self.url}: SFTP needs a password (password_env, password_file) "
                "or a private key (key_file)"
            )
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        #: The socket of the session being set up or in use: what _abort hangs up.
        self._sock: socket.socket | None = None
        self._root = "."
        self._posix_rename = True

    @property
    def port(self) -> int:
        return self.target_url.port or self.default_port

    # -- connection ------------------------------------------------------------------

    def _connect(self) -> None:
        # The socket is ours, so that a stalled handshake can be cut off (_abort).
        sock = self._sock = socket.create_connection(
            (self.target_url.host, self.port), timeout=self.timeout
        )
        import paramiko

        client = paramiko.SSHClient()
        try:
            if self.known_hosts.exists():
                client.load_host_keys(str(self.known_hosts))
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            client.connect(
                self.target_url.host,
                self.port,
                username=self.target_url.user,
                password=self.password,
                key_filename=str(self.key_file) if self.key_file else None,
                passphrase=self.options.get("passphrase"),
                sock=sock,
                timeout=self.timeout,
                banner_timeout=self.timeout,
                auth_timeout=self.timeout,
                channel_timeout=self.timeout,
                allow_agent=False,
                look_for_keys=False,
                transport_factory=_transport,
            )
            sftp = client.open_sftp()
            channel = sftp.get_channel()
            assert channel is not None
            channel.settimeout(self.timeout)
            root = self.target_url.path or sftp.normalize(".")
            try:
                attrs = sftp.stat(root)
            except FileNotFoundError as exc:
                raise self._error(errors.RemoteNotFound, "no such folder", "") from exc
            if not stat_module.S_ISDIR(attrs.st_mode or 0):
                raise self._error(errors.RemoteNotFound, "not a folder", "")
        except BaseException:
            client.close()
            sock.close()
            self._sock = None
            raise
        self._client, self._sftp, self._root = client, sftp, root.rstrip("/") or "/"

    def _disconnect(self) -> None:
        client, self._client, self._sftp, self._sock = self._client, None, None, None
        if client is not None:
            client.close()

    def _abort(self) -> None:
        hang_up(self._sock)

    @property
    def sftp(self) -> paramiko.SFTPClient:
        assert self._sftp is not None, "not connected"
        return self._sftp

    def _full(self, path: str) -> str:
        if not path:
            return self._root
        return f"{self._root}/{path}" if self._root != "/" else f"/{path}"

    # -- primitives ------------------------------------------------------------------

    def _put(self, path: str, src: IO[bytes], size: int, progress: Progress) -> RemoteInfo | None:
        dst = self.sftp.open(self._full(path), "wb", bufsize=self.blocksize)
        try:
            dst.set_pipelined(True)
            # paramiko writes 32 KiB per request by default; fewer, larger requests
            # cut the per-request work on both sides (measured 1.3x on large files).
            dst.MAX_REQUEST_SIZE = self.request_size
            copy_stream(src.read, dst.write, size=size, blocksize=self.blocksize, progress=progress)
            dst.close()  # collects the replies of every pipelined write
        except BaseException:
            with contextlib.suppress(Exception):
                dst.close()
            # On a dead connection paramiko would retry the close from the garbage
            # collector and raise there; the handle is gone with the connection anyway.
            dst.pipelined = False
            dst._closed = True
            raise
        # paramiko's close neither waits for the reply to the last write nor
        # reports a connection lost meanwhile: before the write is trusted,
        # the server tells its size over the same connection.  A dead
        # connection fails here, and the upload is written again.
        info = self._stat(path)
        if info is None or info.size != size:
            held = "no file" if info is None else f"{info.size} bytes"
            raise ConnectionError(f"the server holds {held} of the {size} written")
        return info

    def _get(self, path: str, write: Callable[[bytes], object], progress: Progress) -> None:
        # SFTP cannot open without following a link: the name is looked at first.
        if self._stat(path) is None:
            raise FileNotFoundError(errno.ENOENT, "no such file", path)
        with self.sftp.open(self._full(path), "rb") as src:
            src.prefetch()
            copy_stream(src.read, write, blocksize=self.blocksize, progress=progress)

    def _stat(self, path: str) -> RemoteInfo | None:
        try:
            attrs = self.sftp.lstat(self._full(path))
        except FileNotFoundError:
            return None
        if stat_module.S_ISLNK(attrs.st_mode or 0):
            raise SymlinkRefused(errno.ELOOP, "a symbolic link, which is not followed", path)
        return _info(path, attrs)

    def _list(self, folder: str) -> Iterable[RemoteInfo]:
        prefix = f"{folder}/" if folder else ""
        found = []
        # A folder's entries come with lstat's attributes: a link is seen as one.
        from entrepot.targets.sftp_listing import entries

        for attrs in entries(self.sftp, self._full(folder), self._answered):
            name, mode = prefix + attrs.filename, attrs.st_mode or 0
            if stat_module.S_ISLNK(mode):
                self._skipped("targets.symlink_skipped", name)
            elif mode and not (stat_module.S_ISREG(mode) or stat_module.S_ISDIR(mode)):
                reason = "neither a regular file nor a folder"
                self._skipped("targets.entry_skipped", name, reason=reason)
            else:
                found.append(_info(name, attrs))
        return found

    def _skipped(self, event: str, name: str, **details: str) -> None:
        """Log an entry of a listing that is left out of it."""
        log_event(logger, event, logging.WARNING, url=self.url, name=name, **details)

    def _rename(self, src: str, dst: str) -> None:
        old, new = self._full(src), self._full(dst)
        if self._posix_rename:
            try:
                self.sftp.posix_rename(old, new)
                return
            except OSError as exc:
                # paramiko keeps only "no such file" and "permission denied" as
                # errno; any other refusal may be a server without the extension.
                if exc.errno is not None:
                    raise
        with contextlib.suppress(FileNotFoundError):
            self.sftp.remove(new)
        self.sftp.rename(old, new)
        if self._posix_rename:
            log_event(logger, "targets.sftp_no_posix_rename", logging.INFO, url=self.url)
            self._posix_rename = False

    def _delete(self, path: str) -> None:
        self.sftp.remove(self._full(path))

    def _makedirs(self, folder: str) -> None:
        parts = folder.split("/")
        for n in range(1, len(parts) + 1):
            sub = self._full("/".join(parts[:n]))
            try:
                self.sftp.mkdir(sub)
            except OSError:
                try:
                    attrs = self.sftp.stat(sub)
                except OSError:
                    attrs = None
                if attrs is None or not stat_module.S_ISDIR(attrs.st_mode or 0):
                    raise

    # -- errors ----------------------------------------------------------------------

    def _translate(self, exc: Exception, path: str) -> errors.TargetError:
        import paramiko

        if isinstance(exc, paramiko.BadHostKeyException):
            return self._error(
                errors.AuthenticationFailed, "the server's host key has changed", path
            )
        if isinstance(exc, paramiko.AuthenticationException):
            return self._error(errors.AuthenticationFailed, f"authentication failed: {exc}", path)
        if isinstance(exc, paramiko.SSHException):
            text = str(exc)
            if "known_hosts" in text:
                message = f"unknown host key (not in {self.known_hosts})"
                return self._error(errors.AuthenticationFailed, message, path)
            if "timeout" in text.lower():
                return self._error(errors.TargetTimeout, f"timed out: {text}", path)
            return self._error(errors.ConnectionFailed, f"SSH error: {text}", path)
        if isinstance(exc, SymlinkRefused):
            return self._error(errors.PermissionDenied, exc.strerror, path)
        if isinstance(exc, PermissionError):
            return self._error(errors.PermissionDenied, str(exc.strerror or exc), path)
        if isinstance(exc, UnicodeDecodeError):
            # paramiko decodes names strictly: a name that is not UTF-8 fails the reply.
            message = "the server's reply is not UTF-8 text (a file name?)"
            return self._error(errors.ConnectionFailed, message, path)
        if isinstance(exc, OSError) and exc.errno is None and type(exc) in {OSError, IOError}:
            # paramiko's SFTP status errors carry only a text.
            text = str(exc)
            if any(word in text.lower() for word in _CLOSED_WORDS):
                return self._error(errors.ConnectionFailed, f"connection lost: {text}", path)
            return self._error(errors.PermanentTargetError, f"server refused: {text}", path)
        return super()._translate(exc, path)


def _transport(sock: Any, **kwargs: Any) -> paramiko.Transport:
    """A transport that prefers AES-GCM: one pass of authenticated encryption instead
    of a cipher plus an HMAC, which is what limits large uploads (~1.7x measured)."""
    import paramiko

    transport = paramiko.Transport(sock, **kwargs)
    options = transport.get_security_options()
    ciphers = list(options.ciphers)
    gcm = [name for name in ciphers if "-gcm@" in name]
    options.ciphers = tuple(gcm + [name for name in ciphers if name not in gcm])
    return transport


def _info(path: str, attrs: paramiko.SFTPAttributes) -> RemoteInfo:
    is_dir = stat_module.S_ISDIR(attrs.st_mode or 0)
    size = 0 if is_dir else int(attrs.st_size or 0)
    mtime = float(attrs.st_mtime) if attrs.st_mtime is not None else None
    return RemoteInfo(path, size, mtime, None, is_dir)
