"""What ``dc import`` is given: a file of the root, and a header it can report in a few lines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from entrepot.datacenter import DataCenter
from entrepot.errors import ImportFailed

SCHEMA = """
[tables.students]
key = ["sid"]
[tables.students.columns]
sid = { type = "text" }
name = { type = "text" }
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "dc"
    DataCenter(root, create=True).close()
    (root / "schema.toml").write_text(SCHEMA)
    return root


def test_a_path_outside_the_root_is_refused_never_read_as_the_roots_file(
    root: Path, tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root / "students.csv").write_text("sid,name\nS1,OLD\n")
    (tmp_path / "incoming").mkdir()
    (tmp_path / "incoming" / "students.csv").write_text("sid,name\nS2,NEW\n")
    monkeypatch.chdir(tmp_path)
    args = ("-t", "students", "--root", root, "--no-ledger")

    code, out, err = cli("dc", "import", "incoming/students.csv", *args)

    assert code == 3, out + err
    assert "not in the data center root" in err
    assert (root / "students.csv").exists() and not os.listdir(root / "finished")


@pytest.mark.parametrize("given", ["dc/students.csv", "./dc/students.csv", "students.csv"])
def test_a_path_to_the_roots_file_imports_that_file(
    root: Path, tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    (root / "students.csv").write_text("sid,name\nS1,Ann\n")
    monkeypatch.chdir(root if "/" not in given else tmp_path)

    code, out, err = cli("dc", "import", given, "-t", "students", "--root", root, "--no-ledger")

    assert code == 0, out + err
    assert (root / "finished" / "students.csv").exists()


def test_a_header_of_many_unknown_columns_is_reported_in_a_few_names(root: Path) -> None:
    titles = [f"extra{n}" for n in range(5000)] + ["x" * 10_000]
    (root / "wide.csv").write_text("sid," + ",".join(titles) + "\n")

    with DataCenter(root) as center, pytest.raises(ImportFailed) as caught:
        center.import_file("wide.csv", "students")

    message = str(caught.value)
    assert len(message) < 1000
    assert "extra0, extra1" in message and "extra9" in message and "extra10," not in message
    assert "… and 4,991 more" in message
