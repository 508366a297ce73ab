"""Files a configured target names are read from the configuration file's folder.

Only ``password_file`` used to be: a relative ``ca_file``, ``known_hosts`` or
``key_file`` in a target's options was passed on as written and read from
the current directory — right when a command ran in the configuration's
folder, wrong from anywhere else, as under systemd (``/``).  Now every option
that names a local file (:data:`~entrepot.service.targetfiles.PATH_OPTIONS`),
in the options table or in the URL's query string, is made absolute against
the file's folder when the file is loaded, like every other path in it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from entrepot.service.loading import load_config
from entrepot.service.targetfiles import PATH_OPTIONS
from entrepot.targets.options import COMMON_OPTIONS
from entrepot.targets.registry import BACKENDS

CONFIG = """\
[targets.partner]
url = "ftps://drop@ftp.example.org/in"
password_file = "secrets/pw"
options = {{ ca_file = "certs/ca.pem", timeout = 20, verify_tls = true }}

[targets.keys]
url = "sftp://drop@files.example.org/in?key_file=keys/id_ed25519&known_hosts={absolute}"
options = {{ known_hosts = "keys/known_hosts" }}

[targets.home]
url = "sftp://drop@files.example.org/in"
options = {{ known_hosts = "~/.ssh/known_hosts", key_file = "/etc/entrepot/id", ca_file = "" }}

[targets.query]
url = "s3://bucket/in?endpoint_url=https://127.0.0.1:9000&ca_file=ca.pem"
"""


@pytest.fixture
def loaded_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict]:
    """The configuration in ``tmp_path/site``, loaded while the current directory is another."""
    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    site.mkdir()
    elsewhere.mkdir()
    (site / "entrepot.toml").write_text(CONFIG.format(absolute="/srv/known_hosts"))
    monkeypatch.chdir(elsewhere)
    config = load_config(site / "entrepot.toml")
    return site, {name: target.open_options() for name, target in config.targets.items()}


def test_relative_files_in_options_are_read_from_the_config_folder(loaded_elsewhere) -> None:
    site, options = loaded_elsewhere
    assert options["partner"] == {
        "ca_file": str(site / "certs/ca.pem"),
        "timeout": 20,
        "verify_tls": True,
        "password_file": str(site / "secrets/pw"),
    }
    assert options["keys"]["known_hosts"] == str(site / "keys/known_hosts")


def test_home_absolute_and_empty_values_keep_their_meaning(loaded_elsewhere) -> None:
    _, options = loaded_elsewhere
    assert options["home"] == {
        "known_hosts": str(Path("~/.ssh/known_hosts").expanduser()),
        "key_file": "/etc/entrepot/id",
        "ca_file": "",  # empty: the system's trust store, as before
    }


def test_relative_files_in_the_url_query_are_read_from_the_config_folder(
    loaded_elsewhere,
) -> None:
    site, options = loaded_elsewhere
    # Options win over the query string: the absolute form is what the target reads.
    assert options["keys"]["key_file"] == str(site / "keys/id_ed25519")
    assert options["query"] == {"ca_file": str(site / "ca.pem")}


def test_a_config_built_in_code_resolves_against_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from entrepot.service.config import TargetConfig

    monkeypatch.chdir(tmp_path)
    target = TargetConfig(url="ftps://u@h/x", options={"ca_file": "ca.pem"})
    assert target.open_options() == {"ca_file": str(tmp_path / "ca.pem")}


def test_path_options_are_every_file_option_the_backends_declare() -> None:
    """One list, held to the declarations: a backend's new file option must join it."""
    declared = set(COMMON_OPTIONS)
    for scheme in BACKENDS.names():
        declared |= set(BACKENDS.load(scheme).option_types)
    names_a_file = {name for name in declared if name.endswith(("_file", "_hosts"))}
    assert names_a_file == PATH_OPTIONS


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("drop", "{site}/drop"),
        ("./out/in", "{site}/out/in"),
        ("file://./out", "{site}/out"),
        ("/srv/drop", "/srv/drop"),
        ("file:///srv/drop", "/srv/drop"),
    ],
)
def test_a_local_folder_written_relative_is_the_config_folder_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written: str, expected: str
) -> None:
    from entrepot.targets.url import parse_url

    # A folder whose name a URL must encode (a space, '%', '?', '#'): taken as it is.
    site, elsewhere = tmp_path / "si te%41?#", tmp_path / "elsewhere"
    site.mkdir()
    elsewhere.mkdir()
    (site / "entrepot.toml").write_text(f'[targets.local]\nurl = "{written}"\n')
    monkeypatch.chdir(elsewhere)
    url = load_config(site / "entrepot.toml").targets["local"].url
    assert parse_url(url).path == expected.format(site=site)


def test_a_local_folder_in_the_home_folder_is_the_home_folder_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from entrepot.targets.url import parse_url

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "entrepot.toml").write_text('[targets.local]\nurl = "~/drop"\n')
    target = load_config(tmp_path / "entrepot.toml").targets["local"]
    assert parse_url(target.url).path == str(tmp_path / "home" / "drop")
    assert target.scheme == "file"


def test_network_urls_are_kept_as_written(tmp_path: Path) -> None:
    (tmp_path / "entrepot.toml").write_text(CONFIG.format(absolute="/srv/known_hosts"))
    urls = {name: t.url for name, t in load_config(tmp_path / "entrepot.toml").targets.items()}
    assert urls["partner"] == "ftps://drop@ftp.example.org/in"
    assert urls["query"] == "s3://bucket/in?endpoint_url=https://127.0.0.1:9000&ca_file=ca.pem"
