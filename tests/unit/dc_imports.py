"""What the import tests share: the schema, the data center, files put into it.

The fixtures reach the tests by the star imports of ``test_dc_import.py`` and
``test_dc_import_input.py``, and through them of the modules that run those
tests again (``test_dc_import_parallel.py``,
``tests/integration/test_dc_postgres.py``, which overrides ``db_url``).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from entrepot.datacenter import DataCenter, parse_schema

__all__ = ["SCHEMA", "add_courses", "center", "db_url", "put", "read_csv", "rows_of"]

SCHEMA = """
[tables.courses]
key = ["code"]
[tables.courses.columns]
code = { type = "text" }
title = { type = "text", required = true }

[tables.students]
key = ["student_id"]
[tables.students.columns]
student_id = { type = "regex", pattern = "^S[0-9]{4}$" }
name = { type = "text", required = true }
born = { type = "date" }
fee = { type = "decimal", default = "0" }
active = { type = "boolean", default = true }
status = { type = "choice", choices = ["active", "graduated"], default = "active" }
level = { type = "integer" }
seen = { type = "datetime" }
course = { type = "text", references = "courses.code" }
notes = { type = "text" }

[tables.prices]
key = ["amount"]
[tables.prices.columns]
amount = { type = "decimal" }
label = { type = "text" }

[tables.marks]
key = ["student_id", "course"]
[tables.marks.columns]
student_id = { type = "text" }
course = { type = "text" }
mark = { type = "integer", required = true }
"""


@pytest.fixture
def db_url() -> str | None:
    """None: the default SQLite file in the data center's state folder."""
    return None


@pytest.fixture
def center(tmp_path: Path, db_url: str | None) -> Any:
    center = DataCenter(tmp_path / "dc", database=db_url, schema=parse_schema(SCHEMA), create=True)
    yield center
    center.close()


def put(center: DataCenter, name: str, text: str | bytes) -> str:
    """Place a file in the root directly (bypassing upload checks)."""
    path = center.root / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return name


def rows_of(center: DataCenter, table: str) -> list[dict[str, Any]]:
    db = center.database
    sql_table = db.table(center.schema.table(table))
    with db.engine.connect() as conn:
        key = [sql_table.c[name] for name in center.schema.table(table).key]
        return [dict(row._mapping) for row in conn.execute(select(sql_table).order_by(*key))]


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def add_courses(center: DataCenter) -> None:
    put(center, "courses.csv", "code,title\nMATH,Maths\nPHYS,Physics\n")
    assert center.import_file("courses.csv", "courses").all_ok
