"""The import tests again, with the chunks checked in a second process.

Every test of ``tests/unit/test_dc_import.py`` and ``test_dc_import_input.py``
runs here with the check worker of
:mod:`entrepot.datacenter.imports.check_ahead` forced on, whatever the file
size, so both ways of checking must give the same results.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from entrepot.datacenter.imports import check_ahead
from tests.unit.dc_imports import SCHEMA, put, rows_of
from tests.unit.test_dc_import import *  # noqa: F403 - the shared import tests
from tests.unit.test_dc_import_input import *  # noqa: F403 - and those of bad input


@pytest.fixture(autouse=True)
def checks_in_a_worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Force the worker on; the list counts the workers started."""
    started: list[object] = []
    real = check_ahead.CheckWorker

    def counted(*args: object, **kwargs: object) -> object:
        started.append(True)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(check_ahead, "worth_a_worker", lambda source: True)
    monkeypatch.setattr(check_ahead, "CheckWorker", counted)
    yield started


def test_a_worker_checks_every_chunk_as_the_importer_would(
    tmp_path: Path, checks_in_a_worker: list[object]
) -> None:
    from entrepot.datacenter import DataCenter, parse_schema

    lines = ["student_id,name,born,level"]
    for number in range(1, 400):
        born = "2001-02-30" if number % 37 == 0 else "2001-02-03"
        name = "" if number % 53 == 0 else f"n{number}"
        # Keys repeat across chunks now and then: the worker must remember them.
        key = number - 150 if number % 41 == 0 and number > 150 else number
        lines.append(f"S{key:04d},{name},{born},{number % 7}")
    content = "\n".join(lines) + "\n"
    results = {}
    for parallel in (False, True):
        root = tmp_path / str(parallel)
        center = DataCenter(root, schema=parse_schema(SCHEMA), create=True)
        try:
            put(center, "s.csv", content)
            result = center.import_file("s.csv", "students", chunk_size=30, parallel=parallel)
            pending = (root / "s.create.pending.csv").read_text()
            results[parallel] = (
                result.successful,
                result.failed,
                pending,
                rows_of(center, "students"),
            )
        finally:
            center.close()
    assert len(checks_in_a_worker) == 1
    assert results[True] == results[False]
    assert results[True][1] > 10 and "key given twice in this file" in results[True][2]
