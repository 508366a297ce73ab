"""An import killed with SIGKILL around its provenance loses no event and doubles none.

The command ``entrepot dc import`` runs in a subprocess whose process kills
itself (SIGKILL) at one named point — the code path is otherwise the real
one: after the import's last commit but before its events are written, or
after they are written but before the job is marked done.  The backlog
re-run (``entrepot backlog retry``) then finishes the job; the trace must
hold ``uploaded`` then ``imported`` (then ``removed`` in remove mode), each
once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.acceptance.test_dc_cli import SCHEMA

#: Runs the command line, with a kill at the point named by argv[1].
CHILD = """
import os, signal, sys
from entrepot.datacenter.imports import import_job

point, argv = sys.argv[1], sys.argv[2:]
real_record, real_steps = import_job.ImportJob._record_result, import_job.record_steps

def before_events(self, ctx):
    os.kill(os.getpid(), signal.SIGKILL)

def after_events(*args, **kwargs):
    real_steps(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)

if point == "before-events":
    import_job.ImportJob._record_result = before_events
else:
    import_job.record_steps = after_events
from entrepot.cli import main
sys.exit(main(argv))
"""


def _run(
    tmp_path: Path, *argv: object, child: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENTREPOT_STATE_DIR": str(tmp_path / "state"), "COLUMNS": "200"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    head = [sys.executable, "-c", CHILD, child] if child else [sys.executable, "-m", "entrepot"]
    return subprocess.run(
        [*head, *(str(arg) for arg in argv)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("point", ["before-events", "after-events"])
@pytest.mark.parametrize("mode", ["create", "remove"])
def test_a_killed_import_is_traced_once_after_its_backlog_rerun(
    tmp_path: Path, point: str, mode: str
) -> None:
    root = tmp_path / "dc"
    assert _run(tmp_path, "dc", "init", "--root", root).returncode == 0
    (root / "schema.toml").write_text(SCHEMA)
    source = tmp_path / "s.csv"
    if mode == "remove":  # the rows to remove, imported first
        (tmp_path / "first.csv").write_text("student_id,name\nS1,Ann\nS3,Cid\n")
        first = ("dc", "upload", "first.csv", "--user", "ops", "--root", root)
        assert _run(tmp_path, *first).returncode == 0
        argv = ("dc", "import", "first_ops.csv", "--table", "students", "--root", root)
        assert _run(tmp_path, *argv).returncode == 0
    source.write_text("student_id,name\nS1,Ann\nS2,\nS3,Cid\n")
    assert _run(tmp_path, "dc", "upload", source, "--user", "ops", "--root", root).returncode == 0
    argv = ["dc", "import", "s_ops.csv", "--table", "students", "--mode", mode, "--root", root]
    killed = _run(tmp_path, *argv, child=point)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    rerun = _run(tmp_path, "backlog", "retry", "--all", "--force", "--json")
    assert rerun.returncode in (0, 7), rerun.stdout + rerun.stderr
    (journey,) = json.loads(_run(tmp_path, "trace", "s_ops.csv", "--json").stdout)
    kinds = [event["kind"] for event in journey["events"]]
    expected = ["uploaded", "imported"] + (["removed"] if mode == "remove" else [])
    assert kinds == expected
    imported = journey["events"][1]
    assert imported["size"] in (None, source.stat().st_size)  # never a wrong one
    assert imported["details"]["rows_ok"] + imported["details"]["rows_failed"] == 3
