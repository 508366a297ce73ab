"""Each backend's translation of its library's errors into our tree."""

from __future__ import annotations

import ftplib
import ssl

import pytest

from entrepot.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    PermanentTargetError,
    PermissionDenied,
    RemoteNotFound,
    TargetTimeout,
    TransientTargetError,
)
from entrepot.targets import open_target
from entrepot.targets.ftp_replies import FTPReply, error_class, mdtm_time


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (FTPReply("STOR", "421 Service not available"), ConnectionFailed),
        (FTPReply("LOGIN", "530 Login incorrect."), AuthenticationFailed),
        (FTPReply("STOR", "550 Not enough privileges."), PermissionDenied),
        (ftplib.error_reply("226 unexpected"), ConnectionFailed),
        (EOFError(), ConnectionFailed),
        (TimeoutError("timed out"), TargetTimeout),
        (ConnectionRefusedError(111, "Connection refused"), ConnectionFailed),
        (ssl.SSLError(1, "bad record"), ConnectionFailed),
    ],
)
def test_ftp_translation(error: Exception, expected: type) -> None:
    target = open_target("ftp://u:Secret-9@files.example.org:2121/in")
    translated = target._translate(error, "a.csv")
    assert type(translated) is expected
    assert translated.transient == issubclass(expected, TransientTargetError)
    assert (translated.host, translated.port, translated.path) == (
        "files.example.org",
        2121,
        "/in/a.csv",
    )
    assert "Secret-9" not in str(translated)


@pytest.mark.parametrize(
    ("verb", "reply", "expected"),
    [
        # Issue 10 item 28: the same code, however it is worded, by the command it answers.
        ("MKD", "550 Create directory operation failed.", PermissionDenied),
        ("MKD", "550 No such file or directory.", PermissionDenied),
        ("STOR", "553 Could not create file.", PermissionDenied),
        ("STOR", "553 No such file or directory.", PermissionDenied),
        ("RNTO", "550 Permission denied.", PermissionDenied),
        ("CWD", "550 Permission denied.", RemoteNotFound),
        ("CWD", "501 No such file or directory.", RemoteNotFound),
        ("SIZE", "550 Could not get file size.", RemoteNotFound),
        # Issue 10 item 26: ProFTPD's answer to listing a missing folder.
        ("LIST", "450 data: No such file or directory", RemoteNotFound),
        ("MLSD", "450 data: No such file or directory", RemoteNotFound),
        ("STOR", "450 Busy", TransientTargetError),
        ("RETR", "450 File busy", TransientTargetError),
        ("RETR", "550 No such file or directory.", RemoteNotFound),
        ("STOR", "552 Quota exceeded", PermanentTargetError),
        ("STOR", "501 Syntax error", PermanentTargetError),
    ],
)
def test_ftp_reply_codes_are_read_by_command_not_wording(
    verb: str, reply: str, expected: type
) -> None:
    assert error_class(verb, reply[:3]) is expected


def test_ftps_untrusted_certificate_is_an_authentication_failure() -> None:
    target = open_target("ftps://u@files.example.org/in")
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "self-signed certificate"
    assert isinstance(target._translate(error, ""), AuthenticationFailed)


def test_sftp_translation() -> None:
    paramiko = pytest.importorskip("paramiko")
    target = open_target("sftp://u@files.example.org/in", known_hosts="/nonexistent", password="pw")
    assert target.port == 22
    cases = [
        (paramiko.AuthenticationException("bad"), AuthenticationFailed),
        (paramiko.SSHException("Server '[h]:22' not found in known_hosts"), AuthenticationFailed),
        (paramiko.SSHException("Error reading SSH protocol banner"), ConnectionFailed),
        (PermissionError(13, "Permission denied"), PermissionDenied),
        (FileNotFoundError(2, "No such file"), RemoteNotFound),
        (OSError("Socket is closed"), ConnectionFailed),
        (OSError("Failure"), PermanentTargetError),
        (TimeoutError(), TargetTimeout),
    ]
    for error, expected in cases:
        assert type(target._translate(error, "x")) is expected, error


def test_s3_translation() -> None:
    from entrepot.targets.s3_direct import error_reply

    target = open_target("s3://bucket/pre?endpoint_url=http://127.0.0.1:9000&region=eu-west-1")
    assert (target.host, target.port) == ("127.0.0.1", 9000)

    def reply(status: int, code: str) -> Exception:
        return error_reply(
            status, f"<Error><Code>{code}</Code><Message>m</Message></Error>".encode()
        )

    cases = [
        (reply(403, "SignatureDoesNotMatch"), AuthenticationFailed),
        (reply(403, "InvalidAccessKeyId"), AuthenticationFailed),
        (reply(403, "AccessDenied"), PermissionDenied),
        (reply(404, "NoSuchBucket"), RemoteNotFound),
        (reply(503, "SlowDown"), TransientTargetError),
        (reply(500, "InternalError"), TransientTargetError),
        (reply(400, "InvalidDigest"), PermanentTargetError),
        (error_reply(502, b"<html>bad gateway</html>"), TransientTargetError),
    ]
    for error, expected in cases:
        translated = target._translate(error, "a.csv")
        assert type(translated) is expected, error
        assert translated.path == "s3://bucket/pre/a.csv"


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("20240601120000", 1717243200.0),
        ("20240601120000.123", 1717243200.0),  # fractions are dropped
        (" 20240601120000\r", 1717243200.0),
        ("2024060112000", None),  # too short
        ("20241301120000", None),  # no 13th month
        ("2024O601120000", None),  # a letter O
        ("２0240601120000", None),  # a full-width digit
    ],
)
def test_ftp_times_are_read_strictly(stamp: str, expected: float | None) -> None:
    assert mdtm_time(stamp) == expected
