"""An archive section's listing: its own archives only (never a link), newest name first
across its folder and its spool, a page at a time, and read again when a folder changes."""

from __future__ import annotations

import os
from pathlib import Path

from entrepot.service.config import Config
from entrepot.web.archives_data import FILES_PER_PAGE, archive_files, section_summary

TEMPLATE = "ev-%Y%m%d-{seq}.events"


def _config(root: Path) -> Config:
    for folder in ("events", "spool/new", "spool/cur"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    return Config.model_validate({
        "spools": {"s": {"path": str(root / "spool")}},
        "archives": {"a": {"folder": str(root / "events"), "template": TEMPLATE, "spool": "s"}},
    })  # fmt: skip


def test_names_are_matched_sorted_merged_and_paged(tmp_path: Path) -> None:
    config = _config(tmp_path)
    cur, new, events = tmp_path / "spool/cur", tmp_path / "spool/new", tmp_path / "events"
    for day in range(1, 29):
        (cur / f"ev-202612{day:02d}-{day}.events.zst").touch()
    (new / "ev-20261230-30.events.gz").touch()
    (events / "ev-20261231-31.events.open").touch()
    (events / "notes.txt").touch()
    (cur / "ev-20261229-29.events.zst.tmp").touch()
    os.symlink("/etc/passwd", cur / "ev-20261299-99.events")
    first = archive_files(config, "a", 1)
    assert [f.name for f in first.open] == ["ev-20261231-31.events.open"]
    assert first.files[0].name == "ev-20261230-30.events.gz" and first.files[0].area == "new"
    assert [f.name for f in first.files[1:3]] == ["ev-20261228-28.events.zst",
                                                  "ev-20261227-27.events.zst"]  # fmt: skip
    assert len(first.files) == FILES_PER_PAGE and first.has_next
    second = archive_files(config, "a", 2)
    assert [f.name for f in second.files] == [
        f"ev-202612{d:02d}-{d}.events.zst" for d in (4, 3, 2, 1)
    ]
    assert not second.has_next
    assert section_summary(config, "a")["files"] == {"folder": 1, "new": 1, "cur": 28}
    # A folder that changes is listed again.
    (new / "ev-20270101-32.events").touch()
    assert archive_files(config, "a", 1).files[0].name == "ev-20270101-32.events"
    (new / "ev-20270101-32.events").unlink()
    assert section_summary(config, "a")["files"]["new"] == 1
