"""The names the shoebox facade gives archives: spaces, '/' and ':' become '_', as in shoebox."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from entrepot.archive.naming import Template
from entrepot.compat.shoebox import (
    NeverRollChecker,
    NoMoreFiles,
    ReadingRollManager,
    TimeRollChecker,
    WritingRollManager,
)
from entrepot.errors import ConfigError

#: 2026-12-07 17:59:52 UTC, a Monday.
WHEN = 1796666392.0


def _written(tmp_path: Path, template: str) -> list[str]:
    writer = WritingRollManager(template, NeverRollChecker(), directory=str(tmp_path))
    writer.write({"i": "0"}, "p")
    writer.close()
    return sorted(path.name for path in tmp_path.iterdir())


def test_the_seeds_template_makes_a_name_without_spaces_or_colons(tmp_path: Path) -> None:
    [name] = _written(tmp_path, "test_%c.events")
    assert name.startswith("test_") and name.endswith(".events")
    assert not {" ", ":", "/"} & set(name)
    reader = ReadingRollManager("test_*.events", directory=str(tmp_path))
    assert reader.read() == ({"i": "0"}, "p")


def test_a_template_whose_time_holds_slashes_makes_one_file_name(tmp_path: Path) -> None:
    [name] = _written(tmp_path, "%D.events")
    assert name == time.strftime("%D", time.gmtime()).replace("/", "_") + ".events"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("test_%c.events", "test_Mon_Dec__7_17_59_52_2026.events"),
        ("%D.events", "12_07_26.events"),
        ("at %H:%M.events", "at_17_59.events"),
        ("100%% {seq}.events", "100%_0.events"),
        ("ev-%Y%m%dT%H%M%S-{seq:03d}.events", "ev-20261207T175952-000.events"),
    ],
)
def test_names_as_shoebox_made_them(tmp_path: Path, template: str, expected: str) -> None:
    writer = WritingRollManager(template, NeverRollChecker(), directory=str(tmp_path))
    assert writer._writer.template.render(0, WHEN) == expected


def test_the_core_archive_names_keep_their_characters() -> None:
    assert Template("at %H:%M {seq}.events").render(0, WHEN) == "at 17:59 0.events"


def test_names_rolled_in_the_same_second_stay_distinct(tmp_path: Path) -> None:
    writer = WritingRollManager("%D.events", TimeRollChecker(roll_minutes=0), str(tmp_path))
    for index in range(3):
        writer.write({"i": str(index)}, "p")
    writer.close()
    assert len(writer.finished) == 3
    reader = ReadingRollManager("*.events", directory=str(tmp_path))
    seen = []
    while True:
        try:
            seen.append(reader.read()[0]["i"])
        except NoMoreFiles:
            break
    assert sorted(seen) == ["0", "1", "2"]


@pytest.mark.parametrize("template", ["../%c.events", "a/b.events", "{start}.events"])
def test_templates_that_leave_the_folder_or_are_unknown_are_still_refused(
    tmp_path: Path, template: str
) -> None:
    with pytest.raises(ConfigError):
        WritingRollManager(template, NeverRollChecker(), directory=str(tmp_path))
