"""Encodings: a codec that cannot decode text is a usage error; bad text names its file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from entrepot.datacenter import DataCenter, ImportOptions, UploadPolicy
from entrepot.datacenter.encodings import check_encoding
from entrepot.errors import ConfigError, ImportFailed
from entrepot.jobs import Ledger

SCHEMA = """
[tables.people]
key = ["pid"]
[tables.people.columns]
pid = { type = "integer" }
name = { type = "text" }
"""

NOT_TEXT = ["rot13", "base64", "hex", "zip", "undefined", "klingon"]
# UTF-16 without a byte order mark: Python's utf-16 decoder needs one.
NO_BOM = "pid,name\n1,Ann\n".encode("utf-16-le")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "dc"
    DataCenter(root, create=True).close()
    (root / "schema.toml").write_text(SCHEMA)
    return root


@pytest.mark.parametrize("encoding", NOT_TEXT)
def test_an_encoding_that_cannot_decode_text_is_refused_at_once(encoding: str) -> None:
    with pytest.raises(ConfigError, match=repr(encoding)):
        check_encoding(encoding)
    with pytest.raises(ConfigError):
        UploadPolicy(encoding=encoding)
    with pytest.raises(ConfigError):
        ImportOptions(encoding=encoding)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"])
def test_text_encodings_are_taken(encoding: str) -> None:
    assert check_encoding(encoding) == encoding


@pytest.mark.parametrize("encoding", NOT_TEXT)
def test_the_command_line_says_so_without_a_traceback_or_a_job(
    root: Path, tmp_path: Path, cli: Any, encoding: str
) -> None:
    upload = tmp_path / "a.csv"
    upload.write_text("pid,name\n1,Ann\n")
    (root / "c.csv").write_text("pid,name\n1,Ann\n")
    state = tmp_path / "state"

    code, out, err = cli("dc", "upload", upload, "--root", root, "--encoding", encoding)
    assert code == 3, out + err
    assert "Traceback" not in err and not (root / "a_root.csv").exists()
    code, out, err = cli(
        "dc", "import", "c.csv", "-t", "people", "--root", root, "--encoding", encoding,
        "--state", state,
    )  # fmt: skip
    assert code == 3, out + err
    assert "Traceback" not in err
    ledger = Ledger.open(state)
    try:
        assert ledger.jobs() == []
    finally:
        ledger.close()


def test_text_that_does_not_decode_is_refused_with_its_file(
    root: Path, tmp_path: Path, cli: Any
) -> None:
    upload = tmp_path / "a16.csv"
    upload.write_bytes(NO_BOM)
    (root / "b.csv").write_bytes(NO_BOM)

    code, out, err = cli(
        "dc", "upload", upload, "--root", root, "--encoding", "utf-16", "--user", "u"
    )
    assert code == 7, out + err
    assert "'a16_u.csv' is not valid utf-16 text" in err and "Traceback" not in err
    with DataCenter(root) as center, pytest.raises(ImportFailed, match=r"b\.csv: not valid utf-16"):
        center.import_file("b.csv", "people", encoding="utf-16")
    code, out, err = cli(
        "dc", "import", "b.csv", "-t", "people", "--root", root, "--encoding", "utf-16",
        "--no-ledger",
    )  # fmt: skip
    assert code == 7, out + err
    assert "b.csv: not valid utf-16 text" in err
