"""S3 over HTTPS: a certificate that cannot be verified, and a ``ca_file`` that cannot be used.

What was wrong: a store whose certificate could not be verified (self-signed,
from an unknown CA, for another host name) was a transient ``ConnectionFailed``
(exit 5), so the service retried it for ever like a network blip, with
botocore's or :mod:`ssl`'s raw text as the message; FTPS calls the same
certificate an ``AuthenticationFailed`` (exit 6).  And a ``ca_file`` that cannot
be used was found only when a request was made, as a network failure.

What is expected now, on both request paths (the direct one and boto3's): an
untrusted certificate is ``AuthenticationFailed``, exit 6, saying "TLS
certificate not trusted: <why>"; with ``ca_file=`` naming the store's
certificate everything works; a ``ca_file`` that is missing, a folder or holds
no certificate is a ``ConfigError`` naming the option and the path (exit 3)
when the target is opened.

The store is the real SeaweedFS fixture behind a small TLS-terminating proxy.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from entrepot.errors import AuthenticationFailed, ConfigError
from entrepot.targets import open_target
from tests.hostile._targets import entrepot
from tests.hostile.test_targets_ftps_ca_file import unusable_ca_file
from tests.servers.ftp import make_self_signed_cert

pytestmark = pytest.mark.server

PATHS = pytest.mark.parametrize("fast_put", [True, False], ids=["direct", "boto3"])


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    """Copy ``source`` to ``sink`` until either end closes; then close both."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.close()


class TLSProxy:
    """Accepts TLS with ``certfile`` on loopback and forwards the plain bytes to ``backend``."""

    def __init__(self, certfile: Path, backend: int) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certfile)
        self.backend = backend
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):  # the listener closed
            while True:
                client, _ = self.listener.accept()
                threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            secured = self.context.wrap_socket(client, server_side=True)
        except OSError:  # the client refused the certificate
            client.close()
            return
        store = socket.create_connection(("127.0.0.1", self.backend))
        threading.Thread(target=_pipe, args=(secured, store), daemon=True).start()
        _pipe(store, secured)

    def close(self) -> None:
        self.listener.close()


@dataclass
class HTTPSStore:
    """The S3 fixture's folder, reached over HTTPS through the proxy."""

    folder: Any
    port: int
    certificate: Path
    #: A certificate that has nothing to do with the store's.
    stranger: Path

    def url(self, host: str = "127.0.0.1") -> str:
        folder = self.folder
        endpoint = f"https://{host}:{self.port}"
        return f"s3://{folder.bucket}/{folder.prefix}?endpoint_url={endpoint}&region=us-east-1"

    def options(self, fast_put: bool, **more: Any) -> dict[str, Any]:
        return {**self.folder.options, "fast_put": fast_put, "timeout": 10, **more}


@pytest.fixture
def https_store(s3_server: Any, tmp_path: Path) -> Iterator[HTTPSStore]:
    certificate = make_self_signed_cert(tmp_path / "store.pem")
    stranger = make_self_signed_cert(tmp_path / "stranger.pem")
    proxy = TLSProxy(certificate, s3_server.port)
    try:
        yield HTTPSStore(s3_server, proxy.port, certificate, stranger)
    finally:
        proxy.close()


def _untrusted(store: HTTPSStore, fast_put: bool, case: str) -> tuple[str, dict[str, Any], str]:
    """URL, options and the reason said, for a certificate the client cannot verify.

    The direct path is taken only with a ``ca_file`` given (else boto3 is asked
    whether a CA bundle of its own applies): the stranger's, or the store's own
    for a host name it was not made for.
    """
    if case == "unknown":
        options = store.options(fast_put, ca_file=str(store.stranger))
        return store.url(), options, "self-signed certificate"
    if case == "self-signed":
        return store.url(), store.options(fast_put), "self-signed certificate"
    # ssl says "Hostname mismatch, …"; urllib3 (boto3's) "hostname … doesn't match".
    options = store.options(fast_put, ca_file=str(store.certificate))
    return (
        store.url("localhost"),
        options,
        "Hostname mismatch" if fast_put else "hostname 'localhost'",
    )


