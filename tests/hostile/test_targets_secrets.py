"""Target URLs and secrets as a careless (or unlucky) operator writes them.

Issue 10 items covered here:

* 8 — a password with an unencoded ``/`` or ``@``, or a URL with one slash
  too few, never reaches an error message, a log line or a ``repr``; a URL
  or options carrying a password are refused where they would be stored
  (:func:`~entrepot.targets.refuse_stored_secrets`);
* 11 — a password file others may read is refused (exit 3);
  ``-o password=…`` is refused by every command; ``verify_tls=false`` is
  warned about on every run, naming the risk;
* 23 — ``sftp://[::1/in``, ``s3://AK:pw@bucket/…``, ``ftp://host:0/`` and
  ``s3://bucket/../other`` are configuration errors (exit 3), not tracebacks.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from entrepot.errors import ConfigError
from entrepot.targets import open_target, parse_url, refuse_stored_secrets
from tests.hostile._targets import ROOT, entrepot

SECRET = "SeCrEt-7731"


# -- item 8 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"ftp://u:ab/cd{SECRET}@host:2131/in",  # was: "invalid port in … cd{SECRET}@…"
        f"ftp://u:123/abc{SECRET}@host/in",  # was: host "u", port 123, the password in the path
        f"ftp:/u:{SECRET}@host/in",  # was: a local folder, password and all
        f"sftp:u:{SECRET}@host/in",
        f"ftp://u:{SECRET}@host:99999/in",
        f"ftp://u:{SECRET}@host:0/in",
        f"s3://AK:{SECRET}@bucket/in",
    ],
)
def test_unreadable_urls_are_refused_without_showing_the_password(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ConfigError) as caught:
        open_target(url)
    assert SECRET not in str(caught.value) + repr(caught.value)
    assert SECRET not in caplog.text


def test_a_password_holding_an_at_sign_is_read_and_masked() -> None:
    url = parse_url(f"ftp://bob:SEC@{SECRET}@host/in")
    assert (url.user, url.password, url.host, url.path) == ("bob", f"SEC@{SECRET}", "host", "/in")
    target = open_target(f"ftp://bob:SEC@{SECRET}@host/in")
    assert SECRET not in target.url + repr(target) + repr(url)
    assert target.url == "ftp://bob:***@host/in"


@pytest.mark.parametrize(
    "url",
    [
        f"ftp://u:{SECRET}@host/in",
        f"ftp://u:ab/cd{SECRET}@host/in",
        f"s3://bucket/in?endpoint_url=http://h&secret_key={SECRET}",
        f"sftp://u@host/in?passphrase={SECRET}",
    ],
)
def test_urls_carrying_a_password_are_refused_for_storage(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        refuse_stored_secrets(url)
    assert SECRET not in str(caught.value)


def test_options_carrying_a_secret_are_refused_for_storage() -> None:
    refuse_stored_secrets("ftp://u@host/in", {"password_env": "PW", "timeout": 5})
    with pytest.raises(ConfigError, match="password"):
        refuse_stored_secrets("ftp://u@host/in", {"password": SECRET})


def test_typo_url_on_the_command_line_exits_3_and_stores_nothing(tmp_path: Path) -> None:
    local = tmp_path / "a.csv"
    local.write_text("1\n")
    done = entrepot("put", local, f"ftp:/u:{SECRET}@host/in")
    assert done.returncode == 3, done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert not Path(ROOT / "ftp:").exists()


# -- item 11 ---------------------------------------------------------------------------------


def test_a_password_file_others_may_read_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        open_target("ftp://u@host/in", password_file=str(secret))
    remote = tmp_path / "remote"
    remote.mkdir()
    done = entrepot("ls", remote, "--password-file", secret)
    assert done.returncode == 3, done.stderr
    assert "open to other users" in done.stderr
    assert SECRET not in done.stdout + done.stderr
    secret.chmod(0o600)
    assert open_target("ftp://u@host/in", password_file=str(secret)).password == SECRET


@pytest.mark.xdist_group("targets-ftps")
@pytest.mark.server
def test_verify_tls_false_warns_on_every_run(ftps_server: Any) -> None:
    url = ftps_server.url + "?verify_tls=false"
    for _ in range(2):
        done = entrepot("ls", url, env={"ENTREPOT_PASSWORD": ftps_server.password})
        assert done.returncode == 0, done.stderr
        assert "targets.tls_unverified" in done.stderr
        assert "certificate is not checked" in done.stderr


def test_verify_tls_false_warns_through_the_library(caplog: pytest.LogCaptureFixture) -> None:
    from entrepot.targets.memory import MemoryTarget

    class Insecure(MemoryTarget):
        option_types = {"verify_tls": bool}  # noqa: RUF012 - a test backend

    caplog.set_level(logging.WARNING, logger="entrepot")
    Insecure(parse_url("memory://tls/x"), verify_tls=False).connect()
    assert [r.levelno for r in caplog.records if "tls_unverified" in r.message] == [logging.WARNING]


# -- item 23 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "sftp://[::1/in",
        "s3://AK:pw@bucket/in",
        "ftp://host:0/in",
        "s3://bucket/../other",
        "s3://bucket//double",
        "ftp://host/in/../../etc",
    ],
)
def test_bad_urls_exit_3_without_a_traceback(url: str) -> None:
    done = entrepot("ls", url)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert "error:" in done.stderr
