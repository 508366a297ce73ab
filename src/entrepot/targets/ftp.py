"""``ftp://`` and ``ftps://`` targets, on the standard library's :mod:`ftplib`.

``ftp://user@host:21/path`` logs in, changes to ``/path`` (absolute, as the
server shows it; no path means the login folder) and stays there: names are
relative to it.  ``ftps://`` is explicit TLS (``AUTH TLS``, then a protected
data channel); the server certificate is verified against the system
trust store or ``ca_file``.  Transfers are passive and binary.

Options: ``timeout`` (every socket operation), ``ca_file``, ``verify_tls``
(default true), ``blocksize`` (bytes per data-channel write).

Data connections are handled here rather than by ``ftplib``'s
``storbinary``/``retrbinary``: it lets progress be reported per block, and a
TLS shutdown that fails because the server closed an empty data channel
before the handshake finished (``SHUTDOWN_WHILE_IN_INIT``, a long-standing
CPython issue) is tolerated — the final reply still tells whether the
transfer worked.  Listings use ``MLSD``, or ``NLST`` plus ``SIZE`` on servers
without it (vsftpd); ``stat`` uses ``MLST`` or ``SIZE``.
"""

from __future__ import annotations

import contextlib
import ftplib
import socket
import ssl
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any, ClassVar

from entrepot.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    PermanentTargetError,
    PermissionDenied,
    RemoteNotFound,
    TargetError,
    TransientTargetError,
)
from entrepot.targets.base import Progress, RemoteInfo, Target
from entrepot.targets.url import TargetURL

_DEFAULT_BLOCK = 256 * 1024
_DENIED_WORDS = ("privilege", "permission", "denied", "not allowed", "refused")


