"""The FTPS client: explicit TLS whose data connections resume the control connection's session.

Servers check that the data connection comes from the client that logged
in by asking it to resume the control connection's TLS session: vsftpd
(``require_ssl_reuse``, on by default), ProFTPD's mod_tls (unless
``NoSessionReuseRequired``) and FileZilla Server refuse every transfer
and listing otherwise (``522 SSL connection failed: session reuse
required``).  :class:`ftplib.FTP_TLS` starts a fresh session on each data
connection; :class:`TLSClient` offers the control connection's session
(TLS 1.2 and 1.3 alike), as FileZilla, lftp and curl do.  A server that
does not care simply starts a new one.
"""

from __future__ import annotations

import ftplib
import socket
import ssl

from entrepot.targets.ftp_lines import BoundedFTP

__all__ = ["TLSClient"]


class TLSClient(BoundedFTP, ftplib.FTP_TLS):
    """:class:`ftplib.FTP_TLS` with bounded replies and resumed data-connection sessions."""

    def ntransfercmd(
        self, cmd: str, rest: int | str | None = None
    ) -> tuple[socket.socket, int | None]:
        # The plain connection (FTP's own step), wrapped here rather than by FTP_TLS.
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)  # noqa: S321
        if self._prot_p:  # type: ignore[attr-defined]
            control = self.sock
            session = control.session if isinstance(control, ssl.SSLSocket) else None
            try:
                conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
            except BaseException:
                conn.close()
                raise
        return conn, size
