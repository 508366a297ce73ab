"""``ftp://`` and ``ftps://`` targets, on the standard library's :mod:`ftplib`.

``ftp://user@host:21/path`` logs in, changes to ``/path`` (absolute, as the
server shows it; no path means the login folder) and stays there: names are
relative to it.  ``ftps://`` is explicit TLS (``AUTH TLS``, then a protected
data channel that resumes the control connection's TLS session, as vsftpd
requires: :mod:`entrepot.targets.ftp_tls`); the server certificate is
verified against the system trust store or ``ca_file``
(:mod:`entrepot.targets.tls`).  Transfers are passive and binary.

Options: ``timeout`` (every socket operation, and a call's deadline without
progress), ``ca_file``, ``verify_tls`` (default true; false is warned about
on every run), ``blocksize`` (bytes per data-channel write).

Data connections are handled here rather than by ``ftplib``'s
``storbinary``/``retrbinary``: it lets progress be reported per block,
uploads over plain FTP go out with ``sendfile`` (the kernel copies the
file; FTPS encrypts in this process, so it sends block by block), and a
TLS shutdown that fails because the server closed an empty data channel
before the handshake finished (``SHUTDOWN_WHILE_IN_INIT``, a long-standing
CPython issue) is tolerated — the final reply still tells whether the
transfer worked.

Listings never pass a path to the server, which some servers expand as a
glob (ProFTPD lists ``data[1]`` as a pattern): the target changes into the
folder and lists it there.  They use ``MLSD`` when ``FEAT`` names ``MLSD``
or ``MLST``; otherwise ``LIST -a`` (``NLST`` hides dot-files, and with them
the temporary names a sweep must find) with ``MDTM`` for each file's time,
as vsftpd's listing has none that can be used.  An entry that cannot be
read is left out, never guessed to be a folder, and so is one whose size is
not a count of bytes (``size=abc``, ``-7``: logged as
``targets.entry_skipped``).  Replies are read by their code and command
(:mod:`entrepot.targets.ftp_replies`); one that is not UTF-8 text is a
broken connection, not a crash.  Replies and listings are read within
bounds, and listings split into lines at ``CRLF`` (or ``LF``) only
(:mod:`entrepot.targets.ftp_lines`).
"""

from __future__ import annotations

import contextlib
import ftplib
import logging
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import IO, Any, ClassVar

from entrepot.errors import (
    PermissionDenied,
    RemoteNotFound,
    TargetError,
)
from entrepot.logs import log_event
from entrepot.redact import is_utf8
from entrepot.targets.base import Target
from entrepot.targets.deadline import hang_up
from entrepot.targets.ftp_lines import BoundedFTP, read_listing
from entrepot.targets.ftp_replies import (
    FTPReply,
    UnusableSize,
    answering,
    error_class,
    failure,
    features,
    mdtm_time,
    mlsd_facts,
    mlsd_info,
    parse_list_line,
    unusable_size,
)
from entrepot.targets.ftp_tls import TLSClient
from entrepot.targets.info import RemoteInfo, listed_size
from entrepot.targets.tls import client_context
from entrepot.targets.transfer import Progress, copy_stream, send_stream
from entrepot.targets.url import TargetURL

