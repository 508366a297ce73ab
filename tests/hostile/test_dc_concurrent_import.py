"""Two imports of one file at once (issue 10, item 20).

The second ``dc import`` of a file that another process is importing is a
temporary condition: it exits 5 and its job waits in the backlog, deferred
(not a failure of the file), and a later retry converges.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from entrepot.jobs import JobState, Ledger, Outcome
from tests.hostile._dc import SCHEMA, entrepot, make_root

#: Imports the file and holds it, between its first and second chunk, until told.
HOLDER = """
import sys, time
from pathlib import Path
from entrepot.datacenter import DataCenter, parse_schema

root, schema, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])

def hold(rows, fraction):
    print("holding", flush=True)
    while not go.exists():
        time.sleep(0.05)

center = DataCenter(root, schema=parse_schema(schema))
result = center.import_file("s.csv", "students", chunk_size=2, on_progress=hold)
print("done", result.successful, flush=True)
"""


def test_a_second_import_of_a_file_being_imported_exits_5_and_waits(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root / "s.csv").write_text("student_id,name\nS1,a\nS2,b\nS3,c\nS4,d\n")
    go = tmp_path / "go"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root), SCHEMA, str(go)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"

        second = entrepot(tmp_path, "dc", "import", "s.csv", "--root", root, "-t", "students")

        assert second.code == 5, second.text
        assert "being imported by another process" in second.err
        with Ledger.open(tmp_path / "state") as ledger:
            (job,) = ledger.jobs()
            runs = ledger.runs(job.id)
        assert job.state is JobState.BACKLOG and job.failures == 0
        assert runs[-1].outcome is Outcome.DEFERRED and runs[-1].transient is True
    finally:
        go.touch()
        out, _ = holder.communicate(timeout=120)
    assert holder.returncode == 0 and "done 4" in out

    # Once the first import is over, the job left waiting converges.
    retried = entrepot(tmp_path, "backlog", "retry", job.id)
    assert retried.code == 0, retried.text
    with Ledger.open(tmp_path / "state") as ledger:
        assert ledger.get(job.id).state is JobState.SUCCEEDED
    assert (root / "finished" / "s.csv").exists()
