"""An import killed with SIGKILL again and again still ends with every row in one place.

A child process runs the import with small chunks, three to a transaction,
and reports each chunk written; the test kills it after a random number of chunks (and a
random extra delay, so some kills land while files are written and
distributed), at least ten times, then lets a last run finish.  The end
state must be the one an uninterrupted run gives.
"""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from entrepot.datacenter import DataCenter, parse_schema

SCHEMA = """
[tables.people]
key = ["pid"]
[tables.people.columns]
pid = { type = "integer" }
name = { type = "text", required = true }
score = { type = "decimal" }
"""

CHILD = """
import sys
import time
from entrepot.datacenter import DataCenter, parse_schema

root, name, mode, schema_text = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
parallel = {"1": True, "0": False}.get(sys.argv[5])

def report(rows, fraction):
    sys.stdout.write(f"{rows}\\n")
    sys.stdout.flush()
    # Slow enough that the test's kill lands before the next chunks.
    time.sleep(0.004)

center = DataCenter(root, schema=parse_schema(schema_text))
result = center.import_file(
    name, "people", mode, chunk_size=25, commit_rows=75, user="crash", on_progress=report,
    parallel=parallel,
)
sys.stdout.write(f"done {result.successful} {result.failed}\\n")
sys.stdout.flush()
"""

ROWS = 1000
MIN_KILLS = 10


def _bad(number: int) -> bool:
    return number % 11 == 0


def _write_people(path: Path) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["pid", "name", "score"])
        for number in range(1, ROWS + 1):
            name = "" if _bad(number) else f'person {number}, "quoted"'
            writer.writerow([number, name, f"{number}.5"])


def _run_with_kills(
    tmp_path: Path, root: Path, name: str, mode: str, rows: int, parallel: str = "auto"
) -> int:
    """Run the import, killing it at planned points; return how many kills landed.

    With ``parallel="1"`` a worker process checks the chunks: a kill must not
    leave it holding the file's lock, or the next run would be refused.
    """
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    rng = random.Random(int(os.environ.get("ENTREPOT_CRASH_SEED", "1234")) + len(mode))
    # Kill points spread over the file (a resumed run reports the chunks it
    # skips at once, so a point behind the progress kills while resuming),
    # then one after the last chunk: while the files are distributed.
    plan = [*sorted(rng.sample(range(1, rows), MIN_KILLS + 1)), rows]
    kills = 0
    for attempt in range(len(plan) + 1):
        target = plan[attempt] if attempt < len(plan) else None
        with open(tmp_path / "child.err", "w") as errors:
            child = subprocess.Popen(
                [sys.executable, str(script), str(root), name, mode, SCHEMA, parallel],
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
            assert child.stdout is not None
            for line in child.stdout:
                if line.startswith("done"):
                    break
                if target is not None and int(line) >= target:
                    if target == rows:
                        time.sleep(rng.choice([0, 0.001, 0.003, 0.01, 0.02]))
                    child.send_signal(signal.SIGKILL)
                    break
            code = child.wait(timeout=60)
            child.stdout.close()
        if code == -signal.SIGKILL:
            kills += 1
            continue
        assert code == 0, (tmp_path / "child.err").read_text()[-3000:]
        if target is None:
            return kills
    raise AssertionError("the last run did not finish the import")


def _csv_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))[1:]


@pytest.mark.slow
@pytest.mark.parametrize("parallel", ["0", "1"], ids=["one-process", "check-worker"])
def test_create_survives_repeated_sigkill(tmp_path: Path, parallel: str) -> None:
    root = tmp_path / "dc"
    center = DataCenter(root, schema=parse_schema(SCHEMA), create=True)
    _write_people(root / "people.csv")
    original = (root / "people.csv").read_bytes()

    kills = _run_with_kills(tmp_path, root, "people.csv", "create", ROWS, parallel)
    assert kills >= MIN_KILLS

    good = [n for n in range(1, ROWS + 1) if not _bad(n)]
    bad = [n for n in range(1, ROWS + 1) if _bad(n)]
    db = center.database
    table = db.table(center.schema.table("people"))
    with db.engine.connect() as conn:
        ids = sorted(row.pid for row in conn.execute(table.select()))
    assert ids == good
    finished = _csv_rows(root / "finished" / "people.create.finished.csv")
    pending = _csv_rows(root / "people.create.pending.csv")
    assert [int(row[0]) for row in finished] == good
    assert [int(row[0]) for row in pending] == bad
    assert all(row[-1] == "name: missing, but required" for row in pending)
    assert (root / "unfinished" / "people.csv").read_bytes() == original
    assert len(center.log.search("file=people.csv")) == 1
    assert list((root / ".state" / "work").iterdir()) == []
    assert not [p for p in root.rglob(".*") if p.is_file() and ".state" not in p.parts]
    center.close()


@pytest.mark.slow
def test_remove_backs_up_each_row_once_despite_sigkill(tmp_path: Path) -> None:
    root = tmp_path / "dc"
    center = DataCenter(root, schema=parse_schema(SCHEMA), create=True)
    _write_people(root / "people.csv")
    assert center.import_file("people.csv", "people", chunk_size=500).failed == len(
        [n for n in range(1, ROWS + 1) if _bad(n)]
    )
    with open(root / "gone.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["pid"])
        for number in range(1, ROWS + 1, 2):
            writer.writerow([number])

    kills = _run_with_kills(tmp_path, root, "gone.csv", "remove", ROWS // 2)
    assert kills >= MIN_KILLS

    removed = [n for n in range(1, ROWS + 1, 2) if not _bad(n)]
    backup = _csv_rows(root / "deleted" / "people.csv")
    assert sorted(int(row[0]) for row in backup) == removed
    db = center.database
    table = db.table(center.schema.table("people"))
    with db.engine.connect() as conn:
        left = sorted(row.pid for row in conn.execute(table.select()))
    assert left == [n for n in range(2, ROWS + 1, 2) if not _bad(n)]
    pending = _csv_rows(root / "gone.remove.pending.csv")
    assert sorted(int(row[0]) for row in pending) == [n for n in range(1, ROWS + 1, 2) if _bad(n)]
    center.close()
