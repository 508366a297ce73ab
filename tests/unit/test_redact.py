"""Secrets masked wherever a URL-shaped string appears; control characters shown."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from entrepot import redact
from entrepot.cli.console import shown
from entrepot.logs import SafeFormatter, log_event, shown_value
from entrepot.redact import mask_secrets, printable, url_has_secret

LEAKY = [
    # unencoded "/" in the password: parsed as host "u", port 123 by urllib
    ("ftp://u:123/abcSECRET@host/in", "ftp://u:***@host/in"),
    ("invalid port in target URL ftp://u:ab/cdSECRET@host:2131/in", "ftp://u:***@host:2131/in"),
    # unencoded "@" in the password
    ("ftp://bob:SEC@RET@host/in", "ftp://bob:***@host/in"),
    ("postgresql://u:Pg@XSECRET@h/db", "postgresql://u:***@h/db"),
    # one slash after the scheme, or none for a known scheme
    ("ftp:/u:SECRET@host/in", "ftp:/u:***@host/in"),
    ("sftp:u:SECRET@host/in", "sftp:u:***@host/in"),
    # credentials in the query, in options, in reprs
    ("postgresql://u@h/db?password=SECRET", "postgresql://u@h/db?password=***"),
    ("s3://b/k?secret_key=SECRET&region=x", "s3://b/k?secret_key=***&region=x"),
    ("-o password=SECRET", "-o password=***"),
    ("key_passphrase=SECRET", "key_passphrase=***"),
    ("{'password': 'SECRET'}", "{'password': '***'}"),
    ('{"aws_secret_access_key": "SECRET"}', '{"aws_secret_access_key": "***"}'),
    ("s3://AK:SECRET@bucket/x", "s3://AK:***@bucket/x"),
    # quoted inside a message
    ("cannot open 'sftp://me:SECRET@h/x': refused", "cannot open 'sftp://me:***@h/x': refused"),
]


@pytest.mark.parametrize(("text", "masked"), LEAKY)
def test_every_url_shape_is_masked(text: str, masked: str) -> None:
    assert "SECRET" not in mask_secrets(text)
    assert masked in mask_secrets(text)
    assert url_has_secret(text)


@pytest.mark.parametrize(
    "text",
    [
        "ftp://user@host/in",
        "sftp://host:2222/in",
        "password_env=PARTNER_PW",
        "password_file=/run/secrets/pw",
        "s3://bucket/key@v2",
        "at 12:30:00 a@b wrote",
        "orders.csv",
    ],
)
def test_references_and_plain_text_are_left_alone(text: str) -> None:
    assert mask_secrets(text) == text
    assert not url_has_secret(text)


def test_control_characters_become_visible() -> None:
    hostile = "in\x1b[2J\x1b]0;owned\x07voice\n.csv\r\x7f\x9b\u202egnp.exe\x00"
    shown_text = printable(hostile)
    assert all(ch.isprintable() for ch in shown_text)
    assert "\\x1b[2J" in shown_text and "\\n" in shown_text and "\\u202e" in shown_text
    assert printable("Zürich São Paulo.csv") == "Zürich São Paulo.csv"


def test_markup_in_names_is_printed_literally() -> None:
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(shown("in[reverse]voice.csv and a [/] path\x1b[31m"))
    text = console.export_text()
    assert "in[reverse]voice.csv" in text and "[/]" in text and "\\x1b[31m" in text


def test_log_lines_cannot_be_forged_or_leak(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("entrepot.test_redact")
    with caplog.at_level(logging.INFO, logger="entrepot"):
        log_event(
            logger,
            "ship.failed",
            name="a.csv\nship.delivered name=b.csv",
            url="ftp://u:123/abcSECRET@host/in",
        )
    (record,) = caplog.records
    assert "\n" not in record.getMessage() and "SECRET" not in record.getMessage()
    assert shown_value("a b") == '"a b"'


def test_the_formatter_cleans_messages_not_written_with_log_event() -> None:
    record = logging.LogRecord(
        "entrepot.x", logging.WARNING, __file__, 1, "bad %s", ("na\x1bme ftp://u:p@SECRET@h",), None
    )
    line = SafeFormatter("%(message)s").format(record)
    assert line == "bad na\\x1bme ftp://u:***@h"


def test_a_pattern_is_tried_only_on_text_holding_its_character(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each pattern backtracks over every word it is tried on (tens of microseconds on
    # an S3 key or a checksum, twice per file shipped): without "@", "=" or a quote
    # it cannot match and is not tried.
    tried: list[str] = []
    patterns = redact._secret_patterns()

    class Spy:
        def __init__(self, name: str, pattern: re.Pattern[str]) -> None:
            self.name, self.pattern = name, pattern

        def sub(self, replace: Any, text: str) -> str:
            tried.append(self.name)
            return self.pattern.sub(replace, text)

    names = ("userinfo", "assigned", "quoted")
    spies = tuple(Spy(n, p) for n, p in zip(names, patterns, strict=True))
    monkeypatch.setattr(redact, "_secret_patterns", lambda: spies)
    for text in ("s3://bucket/in/2026/12/05/report.csv", "md5:" + "0f" * 16, "a:b"):
        assert mask_secrets(text) == text
    assert tried == []
    assert mask_secrets("ftp://u:p@h/x") == "ftp://u:***@h/x" and tried == ["userinfo"]
    assert mask_secrets("s3://b/k?token=T") == "s3://b/k?token=***"
    assert mask_secrets('{"password": "p"}') == '{"password": "***"}'
    assert tried == ["userinfo", "assigned", "quoted"]
