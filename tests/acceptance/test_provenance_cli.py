"""``entrepot trace`` and ``receipt`` as an operator runs them: in a subprocess.

A CSV's journey through ``dc upload`` → ``dc import`` with bad rows → the
pending file, and the files of a spool shipped to a local folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.acceptance.test_dc_cli import SCHEMA


def entrepot(tmp_path: Path, *args: object, expect: int = 0) -> str:
    env = {**os.environ, "ENTREPOT_STATE_DIR": str(tmp_path / "state"), "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "entrepot", *(str(arg) for arg in args)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == expect, proc.stdout + proc.stderr
    return proc.stdout


def test_a_csvs_journey_through_upload_and_import_with_bad_rows(tmp_path: Path) -> None:
    root = tmp_path / "dc"
    entrepot(tmp_path, "dc", "init", "--root", root)
    (root / "schema.toml").write_text(SCHEMA)
    source = tmp_path / "new students.csv"
    source.write_text("student_id,name\nS1,Ann\nS2,\nS3,Cid\n")
    entrepot(tmp_path, "dc", "upload", source, "--user", "ops", "--root", root)
    name = "new_students_ops.csv"
    entrepot(tmp_path, "dc", "import", name, "--table", "students", "--root", root, expect=7)

    (journey,) = json.loads(entrepot(tmp_path, "trace", name, "--json"))
    uploaded, imported = journey["events"]
    assert (uploaded["kind"], imported["kind"]) == ("uploaded", "imported")
    assert uploaded["checksum"] == "sha256:" + hashlib.sha256(source.read_bytes()).hexdigest()
    assert uploaded["size"] == source.stat().st_size
    assert uploaded["details"] == {"source": str(source), "user": "ops"}
    pending = "new_students_ops.create.pending.csv"
    assert imported["details"] == {
        "table": "students", "mode": "create", "rows": 3, "rows_ok": 2, "rows_failed": 1,
        "pending": pending, "finished": "new_students_ops.create.finished.csv",
    }  # fmt: skip
    assert imported["job_id"] and imported["attempt"] == 1
    assert journey["verdict"].endswith(f"2 rows ok, 1 failed (in {pending})")
    assert (root / pending).exists()
    lines = entrepot(tmp_path, "trace", "new_*").splitlines()
    assert len(lines) == 4 and lines[0] == f"{os.path.realpath(root)}/{name}"


@pytest.mark.parametrize("form", ["csv", "json"])
def test_a_receipt_of_what_a_spool_delivered(tmp_path: Path, form: str) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    files = {}
    for number in range(3):
        files[f"f{number}.txt"] = path = tmp_path / f"f{number}.txt"
        path.write_text(f"content {number}\n")
    entrepot(tmp_path, "spool", "put", "--create", "out", *files.values())
    entrepot(tmp_path, "ship", "out", drop.as_uri())
    output = tmp_path / f"receipt.{form}"
    entrepot(tmp_path, "receipt", "out", "--since", "1h", "--format", form, "-o", output)
    if form == "json":
        rows = json.loads(output.read_text())
    else:
        import csv

        rows = list(csv.DictReader(output.read_text().splitlines()))
    assert [row["name"] for row in rows] == sorted(files)
    for row in rows:
        data = (drop / row["name"]).read_bytes()
        assert row["sha256"] == hashlib.sha256(data).hexdigest()
        assert str(row["remote_size"]) == str(len(data)) and row["target"] == drop.as_uri()
    assert entrepot(tmp_path, "receipt", "out", "--since", "yesterday", expect=3) == ""
