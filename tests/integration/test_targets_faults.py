"""Faults against the real servers: credentials, folders, permissions, outages, timeouts."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from entrepot.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    PermissionDenied,
    RemoteNotFound,
    TargetError,
    TargetTimeout,
    TransientTargetError,
)
from entrepot.targets import open_target

MiB = 1024 * 1024
NETWORK = ["ftp", "ftps", "sftp", "s3", "vsftpd", "sshd"]
pytestmark = pytest.mark.server


def _grouped(kinds: list[str]) -> list[Any]:
    """One xdist group per server kind, so each worker starts as few servers as it can."""
    return [pytest.param(k, marks=pytest.mark.xdist_group(f"targets-{k}")) for k in kinds]


@pytest.fixture(params=_grouped(NETWORK))
def server(request: pytest.FixtureRequest) -> Any:
    srv = request.getfixturevalue(f"{request.param}_server")
    srv.kind = request.param
    return srv


def wrong_secret(server: Any) -> dict[str, Any]:
    if server.kind == "s3":
        return {**server.options, "secret_key": "wrong-Sécret-42"}
    return {**server.options, "password": "wrong-Pässword-42"}


def big_file(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    return path, data


def assert_no_secret(exc: BaseException, *secrets: str) -> None:
    shown = " ".join([str(exc), repr(exc), str(getattr(exc, "url", ""))])
    for secret in secrets:
        assert secret not in shown


def test_wrong_password_is_permanent_and_never_shown(server: Any, tmp_path: Path) -> None:
    options = wrong_secret(server)
    local = tmp_path / "a.csv"
    local.write_bytes(b"a,b\n")
    target = open_target(server.url, **options)
    with pytest.raises(AuthenticationFailed) as caught:
        target.upload(local, "a.csv")
    exc = caught.value
    assert not exc.transient
    assert exc.host == "127.0.0.1"
    assert exc.port == server.port
    assert exc.path
    assert_no_secret(exc, "wrong-Pässword-42", "wrong-Sécret-42")
    assert local.read_bytes() == b"a,b\n"


def test_password_in_the_url_is_masked(server: Any) -> None:
    if server.kind == "s3":
        url = server.url + "&secret_key=wrong-Sécret-42"
        options = {k: v for k, v in server.options.items() if k != "secret_key"}
    else:
        scheme, rest = server.url.split("://", 1)
        url = f"{scheme}://{server.user}:wrong-P%C3%A4ssword-42@{rest.split('@', 1)[1]}"
        options = {k: v for k, v in server.options.items() if k != "password"}
    target = open_target(url, **options)
    assert "wrong-Pässword-42" not in target.url
    assert "wrong-Sécret-42" not in target.url
    assert "***" in target.url
    with pytest.raises(AuthenticationFailed) as caught:
        target.connect()
    assert_no_secret(caught.value, "wrong-Pässword-42", "wrong-Sécret-42", "wrong-P%C3%A4ssword")


def test_missing_remote_folder_is_permanent(server: Any) -> None:
    if server.kind == "s3":
        url = server.url.replace(f"s3://{server.bucket}/", "s3://no-such-bucket-zz/")
    else:
        url = server.url + "/does-not-exist"
    target = open_target(url, **server.options)
    with pytest.raises(RemoteNotFound) as caught:
        target.upload_bytes(b"x", "x.csv")
    assert not caught.value.transient
    assert "does-not-exist" in str(caught.value) or "no-such-bucket-zz" in str(caught.value)


def test_permission_denied(server: Any, tmp_path: Path) -> None:
    local = tmp_path / "a.csv"
    local.write_bytes(b"1")
    if server.kind == "s3":
        options = {
            **server.options,
            "access_key": server.readonly_access_key,
            "secret_key": server.readonly_secret_key,
        }
        url = server.url
    else:
        options = {**server.options, "password": server.readonly_password}
        url = server.url.replace(f"{server.user}@", f"{server.readonly_user}@")
    with open_target(url, **options) as target:
        assert target.list() == []  # reading is allowed
        with pytest.raises(PermissionDenied) as caught:
            target.upload(local, "a.csv")
        assert not caught.value.transient
        assert target.list() == []
    assert local.read_bytes() == b"1"


def test_server_down_before_upload_is_transient_then_recovers(server: Any, tmp_path: Path) -> None:
    local = tmp_path / "a.csv"
    local.write_bytes(b"payload")
    target = server.open()
    target.connect()
    server.stop()
    with pytest.raises(TransientTargetError) as caught:
        target.upload(local, "a.csv")
    assert isinstance(caught.value, ConnectionFailed | TargetTimeout)
    assert local.read_bytes() == b"payload"
    server.start()
    info = target.upload(local, "a.csv")  # the same target reconnects
    assert info.size == 7
    target.close()


def test_server_down_during_upload_leaves_nothing_under_the_final_name(
    server: Any, tmp_path: Path
) -> None:
    more: dict[str, Any] = {}
    size = 24 * MiB
    if server.kind == "s3":
        more = {"multipart_threshold": 5 * MiB, "multipart_chunksize": 5 * MiB}
    local, data = big_file(tmp_path, size)
    stopped: list[bool] = []

    def pull_the_plug(_: int) -> None:
        if not stopped:
            stopped.append(True)
            server.stop()

    with server.open(**more) as target:
        with pytest.raises(TargetError) as caught:
            target.upload(local, "big.bin", progress=pull_the_plug)
        assert caught.value.transient, repr(caught.value)
    assert local.read_bytes() == data
    server.start()
    with server.open() as target:
        assert target.stat("big.bin") is None
        assert target.list() == []


def test_timeout_when_the_server_never_answers(server: Any) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel accepts; nobody ever answers
        port = silent.getsockname()[1]
        url = server.url.replace(f":{server.port}", f":{port}")
        target = open_target(url, **{**server.options, "timeout": 0.5})
        started = time.monotonic()
        with pytest.raises(TransientTargetError) as caught:
            target.upload_bytes(b"x", "x.csv")
        assert isinstance(caught.value, TargetTimeout | ConnectionFailed)
        assert time.monotonic() - started < 10


def test_connection_refused_is_transient(server: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = server.url.replace(f":{server.port}", f":{port}")
    with pytest.raises(ConnectionFailed) as caught:
        open_target(url, **server.options).connect()
    assert caught.value.port == port


# -- protocol-specific faults -------------------------------------------------------


@pytest.mark.xdist_group("targets-ftp")
def test_ftp_dropped_connection_mid_batch_reconnects(ftp_server: Any, tmp_path: Path) -> None:
    with ftp_server.open() as target:
        target.upload_bytes(b"0", "f0.csv")
        ftp_server.drop_after(2)
        for n in range(1, 6):
            target.upload_bytes(str(n).encode(), f"f{n}.csv")
    assert sorted(p.name for p in ftp_server.root.iterdir()) == [f"f{n}.csv" for n in range(6)]


@pytest.mark.xdist_group("targets-ftp")
def test_ftp_dropped_connection_without_reconnect_fails_cleanly(ftp_server: Any) -> None:
    with ftp_server.open(reconnect=False) as target:
        ftp_server.drop_after(2)
        target.upload_bytes(b"1", "f1.csv")
        with pytest.raises(ConnectionFailed):
            target.upload_bytes(b"2", "f2.csv")  # its STOR completes, then the line drops
        assert "f2.csv" not in {p.name for p in ftp_server.root.iterdir()}
        target.upload_bytes(b"3", "f3.csv")  # a later call opens a new connection
    names = {p.name for p in ftp_server.root.iterdir()}
    assert {"f1.csv", "f3.csv"} <= names
    assert "f2.csv" not in names  # stored under its temporary name only, never published


@pytest.mark.xdist_group("targets-sftp")
def test_sftp_dropped_connection_mid_batch_reconnects(sftp_server: Any) -> None:
    with sftp_server.open() as target:
        sftp_server.drop_after(2)
        for n in range(5):
            target.upload_bytes(str(n).encode(), f"f{n}.csv")
    assert sorted(p.name for p in sftp_server.root.iterdir()) == [f"f{n}.csv" for n in range(5)]


@pytest.mark.xdist_group("targets-sftp")
@pytest.mark.parametrize("verify", [True, False])
def test_sftp_connection_lost_while_closing_a_file_writes_it_again_elsewhere(
    sftp_server: Any, verify: bool
) -> None:
    # What the dead connection left undone must not touch the file written again.
    with sftp_server.open() as target:
        target.upload_bytes(b"first", "a.csv")
        sftp_server.lose_next_close()
        target.upload_bytes(b"second file", "b.csv", verify=verify)
        target.upload_bytes(b"third", "c.csv")
    assert (sftp_server.root / "b.csv").read_bytes() == b"second file"
    assert sorted(p.name for p in sftp_server.root.iterdir()) == ["a.csv", "b.csv", "c.csv"]
    # The late truncation never came: the first partial file was given up.
    assert sftp_server.server.stale_truncation is not None


@pytest.mark.xdist_group("targets-sftp")
@pytest.mark.parametrize("verify", [True, False])
def test_sftp_write_acknowledged_but_not_written_is_caught(sftp_server: Any, verify: bool) -> None:
    with sftp_server.open() as target:
        target.upload_bytes(b"first", "a.csv")
        # Once: the write is made again, under a new temporary name.
        sftp_server.drop_next_writes(1)
        target.upload_bytes(b"second file", "b.csv", verify=verify)
        # Twice in a row: the upload fails, and nothing half-written is published.
        sftp_server.drop_next_writes(2)
        with pytest.raises(ConnectionFailed, match="holds 0 bytes of the 5 written"):
            target.upload_bytes(b"third", "c.csv", verify=verify)
    assert (sftp_server.root / "b.csv").read_bytes() == b"second file"
    # The failed upload's temporary files were removed over a new connection.
    assert sorted(p.name for p in sftp_server.root.iterdir()) == ["a.csv", "b.csv"]


@pytest.mark.xdist_group("targets-sftp")
def test_sftp_rename_whose_reply_was_lost_counts_as_done(sftp_server: Any) -> None:
    with sftp_server.open() as target:
        target.upload_bytes(b"first", "a.csv")
        sftp_server.lose_next_rename_reply()
        info = target.upload_bytes(b"second file", "b.csv")
        target.upload_bytes(b"third", "c.csv")
    assert info.name == "b.csv" and info.size == 11
    assert (sftp_server.root / "b.csv").read_bytes() == b"second file"
    assert sorted(p.name for p in sftp_server.root.iterdir()) == ["a.csv", "b.csv", "c.csv"]


@pytest.mark.xdist_group("targets-sftp")
def test_sftp_unknown_host_key_is_refused(sftp_server: Any, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(AuthenticationFailed) as caught:
        sftp_server.open(known_hosts=str(empty)).connect()
    assert "host key" in str(caught.value)


@pytest.mark.xdist_group("targets-sftp")
def test_sftp_changed_host_key_is_refused(sftp_server: Any, tmp_path: Path) -> None:
    import asyncssh

    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    forged = tmp_path / "known_hosts"
    forged.write_text(f"[127.0.0.1]:{sftp_server.port} {other}\n")
    with pytest.raises(AuthenticationFailed):
        sftp_server.open(known_hosts=str(forged)).connect()


@pytest.mark.xdist_group("targets-sftp")
def test_sftp_key_authentication(sftp_server: Any) -> None:
    with open_target(
        sftp_server.url, key_file=sftp_server.key_file, known_hosts=sftp_server.known_hosts
    ) as target:
        target.upload_bytes(b"by key", "k.txt")
    assert (sftp_server.root / "k.txt").read_bytes() == b"by key"


@pytest.mark.xdist_group("targets-ftps")
def test_ftps_untrusted_certificate_is_refused(ftps_server: Any) -> None:
    options = {k: v for k, v in ftps_server.options.items() if k != "ca_file"}
    with pytest.raises(AuthenticationFailed) as caught:
        open_target(ftps_server.url, **options).connect()
    assert "certificate" in str(caught.value)


@pytest.mark.xdist_group("targets-ftps")
def test_ftps_empty_listing_and_files_on_disk(ftps_server: Any) -> None:
    with ftps_server.open() as target:
        for _ in range(5):  # the TLS shutdown quirk shows on empty listings
            assert target.list() == []
        target.upload_bytes(b"tls", "t.txt")
    assert (ftps_server.root / "t.txt").read_bytes() == b"tls"


@pytest.mark.xdist_group("targets-s3")
def test_s3_multipart_upload_above_the_threshold(s3_server: Any, tmp_path: Path) -> None:
    local, data = big_file(tmp_path, 13 * MiB + 3)
    options = {"multipart_threshold": 5 * MiB, "multipart_chunksize": 5 * MiB}
    with s3_server.open(**options) as target:
        info = target.upload(local, "deep/big.bin", verify="content")
        assert info.size == len(data)
        assert info.checksum is None  # a multipart ETag is not an MD5
        assert target.read_bytes("deep/big.bin") == data
    assert s3_server.keys() == ["deep/big.bin"]


@pytest.mark.xdist_group("targets-s3")
def test_s3_single_put_checksum_is_the_md5(s3_server: Any) -> None:
    import hashlib

    with s3_server.open() as target:
        info = target.upload_bytes(b"checked", "c.txt")
    assert info.checksum == "md5:" + hashlib.md5(b"checked").hexdigest()


@pytest.fixture
def _no_aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield


@pytest.mark.xdist_group("targets-s3")
@pytest.mark.usefixtures("_no_aws_env")
def test_s3_secret_from_the_environment(s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DROP_SECRET", s3_server.secret_key)
    options = {k: v for k, v in s3_server.options.items() if k != "secret_key"}
    with open_target(s3_server.url, password_env="DROP_SECRET", **options) as target:
        target.upload_bytes(b"env", "e.txt")
    assert s3_server.keys() == ["e.txt"]


@pytest.mark.parametrize("kind", _grouped(["ftp", "ftps", "sftp"]))
def test_one_connection_serves_many_files(kind: str, request: pytest.FixtureRequest) -> None:
    srv = request.getfixturevalue(f"{kind}_server")
    before = srv.server.connections
    with srv.open() as target:
        for n in range(15):
            target.upload_bytes(b"x", f"f{n}.csv")
        assert len(target.list()) == 15
    assert srv.server.connections - before == 1
