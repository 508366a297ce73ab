"""``ENTREPOT_PASSWORD`` is no S3 secret unless an ``access_key`` goes with it.

The variable is the password of targets that name none (FTP, SFTP).  Once
``ship`` and ``fetch`` took it too, a host that set it for its FTP routes
broke every S3 ship or fetch whose keys came from ``AWS_*`` variables, a
profile or an instance's role: the variable became a secret without its key,
and the run failed with a TypeError (code 300) that named no cause.  A
local folder or an S3 bucket without an ``access_key`` is not handed the
variable; a bucket with one takes it as its secret, as a password.  Run as
an operator runs them, against the real SeaweedFS (which checks signatures).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from entrepot.spool import Spool
from tests.integration.test_names_cli import entrepot

pytestmark = pytest.mark.server


def outbox(tmp_path: Path) -> Path:
    spool = Spool(tmp_path / "outbox").prepare()
    spool.publish_bytes(b"a,b\n1,2\n", "a.csv")
    return spool.root


def keys_of(s3_server: Any) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": s3_server.access_key,
            "AWS_SECRET_ACCESS_KEY": s3_server.secret_key}  # fmt: skip


def test_ship_and_fetch_with_the_environment_s_keys_ignore_the_variable(
    tmp_path: Path, s3_server: Any
) -> None:
    env = {**keys_of(s3_server), "ENTREPOT_PASSWORD": "the-ftp-password"}
    shipped = entrepot("ship", outbox(tmp_path), s3_server.url, "--no-ledger", "--max-tries", "1",
                       cwd=tmp_path, **env)  # fmt: skip
    assert shipped.returncode == 0, shipped.stderr
    listed = entrepot("ls", s3_server.url, cwd=tmp_path, **env)
    assert listed.returncode == 0, listed.stderr
    assert "a.csv" in listed.stdout
    Spool(tmp_path / "inbox").prepare()
    fetched = entrepot("fetch", s3_server.url, tmp_path / "inbox", "--no-ledger",
                       "--max-tries", "1", cwd=tmp_path, **env)  # fmt: skip
    assert fetched.returncode == 0, fetched.stderr
    assert [p.name for p in (tmp_path / "inbox" / "new").iterdir()] == ["a.csv"]


def test_an_access_key_takes_the_variable_as_its_secret(tmp_path: Path, s3_server: Any) -> None:
    env = {"ENTREPOT_PASSWORD": s3_server.secret_key}
    shipped = entrepot("ship", outbox(tmp_path), s3_server.url, "--no-ledger", "--max-tries", "1",
                       "-o", f"access_key={s3_server.access_key}", cwd=tmp_path, **env)  # fmt: skip
    assert shipped.returncode == 0, shipped.stderr


def test_a_local_folder_is_not_handed_the_variable(tmp_path: Path) -> None:
    (tmp_path / "drop").mkdir()
    shipped = entrepot("ship", outbox(tmp_path), tmp_path / "drop", "--no-ledger",
                       cwd=tmp_path, ENTREPOT_PASSWORD="unused")  # fmt: skip
    assert shipped.returncode == 0, shipped.stderr
    assert [p.name for p in (tmp_path / "drop").iterdir()] == ["a.csv"]


def test_a_secret_without_its_key_is_told_as_such(tmp_path: Path, s3_server: Any) -> None:
    listed = entrepot("ls", s3_server.url, "--password-env", "SECRET", cwd=tmp_path,
                      SECRET=s3_server.secret_key)  # fmt: skip
    assert listed.returncode == 3, listed.stderr
    assert "without its access_key" in listed.stderr
    assert "TypeError" not in listed.stderr and s3_server.secret_key not in listed.stderr
