"""Passwords written in URLs the way people write them — with a space, a quote, an angle
bracket, or a user name holding an ``@`` — are told as passwords: masked in every error,
and refused where a configuration would keep them inline.  And names holding a byte that
is not UTF-8 are shown as that byte, in tables and in JSON that stays UTF-8.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from entrepot.names import check_name
from entrepot.redact import mask_url_text, printable, url_has_secret
from tests.hostile._targets import entrepot

SECRET = "hunter2"
ODD_PASSWORDS = [f"SEC RET{SECRET}", f"SEC'RET{SECRET}", f'SEC"RET{SECRET}', f"a<b>{SECRET}"]


@pytest.mark.parametrize("password", ODD_PASSWORDS)
@pytest.mark.parametrize(
    "shape",
    [
        "ftp://u:{pw}@127.0.0.1:99999/x",  # a bad port: the error shows the URL
        "ftp://u:{pw}@[::1/x",  # a bad IPv6 address
        "ftp:/u:{pw}@h/x",  # one slash
        "ftp://u:{pw}/x@127.0.0.1/x",  # ambiguous
    ],
)
def test_an_odd_password_never_reaches_an_error(shape: str, password: str) -> None:
    url = shape.format(pw=password)
    done = entrepot("ls", url)
    assert done.returncode == 3, done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert "u:***@" in done.stderr


def test_ship_masks_an_odd_password_too(tmp_path: Path) -> None:
    entrepot("spool", "init", tmp_path / "s")
    (tmp_path / "s" / "new" / "a.csv").write_text("x")
    done = entrepot("ship", tmp_path / "s", f"ftp://u:SEC RET{SECRET}@127.0.0.1:99999/x")
    assert done.returncode == 3 and SECRET not in done.stdout + done.stderr
    assert (tmp_path / "s" / "new" / "a.csv").exists()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"ftp://bob@corp.com:{SECRET}@host/in", "ftp://bob@corp.com:***@host/in"),
        (f"ftp://u:SEC RET{SECRET}@host/in", "ftp://u:***@host/in"),
        (f"postgresql://bob:hun'ter{SECRET}@db/x", "postgresql://bob:***@db/x"),
        ("ftp://drop@host/in", "ftp://drop@host/in"),
        (
            "s3://b/p?endpoint_url=http://127.0.0.1:8333",
            "s3://b/p?endpoint_url=http://127.0.0.1:8333",
        ),
        (f"s3://b/p?secret_key={SECRET}", "s3://b/p?secret_key=***"),
    ],
)
def test_one_url_is_masked_however_its_password_is_written(url: str, shown: str) -> None:
    assert mask_url_text(url) == shown
    assert url_has_secret(url) is (shown != url)


@pytest.mark.parametrize(
    ("section", "value"),
    [
        ("targets.partner", f'url = "ftp://bob@corp.com:{SECRET}@127.0.0.1/in"'),
        ("targets.partner", f'url = "ftp://drop:a b{SECRET}@127.0.0.1/in"'),
        ("service", f'ledger = "postgresql://bob:hun\'ter{SECRET}@127.0.0.1/db"'),
    ],
)
def test_a_configuration_with_an_inline_password_is_refused(
    tmp_path: Path, section: str, value: str
) -> None:
    config = tmp_path / "entrepot.toml"
    lines = [
        "[service]", f'state = "{tmp_path / "state"}"',
        "[spools.outbox]", f'path = "{tmp_path / "outbox"}"',
        "[targets.partner]", 'url = "ftp://drop@127.0.0.1/in"',
        "[routes.to-partner]", 'spool = "outbox"', 'target = "partner"', 'every = "1h"',
    ]  # fmt: skip
    header = lines.index(f"[{section}]")
    key = value.split(" = ")[0]
    lines = [
        line
        for line in lines
        if not (line.startswith(f"{key} =") and header < lines.index(line) <= header + 2)
    ]
    lines.insert(header + 1, value)
    config.write_text("\n".join(lines) + "\n")
    done = entrepot("validate", config)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "password" in done.stdout + done.stderr
    assert SECRET not in done.stdout + done.stderr


def test_a_byte_that_is_not_utf8_is_shown_as_that_byte(tmp_path: Path) -> None:
    assert printable("bad\udcff.csv") == "bad\\xff.csv"
    with pytest.raises(ValueError, match="the byte 0xFF, which is not UTF-8"):
        check_name("bad\udcff.csv")


def test_a_listing_with_a_name_that_is_not_utf8_stays_readable(tmp_path: Path) -> None:
    folder = tmp_path / "tgt"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"bad\xff.csv"), "wb") as file:
        file.write(b"x")
    (folder / "good.csv").write_text("y")
    env = {**os.environ, "COLUMNS": "200"}
    listing = [sys.executable, "-m", "entrepot", "ls", folder.as_uri()]
    table = subprocess.run(listing, capture_output=True, timeout=60, env=env, check=False)
    assert table.returncode == 0, table.stderr
    assert b"\xff" not in table.stdout and b"bad\\xff.csv" in table.stdout
    as_json = subprocess.run([*listing, "--json"], capture_output=True, timeout=60, check=False)
    assert as_json.returncode == 0, as_json.stderr
    names = {item["name"] for item in json.loads(as_json.stdout.decode("utf-8"))}
    assert names == {"bad\udcff.csv", "good.csv"}  # the same name, read back
