"""A configured target's relative files work from any directory, as under systemd (``/``).

A relative ``known_hosts`` or ``ca_file`` in a target's options used to be
read from the current directory: ``entrepot ls partner`` worked in the
configuration's folder and failed from ``/`` (an unknown host key, a CA
bundle not found).  Now they are read from the configuration file's folder,
like every path in it: the commands below run from ``/`` against the real
SFTP and FTPS servers and deliver.  ``validate`` names a missing key file
by its option and its path in that folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from entrepot.spool import Spool
from tests.integration.test_names_cli import entrepot

pytestmark = pytest.mark.server

CONFIG = """
[service]
state = "state"

[targets.partner]
url = "{url}"
password_env = "PARTNER_PW"
options = {{ {options}, timeout = 30 }}

[spools.outbox]
path = "outbox"

[routes.to-partner]
spool = "outbox"
target = "partner"
every = "5m"
"""


def site_with(tmp_path: Path, url: str, options: str) -> Path:
    """A configuration in ``tmp_path/site`` with a spool of three files; its file's path."""
    site = tmp_path / "site"
    (site / "keys").mkdir(parents=True)
    config = site / "entrepot.toml"
    config.write_text(CONFIG.format(url=url, options=options))
    outbox = Spool(site / "outbox").prepare()
    for number in range(3):
        outbox.publish_bytes(b"row %d\n" % number, f"f{number}.csv")
    return config


@pytest.mark.xdist_group("targets-sftp")
def test_sftp_with_a_relative_known_hosts_ships_from_the_root_directory(
    tmp_path: Path, sftp_server: Any
) -> None:
    config = site_with(tmp_path, sftp_server.url, 'known_hosts = "keys/known_hosts"')
    shutil.copy(sftp_server.known_hosts, config.parent / "keys" / "known_hosts")
    env = {"ENTREPOT_CONFIG": str(config), "PARTNER_PW": sftp_server.password}
    shipped = entrepot("ship", "to-partner", "--max-tries", "1", cwd=Path("/"), **env)
    assert shipped.returncode == 0, shipped.stderr
    assert sorted(p.name for p in sftp_server.root.iterdir()) == ["f0.csv", "f1.csv", "f2.csv"]
    listed = entrepot("ls", "partner", "--json", cwd=Path("/"), **env)
    assert listed.returncode == 0, listed.stderr
    assert [entry["name"] for entry in json.loads(listed.stdout)] == ["f0.csv", "f1.csv", "f2.csv"]


@pytest.mark.xdist_group("targets-ftps")
def test_ftps_with_a_relative_ca_file_lists_from_the_root_directory(
    tmp_path: Path, ftps_server: Any
) -> None:
    config = site_with(tmp_path, ftps_server.url, 'ca_file = "keys/ca.pem"')
    shutil.copy(ftps_server.ca_file, config.parent / "keys" / "ca.pem")
    (ftps_server.root / "ready.csv").write_text("x")
    env = {"ENTREPOT_CONFIG": str(config), "PARTNER_PW": ftps_server.password}
    listed = entrepot("ls", "partner", "--json", cwd=Path("/"), **env)
    assert listed.returncode == 0, listed.stderr
    assert [entry["name"] for entry in json.loads(listed.stdout)] == ["ready.csv"]
    checked = entrepot("validate", config, "--connect", cwd=Path("/"), **env)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_validate_names_a_missing_key_file_by_its_option_and_resolved_path(
    tmp_path: Path,
) -> None:
    config = site_with(tmp_path, "sftp://drop@127.0.0.1:1/in", 'key_file = "keys/id_missing"')
    checked = entrepot("validate", config, cwd=Path("/"), PARTNER_PW="unused")
    assert checked.returncode == 3
    missing = config.parent / "keys" / "id_missing"
    assert f"key_file '{missing}': no such file" in checked.stderr


@pytest.mark.parametrize("option", ["ca_file", "known_hosts"])
def test_validate_names_a_missing_file_without_connecting(tmp_path: Path, option: str) -> None:
    """A missing ``ca_file`` or ``known_hosts`` was found only by ``validate --connect``
    (or the first run): ``validate`` names it, with its option and resolved path."""
    config = site_with(tmp_path, "ftps://drop@127.0.0.1:1/in", f'{option} = "keys/missing"')
    checked = entrepot("validate", config, cwd=Path("/"), PARTNER_PW="unused")
    assert checked.returncode == 3, checked.stdout + checked.stderr
    missing = config.parent / "keys" / "missing"
    assert f"targets.partner.options.{option}" in checked.stderr
    assert f"{option} '{missing}': no such file" in checked.stderr


def test_validate_names_a_ca_file_without_a_certificate(tmp_path: Path) -> None:
    config = site_with(tmp_path, "ftps://drop@127.0.0.1:1/in", 'ca_file = "keys/ca.pem"')
    (config.parent / "keys" / "ca.pem").write_text("not a certificate\n")
    checked = entrepot("validate", config, cwd=Path("/"), PARTNER_PW="unused")
    assert checked.returncode == 3, checked.stdout + checked.stderr
    assert "no usable certificate" in checked.stderr


@pytest.mark.parametrize("url", ["drop", "./drop", "file://./drop"])
def test_a_relative_local_folder_is_the_config_folder_s(tmp_path: Path, url: str) -> None:
    """A target written as a relative folder was the current directory's: shipped from
    ``/`` the files went to ``/drop``.  It is the configuration's folder's, as spools are."""
    config = site_with(tmp_path, url, "durable = false")
    (config.parent / "drop").mkdir()
    # validate and serve knew only URLs with a scheme: "unknown target scheme '/…/drop'".
    checked = entrepot("validate", config, cwd=Path("/"), PARTNER_PW="unused")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    shipped = entrepot("ship", "to-partner", "--max-tries", "1", cwd=Path("/"),
                       ENTREPOT_CONFIG=str(config), PARTNER_PW="unused")  # fmt: skip
    assert shipped.returncode == 0, shipped.stderr
    assert sorted(p.name for p in (config.parent / "drop").iterdir()) == [
        "f0.csv", "f1.csv", "f2.csv",
    ]  # fmt: skip
    assert not Path("/drop").exists()