UNTRUSTED = pytest.mark.parametrize(
    ("fast_put", "case"),
    [(True, "unknown"), (True, "wrong-host"), (False, "self-signed"), (False, "wrong-host")],
    ids=["direct-unknown-ca", "direct-wrong-host", "boto3-self-signed", "boto3-wrong-host"],
)


@UNTRUSTED
def test_an_untrusted_certificate_is_an_authentication_failure(
    https_store: HTTPSStore, fast_put: bool, case: str
) -> None:
    url, options, reason = _untrusted(https_store, fast_put, case)
    target = open_target(url, **options)
    with pytest.raises(AuthenticationFailed) as caught:
        target.list("")
    assert str(caught.value).startswith(f"TLS certificate not trusted: {reason}")
    assert not caught.value.transient
    # The path taken: the direct one meets ssl's error itself, boto3 wraps it.
    direct = isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
    assert direct is fast_put
    assert https_store.folder.secret_key not in str(caught.value)


@UNTRUSTED
def test_ls_and_put_exit_6_saying_why(
    https_store: HTTPSStore, tmp_path: Path, fast_put: bool, case: str
) -> None:
    url, options, reason = _untrusted(https_store, fast_put, case)
    folder = https_store.folder
    login = ["--password-env", "S3_SECRET", "-o", f"access_key={folder.access_key}"]
    login += ["-o", f"fast_put={fast_put}", "-o", "max_attempts=1", "--timeout", "10"]
    if "ca_file" in options:
        login += ["-o", f"ca_file={options['ca_file']}"]
    env = {"S3_SECRET": folder.secret_key}
    listed = entrepot("ls", url, *login, env=env)
    assert listed.returncode == 6, listed.stderr
    assert f"TLS certificate not trusted: {reason}" in listed.stderr
    assert "SSL validation failed" not in listed.stderr

    local = tmp_path / "a.csv"
    local.write_bytes(b"row\n")
    put = entrepot("put", local, url, *login, env=env)
    assert put.returncode == 6, put.stderr
    assert f"TLS certificate not trusted: {reason}" in put.stderr
    assert folder.keys() == []


@PATHS
def test_the_store_s_certificate_as_ca_file_works(https_store: HTTPSStore, fast_put: bool) -> None:
    options = https_store.options(fast_put, ca_file=str(https_store.certificate))
    with open_target(https_store.url(), **options) as target:
        target.upload_bytes(b"row\n", "a.csv")
        assert [info.name for info in target.list("")] == ["a.csv"]
        assert target.read_bytes("a.csv") == b"row\n"
    assert https_store.folder.keys() == ["a.csv"]


KINDS = pytest.mark.parametrize("kind", ["missing", "folder", "not_a_certificate"])


@PATHS
@KINDS
def test_an_unusable_ca_file_is_a_config_error_when_opened(
    https_store: HTTPSStore, tmp_path: Path, kind: str, fast_put: bool
) -> None:
    ca_file, said = unusable_ca_file(kind, tmp_path)
    with pytest.raises(ConfigError) as caught:
        open_target(https_store.url(), **https_store.options(fast_put, ca_file=str(ca_file)))
    assert str(caught.value).startswith(f"ca_file {str(ca_file)!r}: {said}")
    assert https_store.folder.secret_key not in str(caught.value)


@KINDS
def test_ls_with_an_unusable_ca_file_exits_3(
    https_store: HTTPSStore, tmp_path: Path, kind: str
) -> None:
    ca_file, said = unusable_ca_file(kind, tmp_path)
    folder = https_store.folder
    login = ["--password-env", "S3_SECRET", "-o", f"access_key={folder.access_key}"]
    listed = entrepot(
        "ls",
        https_store.url(),
        *login,
        "-o",
        f"ca_file={ca_file}",
        env={"S3_SECRET": folder.secret_key},
    )
    assert listed.returncode == 3, listed.stderr
    assert f"ca_file {str(ca_file)!r}: {said}" in listed.stderr
