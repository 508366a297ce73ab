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


def test_a_csv_receipt_never_hands_a_spreadsheet_a_formula_named_by_a_file(
    tmp_path: Path,
) -> None:
    import csv

    drop = tmp_path / "drop"
    drop.mkdir()
    names = ['=HYPERLINK("http:evil")', "@SUM(A1)", "+cmd", "-2+3", "-5", "a=b.csv"]
    for name in names:
        (tmp_path / name).write_text(name)
    entrepot(tmp_path, "spool", "put", "--create", "out", "--", *names)
    entrepot(tmp_path, "ship", "out", drop.as_uri())
    assert sorted(path.name for path in drop.iterdir()) == sorted(names)

    rows = list(csv.DictReader(entrepot(tmp_path, "receipt", "out").splitlines()))
    # The formulas get the apostrophe a spreadsheet shows as text; "-5" is a number.
    shown = {"-5": "-5", "a=b.csv": "a=b.csv"}
    assert sorted((row["name"], row["remote_name"]) for row in rows) == sorted(
        (shown.get(name, "'" + name),) * 2 for name in names
    )
    for row in rows:
        data = (drop / shown.get(row["name"], row["name"][1:])).read_bytes()
        assert row["sha256"] == hashlib.sha256(data).hexdigest()
    exact = json.loads(entrepot(tmp_path, "receipt", "out", "--format", "json"))
    assert sorted((row["name"], row["remote_name"]) for row in exact) == sorted(
        (name, name) for name in names
    )


ROUTES = """\
[service]
state = "{root}/state"

[spools.outbox]
path = "{root}/outbox"

[targets.partner-a]
url = "{root_uri}/drop-a"

[targets.partner-ab]
url = "{root_uri}/drop-ab"

[routes.to-a]
spool = "outbox"
target = "partner-a"
every = "1h"

[routes.to-ab]
spool = "outbox"
target = "partner-ab"
every = "1h"
"""


def test_a_routes_receipt_lists_its_own_deliveries_from_the_configurations_ledger(
    tmp_path: Path,
) -> None:
    # One spool, two routes: each partner's manifest must not list the other's files
    # (and drop-a's URL is the start of drop-ab's).
    config = tmp_path / "entrepot.toml"
    config.write_text(ROUTES.format(root=tmp_path, root_uri=tmp_path.as_uri()))
    for drop in ("drop-a", "drop-ab"):
        (tmp_path / drop).mkdir()
    source = tmp_path / "for-a.csv"
    source.write_text("a\n")
    entrepot(tmp_path, "spool", "put", "--create", "outbox", source, "--config", config)
    entrepot(tmp_path, "ship", "to-a", "--config", config)
    source = tmp_path / "for-ab.csv"
    source.write_text("ab\n")
    entrepot(tmp_path, "spool", "put", "outbox", source, "--config", config)
    entrepot(tmp_path, "ship", "to-ab", "--config", config)
    # The service's ledger, named by the configuration (not the default state folder).
    names = {}
    for argument in ("to-a", "to-ab", "outbox"):
        text = entrepot(tmp_path, "receipt", argument, "--config", config, "--format", "json")
        names[argument] = [row["name"] for row in json.loads(text)]
    assert names == {"to-a": ["for-a.csv"], "to-ab": ["for-ab.csv"],
                     "outbox": ["for-a.csv", "for-ab.csv"]}  # fmt: skip
    traced = json.loads(entrepot(tmp_path, "trace", "*", "--route", "to-a", "--config", config,
                                 "--json"))  # fmt: skip
    assert sorted(journey["name"] for journey in traced) == ["for-a.csv", "for-ab.csv"]

    output = tmp_path / "receipt-a.csv"
    said = entrepot(tmp_path, "receipt", "to-a", "--config", config, "-o", output)
    assert said == f"1 delivery written to {output}\n"
    assert output.read_text().splitlines()[1].startswith("for-a.csv,2,")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_receipt_of_nothing_that_exists_fails(tmp_path: Path) -> None:
    config = tmp_path / "entrepot.toml"
    config.write_text(ROUTES.format(root=tmp_path, root_uri=tmp_path.as_uri()))
    proc = subprocess.run(
        [sys.executable, "-m", "entrepot", "receipt", "to-b", "--config", str(config)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 4 and proc.stdout == ""
    assert "no route or spool named 'to-b'" in proc.stderr and "did you mean 'to-ab'" in proc.stderr
    # A folder that is not there and never delivered anything: a typo, not an empty receipt.
    missing = entrepot(tmp_path, "receipt", "./outbx", "--since", "1d", expect=4)
    assert missing == ""
