"""Helpers of the data center's hostile tests: a data center, the command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.hostile._peak import MEASURED, peak_bytes

SCHEMA = """
[tables.students]
key = ["student_id"]
[tables.students.columns]
student_id = { type = "text" }
name = { type = "text" }
status = { type = "choice", choices = ["active", "graduated"], default = "active" }
"""


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    @property
    def peak_rss(self) -> int:
        """Peak resident memory of the command, in bytes (with ``measured=True``)."""
        return peak_bytes(self.err)


def make_root(tmp_path: Path, schema: str = SCHEMA) -> Path:
    root = tmp_path / "dc"
    for name in ("", "deleted", "finished", "graduated", "logs", "unfinished"):
        (root / name).mkdir(exist_ok=True)
    (root / "schema.toml").write_text(schema)
    return root


def entrepot(
    tmp_path: Path, *args: object, env: dict[str, str] | None = None, measured: bool = False
) -> Ran:
    """``entrepot ARGS`` in a subprocess, with its own state folder."""
    command = [sys.executable, "-c", MEASURED] if measured else [sys.executable, "-m", "entrepot"]
    proc = subprocess.run(
        [*command, *(str(arg) for arg in args)],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "ENTREPOT_STATE_DIR": str(tmp_path / "state"),
            "COLUMNS": "200",
            **(env or {}),
        },
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    return Ran(proc.returncode, proc.stdout, proc.stderr)
