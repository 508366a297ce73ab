"""Target URLs: parsing, options, masking, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrepot.errors import ConfigError
from entrepot.targets import mask_url, parse_url
from entrepot.targets.options import coerce, resolve_secret
from entrepot.targets.url import folder_below


def test_parse_network_url() -> None:
    url = parse_url("sftp://ingest:s%C3%A9cret@files.example.org:2222/drop/in?timeout=5")
    assert (url.scheme, url.host, url.port, url.user) == (
        "sftp",
        "files.example.org",
        2222,
        "ingest",
    )
    assert url.password == "sécret"
    assert url.path == "/drop/in"
    assert url.options() == {"timeout": "5"}


def test_display_masks_password_and_secret_options() -> None:
    url = parse_url("ftp://bob:hunter2@h:21/x?secret_key=abc&region=eu")
    assert "hunter2" not in url.display
    assert "abc" not in url.display
    assert url.display == "ftp://bob:***@h:21/x?secret_key=***&region=eu"
    assert "hunter2" not in repr(url)
    assert "abc" not in repr(url)
    assert str(url) == url.display


def test_mask_url_even_when_it_does_not_parse() -> None:
    assert "pw" not in mask_url("ftp://u:pw@host:notaport/x")
    assert mask_url("ftp://host/x") == "ftp://host/x"


def test_plain_path_and_file_urls(tmp_path: Path) -> None:
    assert parse_url(str(tmp_path)).scheme == "file"
    assert parse_url(str(tmp_path)).path == str(tmp_path)
    assert parse_url(tmp_path.as_uri()).path == str(tmp_path)
    assert parse_url("file:///tmp/a%20b").path == "/tmp/a b"
    with pytest.raises(ConfigError):
        parse_url("")


@pytest.mark.parametrize(
    "url",
    ["file:///srv/in/../etc", "file:///srv/in/%2e%2e/%2E%2E/etc", "file:///srv/in/..%2Fetc",
     "file://localhost/srv/%2e%2e", "file://../elsewhere", "file:///srv/in/a%00b"],
)  # fmt: skip
def test_a_file_url_cannot_climb_out_of_its_folder_even_percent_encoded(url: str) -> None:
    with pytest.raises(ConfigError, match=r"may not hold '\.\.'"):
        parse_url(url)


def test_file_url_names_that_only_look_like_dots_are_kept() -> None:
    assert parse_url("file:///srv/in/..b/a..").path == "/srv/in/..b/a.."
    assert parse_url("file:///srv/./in").path == "/srv/in"


def test_folder_below_checks_the_decoded_parts_and_encodes_them_again() -> None:
    assert folder_below("file:///srv/in", "a/b c") == "file:///srv/in/a/b%20c"
    assert folder_below("file:///srv/in", "/a%20b/") == "file:///srv/in/a%20b"
    # A "?" or "#" is part of the folder's name, never the start of options.
    url = folder_below("s3://bucket/in?region=x", "a%3Fendpoint_url=evil")
    assert url == "s3://bucket/in/a%3Fendpoint_url%3Devil?region=x"
    assert parse_url(url).path == "/in/a?endpoint_url=evil"
    assert parse_url(url).options() == {"region": "x"}
    assert folder_below("ftp://host/in", "") == "ftp://host/in"
    # A plain path is not decoded by the parser: the parts go in as they are.
    assert folder_below("/srv/in/", "a b") == "/srv/in/a b"
    for folder in ("..", "%2e%2e", "a/%2E%2E", "a%2F..", "a//b", "a\\b", "a%5Cb", "a%00", ".x"):
        with pytest.raises(ConfigError, match="cannot be a folder below a target"):
            folder_below("file:///srv/in", folder)


def test_bad_port_is_a_config_error_without_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_url("ftp://u:topsecret@h:99999999/x")
    assert "topsecret" not in str(caught.value)


def test_coerce_option_values() -> None:
    assert coerce("t", "2.5", float) == 2.5
    assert coerce("b", "yes", bool) is True
    assert coerce("b", "off", bool) is False
    assert coerce("n", "8", int) == 8
    with pytest.raises(ConfigError):
        coerce("b", "maybe", bool)
    with pytest.raises(ConfigError) as caught:
        coerce("password", object(), int)
    assert "***" in str(caught.value)


def test_resolve_secret_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DROP_PW", "from-env")
    secret_file = tmp_path / "pw"
    secret_file.write_text("from-file\n")
    secret_file.chmod(0o600)
    assert resolve_secret("password", "given") == "given"
    assert resolve_secret("password", None, env="DROP_PW") == "from-env"
    assert resolve_secret("password", None, file=str(secret_file)) == "from-file"
    assert resolve_secret("password", None, fallback="url") == "url"
    with pytest.raises(ConfigError):
        resolve_secret("password", None, env="NOT_SET_ANYWHERE_42")
    with pytest.raises(ConfigError):
        resolve_secret("password", None, file=str(tmp_path / "missing"))