class FTPTarget(Target):
    """A folder on an FTP server; see the module docstring."""

    scheme = "ftp"
    default_port = 21
    option_types: ClassVar[dict[str, type]] = {
        "ca_file": str,
        "verify_tls": bool,
        "blocksize": int,
    }

    def __init__(self, url: TargetURL, **options: Any) -> None:
        super().__init__(url, **options)
        self.blocksize: int = self.options.get("blocksize") or _DEFAULT_BLOCK
        self._ftp: ftplib.FTP | None = None
        self._features: set[str] = set()
        self._home = "/"

    @property
    def port(self) -> int:
        return self.target_url.port or self.default_port

    # -- connection ------------------------------------------------------------------

    def _new_client(self) -> ftplib.FTP:
        return ftplib.FTP(timeout=self.timeout, encoding="utf-8")  # noqa: S321 - plain FTP is asked for

    def _secure(self, ftp: ftplib.FTP) -> None:
        """Protect the session (FTPS only)."""

    def _connect(self) -> None:
        ftp = self._new_client()
        try:
            ftp.connect(self.target_url.host, self.port)
            self._secure(ftp)
            ftp.login(self.target_url.user or "anonymous", self.password or "")
            self._after_login(ftp)
            ftp.voidcmd("TYPE I")
            self._features = _features(ftp)
            if self.target_url.path:
                try:
                    ftp.cwd(self.target_url.path)
                except ftplib.error_perm as exc:
                    if str(exc)[:3] in {"550", "501", "553"}:
                        raise self._error(RemoteNotFound, "no such folder", "") from exc
                    raise
            self._home = ftp.pwd()
        except BaseException:
            _quietly_close(ftp)
            raise
        self._ftp = ftp

    def _after_login(self, ftp: ftplib.FTP) -> None:
        """Set up the data channel protection (FTPS only)."""

    def _disconnect(self) -> None:
        ftp, self._ftp = self._ftp, None
        if ftp is None:
            return
        try:
            ftp.quit()
        except (OSError, EOFError, ftplib.Error):
            _quietly_close(ftp)

    @property
    def ftp(self) -> ftplib.FTP:
        assert self._ftp is not None, "not connected"
        return self._ftp

    # -- data channel ----------------------------------------------------------------

    def _close_data(self, conn: socket.socket) -> None:
        if isinstance(conn, ssl.SSLSocket):
            # See the module docstring: the final reply decides, not the TLS shutdown.
            with contextlib.suppress(ssl.SSLError, OSError):
                conn.unwrap()
        conn.close()

    def _send(self, cmd: str, src: IO[bytes], size: int, progress: Progress | None) -> None:
        conn = self.ftp.transfercmd(cmd)
        try:
            remaining = size
            while remaining > 0:
                chunk = src.read(min(self.blocksize, remaining))
                if not chunk:
                    break
                conn.sendall(chunk)
                remaining -= len(chunk)
                if progress is not None:
                    progress(len(chunk))
        finally:
            self._close_data(conn)
        self.ftp.voidresp()

    def _receive(self, cmd: str, dst: IO[bytes] | list[bytes], progress: Progress | None) -> None:
        conn = self.ftp.transfercmd(cmd)
        try:
            while chunk := conn.recv(self.blocksize):
                if isinstance(dst, list):
                    dst.append(chunk)
                else:
                    dst.write(chunk)
                if progress is not None:
                    progress(len(chunk))
        finally:
            self._close_data(conn)
        self.ftp.voidresp()

    # -- primitives ------------------------------------------------------------------

    def _put(
        self, path: str, src: IO[bytes], size: int, progress: Progress | None
    ) -> RemoteInfo | None:
        self._send(f"STOR {path}", src, size, progress)
        return None

    def _get(self, path: str, dst: IO[bytes], progress: Progress | None) -> None:
        self._receive(f"RETR {path}", dst, progress)

    def _stat(self, path: str) -> RemoteInfo | None:
        if "mlst" in self._features:
            try:
                reply = self.ftp.sendcmd(f"MLST {path}")
            except ftplib.error_perm as exc:
                if str(exc)[:3] in {"550", "501"}:
                    return None
                raise
            for line in reply.splitlines()[1:]:
                if line.startswith(" "):
                    facts, _, _ = line.strip().partition(" ")
                    return _info(path, _parse_facts(facts))
            return None
        try:
            size = self.ftp.size(path)
        except ftplib.error_perm as exc:
            if str(exc)[:3] in {"550", "501"}:
                return None
            raise
        return RemoteInfo(path, int(size or 0), None)

    def _list(self, folder: str) -> Iterable[RemoteInfo]:
        prefix = f"{folder}/" if folder else ""
        if "mlsd" in self._features:
            lines: list[bytes] = []
            self._receive(f"MLSD {folder}".rstrip(), lines, None)
            text = b"".join(lines).decode("utf-8", "replace")
            found = []
            for line in text.splitlines():
                facts_text, _, name = line.partition(" ")
                facts = _parse_facts(facts_text)
                if facts.get("type") in {"file", "dir"}:
                    found.append(_info(prefix + name, facts))
            return found
        chunks: list[bytes] = []
        self._receive(f"NLST {folder}".rstrip(), chunks, None)
        names = b"".join(chunks).decode("utf-8", "replace").splitlines()
        found = []
        for raw in names:
            name = raw.rsplit("/", 1)[-1]
            if name in {"", ".", ".."}:
                continue
            info = self._stat(prefix + name)
            found.append(info or RemoteInfo(prefix + name, 0, None, None, True))
        return found

    def _rename(self, src: str, dst: str) -> None:
        self.ftp.rename(src, dst)

    def _delete(self, path: str) -> None:
        self.ftp.delete(path)

    def _makedirs(self, folder: str) -> None:
        parts = folder.split("/")
        for n in range(1, len(parts) + 1):
            sub = "/".join(parts[:n])
            try:
                self.ftp.mkd(sub)
            except ftplib.error_perm as exc:
                if self._stat_is_dir(sub):
                    continue
                raise exc

    def _stat_is_dir(self, folder: str) -> bool:
        try:
            self.ftp.cwd(folder)
        except ftplib.error_perm:
            return False
        self.ftp.cwd(self._home)
        return True

    # -- errors ----------------------------------------------------------------------

    def _translate(self, exc: Exception, path: str) -> TargetError:
        if isinstance(exc, ftplib.error_perm):
            return self._reply_error(str(exc), path, permanent=True)
        if isinstance(exc, ftplib.error_temp):
            return self._reply_error(str(exc), path, permanent=False)
        if isinstance(exc, ftplib.error_reply | ftplib.error_proto):
            return self._error(ConnectionFailed, f"unexpected reply: {exc}", path)
        if isinstance(exc, ssl.SSLCertVerificationError):
            message = f"TLS certificate not trusted: {getattr(exc, 'verify_message', exc)}"
            return self._error(AuthenticationFailed, message, path)
        if isinstance(exc, ssl.SSLError):
            reason = getattr(exc, "reason", None) or exc
            return self._error(ConnectionFailed, f"TLS error: {reason}", path)
        if isinstance(exc, socket.gaierror):
            return self._error(ConnectionFailed, f"cannot resolve host: {exc.strerror}", path)
        return super()._translate(exc, path)

    def _reply_error(self, reply: str, path: str, *, permanent: bool) -> TargetError:
        code, text = reply[:3], reply.strip()
        if not permanent:
            cls = ConnectionFailed if code == "421" else TransientTargetError
            return self._error(cls, f"server replied {text}", path)
        if code == "530":
            return self._error(AuthenticationFailed, f"server replied {text}", path)
        lowered = text.lower()
        if code in {"550", "553", "552", "532"} and any(w in lowered for w in _DENIED_WORDS):
            return self._error(PermissionDenied, f"server replied {text}", path)
        if code in {"550", "501"}:
            return self._error(RemoteNotFound, f"server replied {text}", path)
        if code == "553":
            return self._error(PermissionDenied, f"server replied {text}", path)
        return self._error(PermanentTargetError, f"server replied {text}", path)


