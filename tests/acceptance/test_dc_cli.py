"""``entrepot dc`` end to end, as an operator runs it: in a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCHEMA = """
[tables.students]
key = ["student_id"]
[tables.students.columns]
student_id = { type = "text" }
name = { type = "text", required = true }
status = { type = "choice", choices = ["active", "graduated"], default = "active" }
"""


@pytest.fixture
def dc(tmp_path: Path):  # type: ignore[no-untyped-def]
    root = tmp_path / "dc"
    env = {
        **os.environ,
        "ENTREPOT_DC_ROOT": str(root),
        "ENTREPOT_STATE_DIR": str(tmp_path / "state"),
        "COLUMNS": "200",
    }

    def run(*args: object, expect: int = 0) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "entrepot", "dc", *(str(arg) for arg in args)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
        assert proc.returncode == expect, proc.stdout + proc.stderr
        run.stdout = proc.stdout  # type: ignore[attr-defined]
        return proc.stdout + proc.stderr

    def as_json(*args: object, expect: int = 0) -> Any:
        run(*args, "--json", expect=expect)
        return json.loads(run.stdout)  # type: ignore[attr-defined]

    run.root = root  # type: ignore[attr-defined]
    run.json = as_json  # type: ignore[attr-defined]
    return run


def test_upload_import_fix_and_reimport(dc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root: Path = dc.root
    assert "data center ready" in dc("init")
    (root / "schema.toml").write_text(SCHEMA)
    source = tmp_path / "new students.csv"
    source.write_text("student_id,name\nS1,Ann\nS2,\nS3,Cid\n")

    assert "as new_students_ops.csv" in dc("upload", source, "--user", "ops")
    listing = dc("ls")
    assert "new_students_ops.csv" in listing and "34 bytes" in listing
    dc("upload", source, "--user", "ops", expect=7)

    output = dc("import", "new_students_ops.csv", "--table", "students", expect=7)
    assert "processed" in output and "│ 3" in output and "│ 1 " in output
    pending = root / "new_students_ops.create.pending.csv"
    assert "name: missing, but required" in pending.read_text()
    assert "new_students_ops.csv" in dc("ls", "unfinished")

    pending.write_text(pending.read_text().replace("S2,,", "S2,Bob,"))
    output = dc("import", pending.name, "-t", "students", "-m", "create")
    assert "failed" in output
    assert not pending.exists()
    finished = dc("ls", "finished", "--sort", "date")
    assert "new_students_ops.csv" in finished and "new_students_ops.create.finished.csv" in finished

    log = dc("log", "--grep", "failed=0")
    assert "file=new_students_ops.create.pending.csv" in log and "user=" in log

    exported = dc("export", "students", "--where", "name=Bob")
    assert "exported 1 rows" in exported
    spooled = dc("export", "students", "--to-spool", tmp_path / "spool")
    assert "exported 3 rows" in spooled
    assert len(list((tmp_path / "spool" / "new").iterdir())) == 1

    assert "retired 1 rows" in dc("retire", "students", "--where", "student_id=S1")
    assert "students.csv" in dc("ls", "graduated")

    (tmp_path / "moved").mkdir()
    assert "data center now in" in dc("move-storage", tmp_path / "moved", "--move")
    assert (tmp_path / "moved" / "finished" / "new_students_ops.csv").exists()
    assert not root.exists()


def test_errors_have_named_exit_codes(dc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root: Path = dc.root
    dc("init")
    assert "schema" in dc("import", "x.csv", "--table", "students", expect=3)
    (root / "schema.toml").write_text(SCHEMA)
    dc("import", "ghost.csv", "--table", "students", expect=4)
    (root / "bad.csv").write_text("student_id,nope\n1,2\n")
    assert "unknown columns" in dc("import", "bad.csv", "--table", "students", expect=7)
    hostile = tmp_path / "ok.csv"
    hostile.write_text("a\n")
    assert "path separator" in dc("upload", hostile, "--name", "../x.csv", expect=7)
    dc("ls", "nowhere", expect=2)
    assert "invalid regular expression" in dc("log", "--grep", "(", expect=3)


def test_every_command_answers_in_json(dc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root: Path = dc.root
    assert dc.json("init")["root"] == str(root)
    (root / "schema.toml").write_text(SCHEMA)
    source = tmp_path / "s.csv"
    source.write_text("student_id,name,status\nS1,Ann,graduated\nS2,,active\nS3,Cy,active\n")
    uploaded = dc.json("upload", source, "--user", "ops")
    assert uploaded["stored"] == "s_ops.csv" and uploaded["size"] == source.stat().st_size
    (listed,) = dc.json("ls")
    assert listed["name"] == "s_ops.csv" and listed["size"] == source.stat().st_size
    assert listed["date"].endswith("+00:00")

    imported = dc.json("import", "s_ops.csv", "-t", "students", expect=7)
    assert (imported["processed"], imported["successful"], imported["failed"]) == (3, 2, 1)
    assert imported["pending_file"].endswith("s_ops.create.pending.csv")
    failed = dc.json("import", "ghost.csv", "-t", "students", expect=4)
    assert failed["ok"] is False and failed["state"] == "backlog" and failed["exit"] == 4

    line = dc.json("log")[-1]
    assert line["action"] == "import" and line["file"] == "s_ops.csv" and line["failed"] == "1"
    assert dc.json("export", "students")["rows"] == 2
    would = dc.json("retire", "students", "--where", "status=graduated", "--dry-run")
    assert would == {"table": "students", "rows": 1, "dry_run": True, "backup": None}
    (moved := tmp_path / "moved").mkdir()
    assert dc.json("move-storage", moved)["not_copied"] == []


def test_retire_dry_run_changes_nothing(dc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root: Path = dc.root
    dc("init")
    (root / "schema.toml").write_text(SCHEMA)
    (root / "s.csv").write_text("student_id,name,status\nS1,Ann,graduated\nS2,Bo,active\n")
    dc("import", "s.csv", "-t", "students")
    assert "would retire 1 rows of students; nothing changed" in dc(
        "retire", "students", "--where", "status=graduated", "--dry-run"
    )
    assert list((root / "graduated").iterdir()) == []
    assert "exported 2 rows" in dc("export", "students")


def test_the_import_log_names_the_ledger_job(dc) -> None:  # type: ignore[no-untyped-def]
    root: Path = dc.root
    dc("init")
    (root / "schema.toml").write_text(SCHEMA)
    (root / "s.csv").write_text("student_id,name\nS1,Ann\n")
    imported = dc.json("import", "s.csv", "-t", "students")
    (line,) = dc.json("log")
    assert line["job"] == imported["job_id"]
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{3}Z-\d{6}-[0-9a-f]{8}", imported["job_id"])


def test_names_are_printed_as_they_are(dc) -> None:  # type: ignore[no-untyped-def]
    root: Path = dc.root
    dc("init")
    (root / "in[reverse]voice.csv").write_text("a\n")
    (root / "a\x1b[2Jb.csv").write_text("a\n")
    (root / "c[b]d.csv").write_text("a\n")
    listing = dc("ls")
    assert "in[reverse]voice.csv" in listing and "c[b]d.csv" in listing
    assert "\x1b" not in listing and "a\\x1b[2Jb.csv" in listing


def test_an_import_option_outside_its_choices_is_a_usage_error(dc) -> None:  # type: ignore[no-untyped-def]
    dc("init")
    said = dc("import", "x.csv", "-t", "students", "--mode", "upsert", expect=2)
    assert "'upsert' is not one of 'create', 'update', 'remove'" in said
    said = dc("import", "x.csv", "-t", "students", "--reader", "pandas", expect=2)
    assert "'pandas' is not one of 'arrow', 'csv'" in said
    # Choices given are taken: no schema yet (3), not an option refused.
    said = dc("import", "x.csv", "-t", "students", "--mode", "update", "--empty", "clear", expect=3)
    assert "no table schema" in said


def test_an_import_mistake_is_told_before_any_job_is_recorded(  # type: ignore[no-untyped-def]
    dc, tmp_path: Path
) -> None:
    root: Path = dc.root
    dc("init")
    (root / "x.csv").write_text("student_id,name\nS1,Ann\n")
    # Each is the command line's mistake: told with its code, and no job waits for it.
    said = dc("import", "x.csv", "-t", "students", "--root", tmp_path / "nowhere", expect=4)
    assert "the data center root" in said and "does not exist" in said
    assert "backlog" not in said
    assert "no table schema" in dc("import", "x.csv", "-t", "students", expect=3)
    (root / "schema.toml").write_text(SCHEMA)
    said = dc("import", "x.csv", "-t", "teachers", expect=3)
    assert "no table 'teachers' in the schema (tables: students)" in said
    missing = tmp_path / "missing.toml"
    said = dc("import", "x.csv", "-t", "students", "--schema", missing, expect=3)
    assert "no table schema" in said
    unset = ("--db", "postgresql://ops@127.0.0.1:9/dc", "--db-password-env", "ENTREPOT_TEST_UNSET")
    said = dc("import", "x.csv", "-t", "students", *unset, expect=3)
    assert "ENTREPOT_TEST_UNSET that should hold the database password is unset" in said
    said = dc("import", "x.csv", "-t", "students", "--max-field", "99999999999999999999", expect=2)
    assert "larger than 9,223,372,036,854,775,807 bytes" in said
    assert not (tmp_path / "state").exists(), "a mistake opened the ledger"

    # The same import, right: one job, recorded and done; a missing file still waits.
    dc("import", "x.csv", "-t", "students")
    dc("import", "ghost.csv", "-t", "students", expect=4)
    env = {**os.environ, "ENTREPOT_STATE_DIR": str(tmp_path / "state")}
    listed = subprocess.run(
        [sys.executable, "-m", "entrepot", "jobs", "ls", "--json"],
        capture_output=True, text=True, env=env, check=True, timeout=120,
    )  # fmt: skip
    jobs = json.loads(listed.stdout)
    assert sorted((job["params"]["file"], job["state"]) for job in jobs) == [
        ("ghost.csv", "backlog"),
        ("x.csv", "succeeded"),
    ]


def test_moving_the_storage_where_it_cannot_go_is_a_setting_told(dc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dc("init")
    (tmp_path / "a-file").write_text("in the way")
    assert "is not a folder" in dc("move-storage", tmp_path / "a-file", expect=3)
    (dc.root / "inner").mkdir()
    assert "inside the other" in dc("move-storage", dc.root / "inner", expect=3)
    assert "does not exist" in dc("move-storage", tmp_path / "nowhere", expect=4)
