"""An FTPS ``ca_file`` that cannot be used is a configuration error naming the option and path.

A missing ``ca_file`` was reported as "No such remote folder or file"
(exit 4) — the file missing is local — and one that is a folder, or holds no
certificate, as a transient network failure (exit 5) that the service
retried for ever.  Now each is a ``ConfigError`` (exit 3) saying
``ca_file '<path>': …``, raised when the target is opened, before anything
connects; a ``ship`` stops there and leaves nothing in the backlog.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from entrepot.errors import ConfigError
from entrepot.spool import Spool
from entrepot.targets import open_target
from tests.hostile._targets import entrepot

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("ftp")]


def unusable_ca_file(kind: str, tmp_path: Path) -> tuple[Path, str]:
    """A ``ca_file`` of that kind, and what the error says of it."""
    if kind == "missing":
        return tmp_path / "nowhere" / "ca.pem", "No such file or directory"
    if kind == "folder":
        return tmp_path, "Is a directory"
    text = tmp_path / "hostname"
    text.write_text("not a certificate\n")
    return text, "no usable certificate in it"


KINDS = ["missing", "folder", "not_a_certificate"]


@pytest.mark.parametrize("kind", KINDS)
def test_opening_the_target_raises_a_config_error(
    ftps_server: Any, tmp_path: Path, kind: str
) -> None:
    ca_file, said = unusable_ca_file(kind, tmp_path)
    with pytest.raises(ConfigError) as caught:
        open_target(ftps_server.url, password=ftps_server.password, ca_file=str(ca_file))
    assert str(caught.value).startswith(f"ca_file {str(ca_file)!r}: {said}")
    assert ftps_server.password not in str(caught.value)


@pytest.mark.parametrize("kind", KINDS)
def test_commands_exit_3_naming_the_option_and_the_path(
    ftps_server: Any, tmp_path: Path, kind: str
) -> None:
    ca_file, said = unusable_ca_file(kind, tmp_path)
    login = ["--password-env", "FTPS_PW", "-o", f"ca_file={ca_file}"]
    env = {"FTPS_PW": ftps_server.password}
    listed = entrepot("ls", ftps_server.url, *login, env=env)
    assert listed.returncode == 3, listed.stderr
    assert f"ca_file {str(ca_file)!r}: {said}" in listed.stderr
    assert "No such remote" not in listed.stderr

    outbox = Spool(tmp_path / "outbox").prepare()
    outbox.publish_bytes(b"row\n", "a.csv")
    state = tmp_path / "state"
    shipped = entrepot("ship", outbox.root, ftps_server.url, *login, "--state", state, env=env)
    assert shipped.returncode == 3, shipped.stderr
    assert f"ca_file {str(ca_file)!r}" in shipped.stderr
    assert not state.exists()  # nothing recorded, so nothing in the backlog
    assert [p.name for p in (outbox.root / "new").iterdir()] == ["a.csv"]