class FTPSTarget(FTPTarget):
    """A folder on an FTP server over explicit TLS (``AUTH TLS``)."""

    scheme = "ftps"

    def _new_client(self) -> ftplib.FTP:
        context = ssl.create_default_context(cafile=self.options.get("ca_file"))
        if not self.options.get("verify_tls", True):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return ftplib.FTP_TLS(context=context, timeout=self.timeout, encoding="utf-8")  # noqa: S321

    def _secure(self, ftp: ftplib.FTP) -> None:
        assert isinstance(ftp, ftplib.FTP_TLS)
        ftp.auth()

    def _after_login(self, ftp: ftplib.FTP) -> None:
        assert isinstance(ftp, ftplib.FTP_TLS)
        ftp.prot_p()


def _features(ftp: ftplib.FTP) -> set[str]:
    try:
        reply = ftp.sendcmd("FEAT")
    except ftplib.Error:
        return set()
    return {line.strip().split(" ")[0].lower() for line in reply.splitlines()[1:-1]}


def _parse_facts(text: str) -> dict[str, str]:
    facts = {}
    for fact in text.split(";"):
        key, sep, value = fact.partition("=")
        if sep:
            facts[key.strip().lower()] = value.strip()
    return facts


def _info(path: str, facts: dict[str, str]) -> RemoteInfo:
    is_dir = facts.get("type", "").lower() in {"dir", "cdir", "pdir"}
    mtime = None
    modify = facts.get("modify")
    if modify:
        try:
            stamp = datetime.strptime(modify[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
            mtime = stamp.timestamp()
        except ValueError:
            mtime = None
    size = 0 if is_dir else int(facts.get("size", "0") or 0)
    return RemoteInfo(path, size, mtime, None, is_dir)


def _quietly_close(ftp: ftplib.FTP) -> None:
    with contextlib.suppress(OSError):
        ftp.close()