logger = logging.getLogger(__name__)
_DEFAULT_BLOCK = 256 * 1024
_UNKNOWN_COMMAND = {"500", "502", "504"}


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
        #: The session being set up or in use, and its data channel: what _abort hangs up.
        self._session: ftplib.FTP | None = None
        self._data: socket.socket | None = None
        self._features: set[str] = set()
        self._home = "/"

    @property
    def port(self) -> int:
        return self.target_url.port or self.default_port

    @property
    def _mlsd(self) -> bool:
        return bool({"mlsd", "mlst"} & self._features)

    # -- connection ------------------------------------------------------------------

    def _new_client(self) -> ftplib.FTP:
        return BoundedFTP(timeout=self.timeout, encoding="utf-8")

    def _secure(self, ftp: ftplib.FTP) -> None:
        """Protect the session (FTPS only)."""

    def _after_login(self, ftp: ftplib.FTP) -> None:
        """Set up the data channel protection (FTPS only)."""

    def _connect(self) -> None:
        ftp = self._session = self._new_client()
        try:
            ftp.connect(self.target_url.host, self.port)
            self._secure(ftp)
            with answering("LOGIN"):
                ftp.login(self.target_url.user or "anonymous", self.password or "")
            self._after_login(ftp)
            ftp.voidcmd("TYPE I")
            self._features = features(ftp)
            if self.target_url.path:
                with answering("CWD"):
                    ftp.cwd(self.target_url.path)
            self._home = ftp.pwd()
        except BaseException:
            self._session = None
            _quietly_close(ftp)
            raise
        self._ftp = ftp

    def _disconnect(self) -> None:
        ftp, self._ftp, self._session = self._ftp, None, None
        if ftp is None:
            return
        try:
            ftp.quit()
        except (OSError, EOFError, ftplib.Error):
            _quietly_close(ftp)

    def _abort(self) -> None:
        session = self._session
        hang_up(self._data)
        if session is not None:
            hang_up(session.sock)

    @property
    def ftp(self) -> ftplib.FTP:
        assert self._ftp is not None, "not connected"
        return self._ftp

    # -- data channel ----------------------------------------------------------------

    @contextlib.contextmanager
    def _channel(self, verb: str, command: str) -> Iterator[socket.socket]:
        """A data connection for ``command``; the final reply is checked on the way out."""
        with answering(verb):
            conn = self.ftp.transfercmd(command)
        self._data = conn
        try:
            yield conn
        finally:
            self._data = None
            if isinstance(conn, ssl.SSLSocket):
                # See the module docstring: the final reply decides, not the TLS shutdown.
                with contextlib.suppress(ssl.SSLError, OSError):
                    conn.unwrap()
            conn.close()
        try:
            with answering(verb):
                self.ftp.voidresp()
        except EOFError as exc:
            closed = f"the server closed the connection during the transfer ({verb})"
            raise ConnectionAbortedError(closed) from exc

    def _lines(self, verb: str, command: str) -> list[str]:
        with self._channel(verb, command) as conn:
            return read_listing(conn.recv, self._progressed, self.blocksize)

    # -- primitives ------------------------------------------------------------------

    def _put(self, path: str, src: IO[bytes], size: int, progress: Progress) -> RemoteInfo | None:
        with self._channel("STOR", f"STOR {path}") as conn:
            send_stream(conn, src, size=size, blocksize=self.blocksize, progress=progress)
        return None

    def _get(self, path: str, write: Callable[[bytes], object], progress: Progress) -> None:
        with self._channel("RETR", f"RETR {path}") as conn:
            copy_stream(conn.recv, write, blocksize=self.blocksize, progress=progress)

    def _stat(self, path: str) -> RemoteInfo | None:
        try:
            if "mlst" in self._features:
                with answering("MLST"):
                    reply = self.ftp.sendcmd(f"MLST {path}")
                for line in reply.split("\n")[1:]:  # a name may hold what splitlines() cuts at
                    if line.startswith(" "):
                        facts = mlsd_facts(line.strip().partition(" ")[0])
                        info = mlsd_info(path, facts)
                        if info is None:
                            raise UnusableSize(path, facts.get("size"))
                        return info
                return None
            with answering("SIZE"):
                reply = self.ftp.sendcmd(f"SIZE {path}")
            text = reply[3:].strip() if reply.startswith("213") else "0"
            size = listed_size(text)
            if size is None:
                raise UnusableSize(path, text)
            return RemoteInfo(path, size, None)
        except FTPReply as exc:
            if not issubclass(error_class(exc.verb, exc.code), RemoteNotFound):
                raise
        # Not a file; a folder if the server lets us change into it.
        if "mlst" not in self._features and self._is_folder(path):
            return RemoteInfo(path, 0, None, None, True)
        return None

    def _is_folder(self, path: str) -> bool:
        try:
            self.ftp.cwd(path)
        except ftplib.error_perm:
            return False
        with answering("CWD"):
            self.ftp.cwd(self._home)
        return True

    def _list(self, folder: str) -> Iterable[RemoteInfo]:
        # Listed from inside the folder: a path argument may be taken for a glob.
        if folder:
            with answering("CWD"):
                self.ftp.cwd(folder)
        try:
            return self._list_here(f"{folder}/" if folder else "")
        finally:
            if folder:
                with answering("CWD"):
                    self.ftp.cwd(self._home)

    def _list_here(self, prefix: str) -> list[RemoteInfo]:
        if self._mlsd:
            try:
                lines = self._lines("MLSD", "MLSD")
            except FTPReply as exc:
                if exc.code not in _UNKNOWN_COMMAND:
                    raise
                self._features -= {"mlsd", "mlst"}
            else:
                found = []
                for line in lines:
                    facts, _, name = line.partition(" ")
                    parsed = mlsd_facts(facts)
                    if parsed.get("type") in {"file", "dir"}:
                        info = mlsd_info(prefix + name, parsed)
                        if info is None:
                            self._skipped(prefix + name, unusable_size(parsed.get("size")))
                        else:
                            found.append(info)
                return found
        found = []
        for line in self._lines("LIST", "LIST -a"):
            entry = parse_list_line(line)
            if entry is None or entry.name in {".", ".."}:
                if entry is None and line.strip() and not line.startswith("total "):
                    log_event(
                        logger, "targets.ftp_line_skipped", logging.INFO, url=self.url, line=line
                    )
                continue
            # A command can carry it: UTF-8, and no line end (which would end the command).
            sendable = is_utf8(entry.name) and not ({"\r", "\n"} & set(entry.name))
            if entry.kind == "d":
                found.append(RemoteInfo(prefix + entry.name, 0, None, None, True))
            elif entry.kind == "-":
                mtime = self._mtime(entry.name) if sendable else None
                found.append(RemoteInfo(prefix + entry.name, entry.size, mtime))
            elif not sendable:  # what it is cannot be asked: a name a command cannot carry
                why = "a link or special file whose name is not UTF-8 or holds a line end"
                self._skipped(prefix + entry.name, why)
            else:
                # A link or something else: a file only if the server says so.
                try:
                    info = self._stat(entry.name)
                except UnusableSize as exc:
                    self._skipped(prefix + entry.name, unusable_size(exc.size))
                    continue
                if info is not None:
                    found.append(replace(info, name=prefix + entry.name))
        return found

    def _skipped(self, name: str, reason: str) -> None:
        log_event(
            logger, "targets.entry_skipped", logging.WARNING, url=self.url, name=name, reason=reason
        )

    def _mtime(self, name: str) -> float | None:
        if "mdtm" not in self._features:
            return None
        try:
            with answering("MDTM"):
                reply = self.ftp.sendcmd(f"MDTM {name}")
        except FTPReply as exc:
            if exc.code in _UNKNOWN_COMMAND:
                self._features.discard("mdtm")
            return None
        return mdtm_time(reply[4:])

    def _rename(self, src: str, dst: str) -> None:
        try:
            with answering("RNFR"):
                self.ftp.sendcmd(f"RNFR {src}")
        except FTPReply as exc:
            self._refused_if_present(exc, src)
            raise
        with answering("RNTO"):
            self.ftp.voidcmd(f"RNTO {dst}")

    def _delete(self, path: str) -> None:
        try:
            with answering("DELE"):
                self.ftp.delete(path)
        except FTPReply as exc:
            self._refused_if_present(exc, path)
            raise

    def _refused_if_present(self, exc: FTPReply, path: str) -> None:
        """A 550 to DELE or RNFR means "missing" or "refused": the file's presence tells."""
        if exc.code == "550" and self._stat(path) is not None:
            raise self._error(PermissionDenied, f"server replied {exc.text}", path) from exc

    def _makedirs(self, folder: str) -> None:
        parts = folder.split("/")
        for n in range(1, len(parts) + 1):
            sub = "/".join(parts[:n])
            try:
                with answering("MKD"):
                    self.ftp.mkd(sub)
            except FTPReply:
                info = self._stat(sub)
                if info is None or not info.is_dir:
                    raise

    # -- errors ----------------------------------------------------------------------

    def _translate(self, exc: Exception, path: str) -> TargetError:
        meaning = failure(exc)
        if meaning is None:
            return super()._translate(exc, path)
        cls, message = meaning
        return self._error(cls, message, path)


class FTPSTarget(FTPTarget):
    """A folder on an FTP server over explicit TLS (``AUTH TLS``)."""

    scheme = "ftps"

    def __init__(self, url: TargetURL, **options: Any) -> None:
        super().__init__(url, **options)
        # Built at once: an unusable ca_file is a ConfigError when the target is opened.
        self._context = client_context(
            verify_tls=self.options.get("verify_tls", True), ca_file=self.options.get("ca_file")
        )

    def _new_client(self) -> ftplib.FTP:
        return TLSClient(context=self._context, timeout=self.timeout, encoding="utf-8")

    def _secure(self, ftp: ftplib.FTP) -> None:
        assert isinstance(ftp, ftplib.FTP_TLS)
        ftp.auth()

    def _after_login(self, ftp: ftplib.FTP) -> None:
        assert isinstance(ftp, ftplib.FTP_TLS)
        ftp.prot_p()


def _quietly_close(ftp: ftplib.FTP) -> None:
    with contextlib.suppress(OSError):
        ftp.close()
