"""A ``file://`` target's folder listed while a consumer removes files from it.

Found by the fleet's end-to-end test: a route shipping into the data
center's watched folder lists that folder while the watcher removes the
files it imported; an entry gone between reading the folder and its
``stat`` failed the whole run with "No such remote folder or file".
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from entrepot.targets import open_target


def test_a_file_removed_while_the_folder_is_listed_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a.csv", "b.csv", "c.csv"):
        (tmp_path / name).write_text(name)
    scandir = os.scandir

    @contextmanager
    def read_then_lose_b(fd: Any) -> Iterator[list[os.DirEntry[str]]]:
        with scandir(fd) as entries:
            found = list(entries)
        (tmp_path / "b.csv").unlink()  # taken by the consumer after the folder was read
        yield found

    with open_target(tmp_path.as_uri()) as target:
        monkeypatch.setattr(os, "scandir", read_then_lose_b)
        listed = target.list()
        monkeypatch.undo()
    assert [entry.name for entry in listed] == ["a.csv", "c.csv"]
