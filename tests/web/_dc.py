"""Helpers of the data center page tests: a data center with a small schema."""

from __future__ import annotations

from pathlib import Path

from entrepot.datacenter import DataCenter

SCHEMA = """
[tables.students]
key = ["student_id"]
[tables.students.columns]
student_id = { type = "regex", pattern = "S[0-9]{4}" }
name = { type = "text", required = true }
status = { type = "choice", choices = ["active", "graduated"], default = "active" }
"""

#: Two good rows and two bad ones (a bad key, a missing name).
STUDENTS = "student_id,name\nS0001,Ann\nX1,Bad Key\nS0002,\nS0003,Cy\n"


def make_center(tmp_path: Path) -> DataCenter:
    root = tmp_path / "dc"
    DataCenter(root, create=True)
    (root / "schema.toml").write_text(SCHEMA)
    return DataCenter(root)
